import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { installContextManager, PROPAGATOR, TRACER_NAME, type Tracing } from './context';
import { samplerFor } from './sampler';
import type { TraceSamplerName } from './sampler-names';

export interface TracingSettings {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans go to `<endpoint>/v1/traces` as OTLP/HTTP JSON. */
  endpoint: string;
  sampler: TraceSamplerName;
  /** OTEL_TRACES_SAMPLER_ARG: the share of new traces the ratio samplers keep. */
  ratio: number;
  serviceName: string;
  serviceVersion: string;
  /** Most spans waiting for export; past it new spans are dropped, never queued without bound. */
  maxQueueSize?: number;
  /** How often buffered spans are sent (ms). */
  scheduledDelayMs?: number;
}

/**
 * Spans recorded by the SDK, batched and exported over OTLP/HTTP. The context of the current
 * request follows it across awaits through AsyncLocalStorage (Node and Bun alike).
 */
export function createTracing(settings: TracingSettings): Tracing {
  installContextManager();
  const exporter = new OTLPTraceExporter({
    url: `${settings.endpoint.replace(/\/+$/, '')}/v1/traces`,
    timeoutMillis: 10_000,
  });
  const provider = new BasicTracerProvider({
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
  return {
    tracer: provider.getTracer(TRACER_NAME, settings.serviceVersion),
    propagator: PROPAGATOR,
    flush: () => provider.forceFlush(),
    async shutdown(timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        provider.shutdown(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    },
  };
}
