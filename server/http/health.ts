import { Hono } from 'hono';
import { buildHealthReport } from '../operations/health';
import type { RequestDeps } from './deps';
import type { AppEnv } from './env';

const NO_STORE = { 'Cache-Control': 'no-store' };

/** Readiness accepts a database answer this recent without asking again. */
const READY_DB_MAX_AGE_MS = 1_000;

/**
 * Health routes that look at dependencies: readiness (may Kubernetes route traffic here?) and
 * the full report for people and dashboards. Liveness and the lightweight check are in probes.ts.
 */
export function healthRoutes(deps: RequestDeps) {
  const app = new Hono<AppEnv>();

  app.get('/api/health', async (c) => {
    const report = await buildHealthReport(deps);
    return c.body(JSON.stringify(report), report.status === 'fail' ? 503 : 200, {
      ...NO_STORE,
      'Content-Type': 'application/health+json',
    });
  });

  const notReady = () => deps.initializer.states().filter((s) => s.critical && s.status !== 'ready');

  app.get('/api/health/ready', async (c) => {
    const reasons: string[] = [];
    if (deps.lifecycle.isDraining()) reasons.push('draining');
    let waiting = notReady();
    // A database that went away after start is marked degraded and is marked ready again only
    // once a query succeeds. Without asking it here, readiness stayed 503 after it came back
    // until the next periodic health check (DB_HEALTH_INTERVAL_MS, 30 s by default).
    const databaseDegraded = waiting.some((s) => s.name === 'database' && s.status === 'degraded');
    if (waiting.length === 0 || databaseDegraded) {
      const reachable = await deps.database.isReachable({
        maxAgeMs: READY_DB_MAX_AGE_MS,
        timeoutMs: deps.config.HEALTH_DB_TIMEOUT_MS,
      });
      waiting = notReady();
      if (!reachable && waiting.length === 0) reasons.push('database unreachable');
    }
    reasons.push(...waiting.map((s) => `${s.name} ${s.status}`));
    const ready = reasons.length === 0;
    const body = ready ? { status: 'pass' } : { status: 'fail', output: reasons.join('; ') };
    return c.body(JSON.stringify(body), ready ? 200 : 503, {
      ...NO_STORE,
      'Content-Type': 'application/health+json',
    });
  });

  return app;
}
