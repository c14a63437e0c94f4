import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { samplerFor } from './sampler';
import type { TracingSettings } from './tracing';

/**
 * The SDK's provider: spans sampled, batched and exported over OTLP/HTTP. Loaded by
 * `createTracing` (./tracing.ts) only when traces are asked for.
 */
export function sdkTracerProvider(settings: TracingSettings): BasicTracerProvider {
  const exporter = new OTLPTraceExporter({
    url: `${settings.endpoint.replace(/\/+$/, '')}/v1/traces`,
    timeoutMillis: 10_000,
  });
  return new BasicTracerProvider({
    sampler: samplerFor(settings.sampler, settings.ratio),
    resource: resourceFromAttributes({
      'service.name': settings.serviceName,
      'service.version': settings.serviceVersion,
    }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        maxQueueSize: settings.maxQueueSize ?? 8_192,
        maxExportBatchSize: 512,
        scheduledDelayMillis: settings.scheduledDelayMs ?? 2_000,
        exportTimeoutMillis: 10_000,
      }),
    ],
  });
}
