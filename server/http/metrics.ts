import { Hono } from 'hono';
import { PlatformError } from '../base/errors';
import type { RequestDeps } from './deps';
import type { AppContext, AppEnv } from './env';
import { bearerToken, tokensMatch } from './middleware/bearer-token';

/** Prometheus scrape endpoints, optionally behind a bearer token (METRICS_TOKEN). */
export function metricsRoutes(deps: RequestDeps) {
  const app = new Hono<AppEnv>();
  const { registry } = deps.metrics;
  const token = deps.config.METRICS_TOKEN;

  const scrape = async (c: AppContext) => {
    if (token && !tokensMatch(bearerToken(c.req.header('authorization')), token)) {
      throw new PlatformError('UNAUTHORIZED', 'this route needs the metrics token as a bearer token', {
        'WWW-Authenticate': 'Bearer realm="metrics"',
      });
    }
    return c.body(await registry.metrics(), 200, {
      'Content-Type': registry.contentType,
      'Cache-Control': 'no-store',
    });
  };
  app.get('/metrics', scrape);
  app.get('/api/metrics/prometheus', scrape);
  return app;
}
