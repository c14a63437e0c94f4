import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AccessLog } from '../runtime/access-log';
import type { Lifecycle } from '../runtime/lifecycle';
import type { Logger } from '../runtime/logger';
import type { Metrics } from '../services/monitoring/metrics';
import { requestLogger } from './request-id';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by the not-found handler: the request matched no route. */
    unmatched: boolean;
  }
}

/** Methods outside this set share one label value, as OpenTelemetry's HTTP conventions advise. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Routes whose access lines are noise at info level: probes and scrapes arrive every few seconds. */
const QUIET_ROUTES = new Set([
  '/api/health/lightweight',
  '/api/health/live',
  '/api/health/ready',
  '/metrics',
]);

export interface ObserveOptions {
  metrics: Metrics;
  lifecycle: Lifecycle;
  logger: Logger;
  accessLog: AccessLog;
}

/**
 * RED metrics and the access log for every request, labelled by route template and never by
 * raw path (a path an attacker chooses must not create a series), plus the in-flight count
 * graceful shutdown waits on.
 */
export function observe({ metrics, lifecycle, logger, accessLog }: ObserveOptions): MiddlewareHandler {
  const duration = metrics.http.duration;
  return async function observeRequest(c, next) {
    const started = performance.now();
    lifecycle.requestStarted();
    try {
      await next();
    } finally {
      lifecycle.requestFinished();
      const seconds = (performance.now() - started) / 1000;
      const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : '_OTHER';
      const route = c.get('unmatched') ? 'unmatched' : routePath(c) || 'unmatched';
      const status = c.res.status;
      duration.observe(`${method} ${status} ${route}`, () => [method, route, status], seconds);
      const durationMs = Math.round(seconds * 1e5) / 100;
      if (status >= 500) {
        requestLogger(c, logger).error(
          { method, route, path: c.req.path, status, durationMs },
          'request failed',
        );
      } else if (QUIET_ROUTES.has(route)) {
        if (logger.isLevelEnabled('debug')) {
          requestLogger(c, logger).debug({ method, route, path: c.req.path, status, durationMs }, 'request');
        }
      } else {
        accessLog({ requestId: c.get('requestId'), method, route, path: c.req.path, status, durationMs });
      }
    }
  };
}
