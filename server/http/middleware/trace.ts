import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import { routePath } from 'hono/route';
import { type Tracing, traceIdOf } from '../../base/tracing/context';
import type { AppMiddleware } from '../env';

/** Reads `traceparent` and `tracestate` from a request's headers. */
const FROM_HEADERS: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/**
 * The request's server span: the caller's trace continued when its `traceparent` says so (W3C
 * Trace Context), a new one begun otherwise (when the sampler keeps it), and the span active for
 * everything the request does, across awaits. Its trace id goes in the request's log lines and
 * error bodies (`traceId`), sampled or not, so that a caller can quote it.
 *
 * Installed by baseApp only when the app traces: without tracing a request meets none of this.
 */
export function traceRequests({ tracer, propagator }: Tracing): AppMiddleware {
  return async function traceRequest(c, next) {
    const request = c.req.raw;
    const method = request.method;
    const parent = propagator.extract(ROOT_CONTEXT, request.headers, FROM_HEADERS);
    const span = tracer.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': method, 'url.path': c.req.path },
      },
      parent,
    );
    const traceId = traceIdOf(span);
    if (traceId !== undefined) c.set('traceId', traceId);
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      if (span.isRecording()) {
        // The route template, never the raw path, names the span (as the metrics label it).
        const route = c.get('unmatched') ? undefined : routePath(c) || undefined;
        const status = c.res.status;
        if (route !== undefined) {
          span.updateName(`${method} ${route}`);
          span.setAttribute('http.route', route);
        }
        span.setAttribute('http.response.status_code', status);
        const requestId = c.get('requestId');
        if (requestId !== undefined) span.setAttribute('http.request.id', requestId);
        if (status >= 500) {
          span.setStatus({ code: SpanStatusCode.ERROR });
          span.setAttribute('error.type', String(status));
        }
      }
      span.end();
    }
  };
}
