import {
  context,
  isSpanContextValid,
  ProxyTracerProvider,
  type Span,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
// The propagator's own module, not the package's index: the index also loads the SDK's platform
// code (its semantic conventions among it), which the edge neither needs nor can load in the
// Workers test pool.
import { W3CTraceContextPropagator } from '@opentelemetry/core/build/src/trace/W3CTraceContextPropagator';

/**
 * Traces of the platform (docs/operations.md, "Tracing"). Built once, at start, only when traces
 * are asked for: every instrumented place decides when the app is built whether it traces, so a
 * platform without tracing runs exactly the code it ran before (no context, span or closure per
 * request).
 */
export interface Tracing {
  /** Where spans start. At the edge a tracer that records nothing and only passes the caller's context on. */
  readonly tracer: Tracer;
  /** W3C Trace Context: `traceparent` and `tracestate` in, and out on every outbound call. */
  readonly propagator: TextMapPropagator;
  /** Sends the spans buffered so far (tests, and an operator's "now" before a look at a trace). */
  flush(): Promise<void>;
  /** Sends the spans still buffered, within `timeoutMs`, and stops exporting. */
  shutdown(timeoutMs: number): Promise<void>;
}

/** The instrumentation scope every span of the platform is recorded under. */
export const TRACER_NAME = 'beauty-crafter-platform';

/** W3C Trace Context (`traceparent`, `tracestate`), the one propagation format of the platform. */
export const PROPAGATOR = new W3CTraceContextPropagator();

/**
 * Propagation alone (the edge): the caller's trace context is read, kept for the request's logs
 * and error bodies, and sent on; no span is recorded or exported. The API's no-op tracer answers
 * a span carrying the caller's context, so the same instrumentation serves both.
 */
export function createPropagation(): Tracing {
  installContextManager();
  return {
    tracer: new ProxyTracerProvider().getTracer(TRACER_NAME),
    propagator: PROPAGATOR,
    async flush() {},
    async shutdown() {},
  };
}

let contextManagerInstalled = false;

/**
 * The context manager is the OpenTelemetry API's one global: process-wide by nature, the same for
 * every app of the process, and installed once (the API refuses a second).
 */
export function installContextManager(): void {
  if (contextManagerInstalled) return;
  contextManagerInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

/** The trace id of `span`, or undefined for a span outside any trace (no caller's context at the edge). */
export function traceIdOf(span: Span): string | undefined {
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/** The trace id of the span active here, if any: for error bodies made away from the request's handlers. */
export function activeTraceId(): string | undefined {
  const span = trace.getSpan(context.active());
  return span ? traceIdOf(span) : undefined;
}

/**
 * A span under the one active here, or undefined when nothing is being traced here: a database
 * query or a cache lookup of a background job is not worth a trace of its own.
 */
export function startChildSpan(
  tracer: Tracer,
  name: string,
  options: Parameters<Tracer['startSpan']>[1],
): Span | undefined {
  const parent = context.active();
  const active = trace.getSpan(parent);
  if (active === undefined || !active.isRecording()) return undefined;
  return tracer.startSpan(name, options, parent);
}
