import { ProxyTracerProvider } from '@opentelemetry/api';
import type { Component } from '../initializer';
import { installContextManager, PROPAGATOR, TRACER_NAME, type Tracing } from './context';
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

/** Tracing, and the component that has it ready before the platform serves. */
export interface SdkTracing extends Tracing {
  component: Component;
}

/**
 * Spans recorded by the SDK, batched and exported over OTLP/HTTP. The context of the current
 * request follows it across awaits through AsyncLocalStorage (Node and Bun alike).
 *
 * The SDK and its exporter (~15 MiB of a process's memory) are loaded here, only when traces are
 * asked for: the tracer handed out at once is a proxy that records nothing until the SDK's
 * provider stands behind it, which the `tracing` component (phase core, before anything serves)
 * waits for.
 */
export function createTracing(settings: TracingSettings): SdkTracing {
  installContextManager();
  const proxy = new ProxyTracerProvider();
  const provider = import('./sdk-provider').then(({ sdkTracerProvider }) => {
    const loaded = sdkTracerProvider(settings);
    proxy.setDelegate(loaded);
    return loaded;
  });
  // Reported by the component's start; flush and shutdown have nothing to send without it.
  provider.catch(() => undefined);
  return {
    tracer: proxy.getTracer(TRACER_NAME, settings.serviceVersion),
    propagator: PROPAGATOR,
    flush: async () => (await provider).forceFlush(),
    async shutdown(timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        provider.then((loaded) => loaded.shutdown()),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    },
    component: {
      name: 'tracing',
      phase: 'core',
      critical: false,
      async start() {
        await provider;
      },
    },
  };
}
