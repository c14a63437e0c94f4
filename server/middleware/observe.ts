import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Lifecycle } from '../runtime/lifecycle';
import type { Metrics } from '../services/monitoring/metrics';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by the not-found handler: the request matched no route. */
    unmatched: boolean;
  }
}

/** Methods outside this set share one label value, as OpenTelemetry's HTTP conventions advise. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Paths whose access lines are noise at info level: probes and scrapes arrive every few seconds. */
const QUIET_ROUTES = new Set([
  '/api/health/lightweight',
  '/api/health/live',
  '/api/health/ready',
  '/metrics',
]);

/**
 * RED metrics and the access log for every request, labelled by route template and never by
 * raw path (a path an attacker chooses must not create a series), plus the in-flight count
 * graceful shutdown waits on.
 */
export function observe(options: { metrics: Metrics; lifecycle: Lifecycle }): MiddlewareHandler {
  const { duration, inFlight } = options.metrics.http;
  return async function observeRequest(c, next) {
    const started = performance.now();
    const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : '_OTHER';
    inFlight.inc({ method });
    options.lifecycle.requestStarted();
    try {
      await next();
    } finally {
      options.lifecycle.requestFinished();
      inFlight.dec({ method });
      const route = c.get('unmatched') ? 'unmatched' : routePath(c) || 'unmatched';
      const status = c.res.status;
      const seconds = (performance.now() - started) / 1000;
      duration.observe({ method, route, status_code: status }, seconds);
      const line = { method, route, path: c.req.path, status, durationMs: Math.round(seconds * 1e5) / 100 };
      if (status >= 500) c.get('logger').error(line, 'request failed');
      else if (QUIET_ROUTES.has(route)) c.get('logger').debug(line, 'request');
      else c.get('logger').info(line, 'request');
    }
  };
}
