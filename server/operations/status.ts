import type { BuildInfo } from '../base/build-info';
import { type Config, redactConfig } from '../base/config';
import type { Initializer } from '../base/initializer';
import type { Lifecycle } from '../base/lifecycle';
import type { Metrics } from '../base/metrics/metrics';
import { readDatabaseSettings } from '../services/cache/database-settings';
import { detectBottlenecks } from '../services/performance/bottlenecks';
import { bottleneckInput, type FigureSources } from './live-figures';

/** What the status page is read from. */
export interface StatusSources extends FigureSources {
  config: Config;
  build: BuildInfo;
  startedAt: Date;
  initializer: Pick<Initializer, 'overallStatus' | 'isReady' | 'states'>;
  lifecycle: Pick<Lifecycle, 'isDraining' | 'activeRequests'>;
  metrics: Pick<Metrics, 'http'>;
  database: FigureSources['database'] & Parameters<typeof readDatabaseSettings>[1];
  cache: FigureSources['cache'] & Parameters<typeof readDatabaseSettings>[0];
}

export const SYSTEM_STATUS_KEY = 'system:status';
/** Long enough that a burst (dashboards polling, several tabs) computes one status, short enough to stay current. */
const SYSTEM_STATUS_TTL_MS = 2_000;

/**
 * What an operator wants on one page: each component's state, the process's resources, the
 * configuration in force (secrets redacted) and a summary of traffic since start; at most
 * SYSTEM_STATUS_TTL_MS old.
 */
export function buildSystemStatus(deps: StatusSources): Promise<SystemStatus> {
  return deps.cache.getOrLoad(SYSTEM_STATUS_KEY, () => computeSystemStatus(deps), {
    ttlMs: SYSTEM_STATUS_TTL_MS,
  });
}

async function computeSystemStatus(deps: StatusSources) {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  const pool = deps.database.stats();
  const uptimeSeconds = (Date.now() - deps.startedAt.getTime()) / 1000;
  return {
    status: deps.initializer.overallStatus(),
    ready: deps.initializer.isReady() && !deps.lifecycle.isDraining(),
    draining: deps.lifecycle.isDraining(),
    instance: {
      name: deps.build.name,
      version: deps.build.version,
      commit: deps.build.commit,
      runtime: deps.build.runtime,
      runtimeVersion: deps.build.runtimeVersion,
      pid: process.pid,
      startedAt: deps.startedAt.toISOString(),
      uptimeSeconds: Math.round(uptimeSeconds),
    },
    components: deps.initializer.states(),
    resources: {
      memory: {
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        heapTotal: memory.heapTotal,
        external: memory.external,
      },
      cpu: {
        userSeconds: cpu.user / 1e6,
        systemSeconds: cpu.system / 1e6,
        /** Share of one core used on average since start. */
        utilization: uptimeSeconds > 0 ? (cpu.user + cpu.system) / 1e6 / uptimeSeconds : 0,
      },
      eventLoopLagMs: Math.round(deps.eventLoopLag() * 1000 * 100) / 100,
    },
    database: {
      ...pool,
      embedded: !deps.config.DATABASE_URL,
      // Not while the database is unreachable: status is what an operator reads then, and must not wait.
      server: pool.healthy ? await readDatabaseSettings(deps.cache, deps.database).catch(() => null) : null,
    },
    cache: deps.cache.stats(),
    performance: performanceSummary(deps),
    configuration: redactConfig(deps.config),
  };
}

export type SystemStatus = Awaited<ReturnType<typeof computeSystemStatus>>;

function performanceSummary(deps: StatusSources) {
  let requests = 0;
  let serverErrors = 0;
  let seconds = 0;
  for (const series of deps.metrics.http.duration.totals()) {
    requests += series.count;
    seconds += series.sum;
    if (series.labels.status_code?.startsWith('5')) serverErrors += series.count;
  }
  const uptime = (Date.now() - deps.startedAt.getTime()) / 1000;
  const overview = deps.performance.analytics.overview(3);
  const findings = detectBottlenecks(bottleneckInput(deps));
  const slowest = deps.performance.queries.top(1, 'p95')[0];
  return {
    requests,
    serverErrors,
    errorRate: requests ? serverErrors / requests : 0,
    meanLatencyMs: requests ? (seconds / requests) * 1000 : 0,
    requestsPerSecond: uptime > 0 ? requests / uptime : 0,
    inFlight: deps.lifecycle.activeRequests(),
    /** The live analytics' view: the last minutes, not the average since start. */
    live: overview,
    // Its SQL shape is in performance.queries (operators); the status page names it only.
    slowestQuery: slowest
      ? { fingerprint: slowest.fingerprint, p95Ms: slowest.p95Ms, count: slowest.count }
      : null,
    slowQueries: deps.performance.queries.slow(1000).length,
    bottlenecks: findings.map((f) => ({ rule: f.rule, severity: f.severity, summary: f.summary })),
  };
}
