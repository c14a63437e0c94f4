import { routePath } from 'hono/route';
import type { Lifecycle } from '../../base/lifecycle';
import type { Logger } from '../../base/logger';
import type { HistogramSeries } from '../../base/metrics/fast-histogram';
import { httpSeriesKey, type Metrics } from '../../base/metrics/metrics';
import { type AnalyticsSeries, epochMsOf, type RequestAnalytics } from '../../services/performance/analytics';
import type { AccessLog } from '../access-log';
import type { AppMiddleware } from '../env';
import { REQUEST_ID_HEADER, requestLogger, resolveRequestId } from './request-id';
import { applySecurityHeaders } from './security-headers';

/**
 * Methods with a label value of their own, with a small index for series keys; the others share
 * one value, `_OTHER`, as OpenTelemetry's HTTP conventions advise.
 */
const METHODS = new Map(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((m, i) => [m, i]));
const OTHER_METHOD = METHODS.size;

/** Routes whose access lines are noise at info level: probes and scrapes arrive every few seconds. */
// The lightweight and live probes never reach this middleware (see http/probes.ts).
const QUIET_ROUTES = new Set(['/api/health/ready', '/metrics']);

export interface ObserveOptions {
  metrics: Metrics;
  lifecycle: Lifecycle;
  logger: Logger;
  accessLog: AccessLog;
  analytics: RequestAnalytics;
  /** The app traces (middleware/trace.ts sets the trace id): access lines carry it. */
  traced?: boolean;
}

/**
 * What a route template keeps between its requests, so that recording one is two Map lookups on
 * values the request has anyway: its analytics series and its histogram series by method and
 * status. Made when the template is first served (templates are a closed set, plus `unmatched`).
 */
interface RouteRecord {
  route: string;
  quiet: boolean;
  analytics: AnalyticsSeries;
  /** By `status * 8 + method index`: no key string is built per request. */
  outcomes: Map<number, HistogramSeries>;
}

/**
 * What every request gets: an id (echoed in X-Request-Id), RED metrics and an access line
 * labelled by route template and never by raw path (a path an attacker chooses must not create
 * a series), secure headers, and a place in the in-flight count graceful shutdown waits on.
 *
 * One middleware rather than one per concern: each async layer costs about a microsecond per
 * request on Bun (measured with wrk), a noticeable share of a request that takes seven. And the
 * request path only records: figures go into series kept per route template and into the access
 * log's preallocated slot; the line is formatted and written by a timer (runtime/access-log.ts).
 */
export function observe({
  metrics,
  lifecycle,
  logger,
  accessLog,
  analytics,
  traced = false,
}: ObserveOptions): AppMiddleware {
  const duration = metrics.http.duration;
  const routes = new Map<string, RouteRecord>();
  const recordOf = (route: string): RouteRecord => {
    let record = routes.get(route);
    if (record === undefined) {
      record = {
        route,
        quiet: QUIET_ROUTES.has(route),
        analytics: analytics.series('route', route),
        outcomes: new Map(),
      };
      routes.set(route, record);
    }
    return record;
  };
  const seriesOf = (record: RouteRecord, methodIndex: number, method: string, status: number) => {
    const key = status * 8 + methodIndex;
    let series = record.outcomes.get(key);
    if (series === undefined) {
      const route = record.route;
      series = duration.series(httpSeriesKey(method, status, route), () => [method, route, status]);
      record.outcomes.set(key, series);
    }
    return series;
  };

  return async function observeRequest(c, next) {
    const started = performance.now();
    const request = c.req.raw;
    const id = resolveRequestId(request.headers.get(REQUEST_ID_HEADER) ?? undefined);
    c.set('requestId', id);
    lifecycle.requestStarted();
    try {
      await next();
    } finally {
      lifecycle.requestFinished();
      const response = c.res;
      markResponse(response, id);
      const ended = performance.now();
      const seconds = (ended - started) / 1000;
      const methodIndex = METHODS.get(request.method) ?? OTHER_METHOD;
      const method = methodIndex === OTHER_METHOD ? '_OTHER' : request.method;
      const record = recordOf(c.get('unmatched') ? 'unmatched' : routePath(c) || 'unmatched');
      const status = response.status;
      seriesOf(record, methodIndex, method, status).observe(seconds);
      // Route templates only ('unmatched' is one series): a path an attacker picks adds nothing.
      record.analytics.record(seconds, status, epochMsOf(ended));
      if (status >= 500) {
        const durationMs = Math.round(seconds * 1e5) / 100;
        const route = record.route;
        requestLogger(c, logger).error(
          { method, route, path: c.req.path, status, durationMs },
          'request failed',
        );
      } else if (!record.quiet) {
        const traceId = traced ? c.get('traceId') : undefined;
        accessLog.record(id, method, record.route, c.req.path, status, seconds, ended, traceId);
      } else if (logger.isLevelEnabled('debug')) {
        const durationMs = Math.round(seconds * 1e5) / 100;
        const route = record.route;
        requestLogger(c, logger).debug({ method, route, path: c.req.path, status, durationMs }, 'request');
      }
    }
  };
}

/**
 * The request id and the secure headers, set on the final response in the layer that exists
 * anyway. Done after the handler because a handler may return a Response of its own (the tRPC
 * adapter does), which drops headers prepared on the context; and on the Response itself because
 * Hono's `c.header()` after the fact copies the whole response. A response built from
 * `secureHeaders()` gets only its id (see security-headers.ts).
 */
function markResponse(response: Response, requestId: string): void {
  try {
    const headers = response.headers;
    headers.set(REQUEST_ID_HEADER, requestId);
    applySecurityHeaders(headers);
  } catch {
    // Immutable headers (a Response from fetch()): nothing we serve today; leave it unmarked.
  }
}
