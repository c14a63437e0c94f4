import { context, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { getTRPCErrorFromUnknown } from '@trpc/server';
import type { Tracing } from '../base/tracing/context';
import type { appRouter } from './routers/index';

type Router = typeof appRouter;
type Call<A extends unknown[]> = (...args: A) => Promise<unknown>;

/**
 * `call` (one procedure's run) inside a span of its own, child of the request's: named
 * `trpc <path>`, with its type and, when it fails, tRPC's error code. Wrapped once per procedure
 * when the app is built, and only when it traces.
 */
export function tracedCall<A extends unknown[]>(
  tracer: Tracer,
  path: string,
  type: string,
  call: Call<A>,
): Call<A> {
  const name = `trpc ${path}`;
  const attributes = { 'rpc.system': 'trpc', 'rpc.method': path, 'trpc.type': type };
  return async function tracedProcedure(...args: A): Promise<unknown> {
    const parent = context.active();
    // Under a request the sampler dropped, the call's span would be dropped too (every sampler
    // offered decides by the parent or by the trace id): none is made.
    if (trace.getSpan(parent)?.isRecording() === false) return call(...args);
    const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes }, parent);
    try {
      const result = await context.with(trace.setSpan(parent, span), call, undefined, ...args);
      span.setAttribute('trpc.code', 'OK');
      return result;
    } catch (error) {
      const code = getTRPCErrorFromUnknown(error).code;
      span.setAttribute('trpc.code', code);
      // A refusal (4xx) is the caller's mistake, not the server's: only failures mark the span.
      if (code === 'INTERNAL_SERVER_ERROR' || code === 'SERVICE_UNAVAILABLE' || code === 'GATEWAY_TIMEOUT') {
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      throw error;
    } finally {
      span.end();
    }
  };
}

/**
 * The router as tRPC's fetch adapter sees it, each procedure run inside its span: the same
 * definitions (`_def`), so the adapter finds, checks and reports them as before. Built once.
 */
export function tracedRouter(router: Router, tracing: Tracing | null | undefined): Router {
  if (!tracing) return router;
  const procedures: Record<string, unknown> = {};
  for (const [path, procedure] of Object.entries(
    router._def.procedures as unknown as Record<string, ProcedureLike>,
  )) {
    procedures[path] = Object.assign(tracedCall(tracing.tracer, path, procedure._def.type, procedure), {
      _def: procedure._def,
    });
  }
  return { ...router, _def: { ...router._def, procedures } } as unknown as Router;
}

type ProcedureLike = ((opts: unknown) => Promise<unknown>) & { _def: { type: string } };
