import type { PoolStats } from '../../../db/connect';
import type { ResourceSample } from './resource-sampler';

export type Severity = 'info' | 'warning' | 'critical';

/** One detected bottleneck: what, how bad, the numbers behind it, and what to do. */
export interface Finding {
  rule: BottleneckRule;
  severity: Severity;
  /** What it is about: a route, a query shape, the pool… */
  subject: string;
  summary: string;
  evidence: Record<string, number | string>;
  recommendation: string;
}

export type BottleneckRule =
  | 'event_loop_lag'
  | 'pool_waiting'
  | 'pool_saturated'
  | 'slow_query'
  | 'cache_hit_rate'
  | 'latency_regression'
  | 'error_rate_spike'
  | 'memory_growth';

export interface RouteFigures {
  kind: 'route' | 'procedure';
  name: string;
  /** Requests in the last minute and the last 15 minutes. */
  requests1m: number;
  requests15m: number;
  /** Errors (5xx, or failed calls) in the same windows. */
  errors1m: number;
  errors15m: number;
  /** p99 over the recent window and over the longer baseline, in ms (null with no data). */
  p99RecentMs: number | null;
  p99BaselineMs: number | null;
  recentRequests: number;
}

export interface QueryFigures {
  fingerprint: string;
  text: string;
  count: number;
  meanMs: number;
  p95Ms: number;
  maxMs: number;
  totalMs: number;
}

/** Everything the rules look at, gathered from the live system at the moment of asking. */
export interface BottleneckInput {
  eventLoopLagSeconds: number;
  pool: Pick<PoolStats, 'total' | 'idle' | 'waiting' | 'max'>;
  queries: QueryFigures[];
  slowQueryMs: number;
  cache: { hits: number; misses: number };
  routes: RouteFigures[];
  /** Resource samples, oldest first (memory growth). */
  samples: readonly ResourceSample[];
}

/** The thresholds of the rules; the defaults are what the platform ships with. */
export const BOTTLENECK_THRESHOLDS = {
  eventLoopLagWarningSeconds: 0.1,
  eventLoopLagCriticalSeconds: 0.5,
  slowQueryMinCount: 3,
  cacheMinLookups: 100,
  cacheHitRateWarning: 0.5,
  latencyRegressionFactor: 2,
  latencyRegressionMinMs: 50,
  latencyRegressionMinRequests: 20,
  errorSpikeMinRequests: 20,
  errorSpikeRate: 0.05,
  errorSpikeFactor: 3,
  errorSpikeCriticalRate: 0.2,
  memoryGrowthMinMinutes: 10,
  memoryGrowthBytesPerMinute: 2 * 1024 * 1024,
} as const;

/**
 * Runs every rule over the live figures. Each rule needs enough data before it speaks (a few
 * slow calls or a quiet server produce nothing), so an idle instance reports no findings.
 */
export function detectBottlenecks(input: BottleneckInput, t = BOTTLENECK_THRESHOLDS): Finding[] {
  return [
    ...eventLoopLag(input, t),
    ...pool(input),
    ...slowQueries(input, t),
    ...cacheHitRate(input, t),
    ...latencyRegressions(input, t),
    ...errorSpikes(input, t),
    ...memoryGrowth(input, t),
  ].sort((a, b) => SEVERITY_ORDER[b.severity] - SEVERITY_ORDER[a.severity]);
}

const SEVERITY_ORDER: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

function eventLoopLag(
  { eventLoopLagSeconds: lag }: BottleneckInput,
  t: typeof BOTTLENECK_THRESHOLDS,
): Finding[] {
  if (lag < t.eventLoopLagWarningSeconds) return [];
  return [
    {
      rule: 'event_loop_lag',
      severity: lag >= t.eventLoopLagCriticalSeconds ? 'critical' : 'warning',
      subject: 'event loop',
      summary: `the event loop is running ${Math.round(lag * 1000)} ms late`,
      evidence: { lagMs: Math.round(lag * 1000), warningMs: t.eventLoopLagWarningSeconds * 1000 },
      recommendation:
        'look for synchronous work on the request path (large JSON, crypto, regexes on big inputs) in the slowest routes, move it off the loop or out of the request, or add instances',
    },
  ];
}

function pool({ pool: p }: BottleneckInput): Finding[] {
  const inUse = p.total - p.idle;
  if (p.waiting > 0) {
    return [
      {
        rule: 'pool_waiting',
        severity: p.waiting >= p.max ? 'critical' : 'warning',
        subject: 'database pool',
        summary: `${p.waiting} callers are waiting for a database connection (${inUse} of ${p.max} in use)`,
        evidence: { waiting: p.waiting, inUse, max: p.max },
        recommendation:
          'find the queries or transactions holding connections longest (performance.queries by total time); raise DB_POOL_MAX only if PostgreSQL has connections to spare',
      },
    ];
  }
  if (p.max > 0 && inUse >= p.max) {
    return [
      {
        rule: 'pool_saturated',
        severity: 'warning',
        subject: 'database pool',
        summary: `every pool connection is in use (${inUse} of ${p.max})`,
        evidence: { inUse, max: p.max },
        recommendation:
          'the next query will wait: shorten transactions, or raise DB_POOL_MAX within PostgreSQL limits',
      },
    ];
  }
  return [];
}

function slowQueries({ queries, slowQueryMs }: BottleneckInput, t: typeof BOTTLENECK_THRESHOLDS): Finding[] {
  return queries
    .filter((q) => q.count >= t.slowQueryMinCount && q.p95Ms >= slowQueryMs)
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, 5)
    .map((q) => ({
      rule: 'slow_query' as const,
      severity: q.p95Ms >= slowQueryMs * 5 ? ('critical' as const) : ('warning' as const),
      subject: q.fingerprint,
      // The SQL shape goes in the evidence (operators' performance.bottlenecks), not in the summary
      // that system status repeats.
      summary: `query shape ${q.fingerprint} takes ${Math.round(q.p95Ms)} ms at p95 over ${q.count} runs`,
      evidence: {
        shape: shorten(q.text, 500),
        count: q.count,
        meanMs: round(q.meanMs),
        p95Ms: round(q.p95Ms),
        maxMs: round(q.maxMs),
        totalMs: round(q.totalMs),
        thresholdMs: slowQueryMs,
      },
      recommendation:
        'run performance.explain on this shape; add an index for its filter or sort, or cache its result',
    }));
}

function cacheHitRate({ cache }: BottleneckInput, t: typeof BOTTLENECK_THRESHOLDS): Finding[] {
  const lookups = cache.hits + cache.misses;
  if (lookups < t.cacheMinLookups) return [];
  const rate = cache.hits / lookups;
  if (rate >= t.cacheHitRateWarning) return [];
  return [
    {
      rule: 'cache_hit_rate',
      severity: 'warning',
      subject: 'cache',
      summary: `only ${Math.round(rate * 100)}% of cache lookups hit`,
      evidence: { hits: cache.hits, misses: cache.misses, hitRate: round(rate, 3) },
      recommendation:
        'lengthen TTLs of stable data, register a warmer for hot keys, or raise the cache bounds if evictions are high',
    },
  ];
}

function latencyRegressions({ routes }: BottleneckInput, t: typeof BOTTLENECK_THRESHOLDS): Finding[] {
  return routes
    .filter(
      (r) =>
        r.p99RecentMs !== null &&
        r.p99BaselineMs !== null &&
        r.recentRequests >= t.latencyRegressionMinRequests &&
        r.p99RecentMs >= t.latencyRegressionMinMs &&
        r.p99RecentMs >= r.p99BaselineMs * t.latencyRegressionFactor,
    )
    .map((r) => ({
      rule: 'latency_regression' as const,
      severity: 'warning' as const,
      subject: `${r.kind} ${r.name}`,
      summary: `p99 of ${r.name} is ${Math.round(r.p99RecentMs!)} ms, ${round(r.p99RecentMs! / r.p99BaselineMs!, 1)}x its baseline`,
      evidence: {
        p99RecentMs: round(r.p99RecentMs!),
        p99BaselineMs: round(r.p99BaselineMs!),
        recentRequests: r.recentRequests,
      },
      recommendation:
        'compare with recent deployments and slow query shapes; check the pool and the event loop',
    }));
}

function errorSpikes({ routes }: BottleneckInput, t: typeof BOTTLENECK_THRESHOLDS): Finding[] {
  return routes
    .filter((r) => r.requests1m >= t.errorSpikeMinRequests)
    .flatMap((r) => {
      const recent = r.errors1m / r.requests1m;
      const baseline = r.requests15m > 0 ? r.errors15m / r.requests15m : 0;
      if (recent < t.errorSpikeRate || recent < baseline * t.errorSpikeFactor) return [];
      return [
        {
          rule: 'error_rate_spike' as const,
          severity: recent >= t.errorSpikeCriticalRate ? ('critical' as const) : ('warning' as const),
          subject: `${r.kind} ${r.name}`,
          summary: `${Math.round(recent * 100)}% of ${r.name}'s calls failed in the last minute (${round(baseline * 100, 1)}% over 15 minutes)`,
          evidence: {
            errors1m: r.errors1m,
            requests1m: r.requests1m,
            errorRate1m: round(recent, 3),
            errorRate15m: round(baseline, 3),
          },
          recommendation:
            'read the error log lines of this route (request ids in the access log); check its dependencies',
        },
      ];
    });
}

/**
 * Heap growth: a least-squares slope of heapUsed over the retained samples, reported when it is
 * steep and the heap kept rising (the latest third of the window above the earliest third), so a
 * single GC cycle does not count as a leak.
 */
function memoryGrowth({ samples }: BottleneckInput, t: typeof BOTTLENECK_THRESHOLDS): Finding[] {
  if (samples.length < 3) return [];
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const minutes = (last.at - first.at) / 60_000;
  if (minutes < t.memoryGrowthMinMinutes) return [];
  const slope = leastSquaresSlope(samples.map((s) => [(s.at - first.at) / 60_000, s.heapUsedBytes]));
  const third = Math.max(1, Math.floor(samples.length / 3));
  const early = mean(samples.slice(0, third).map((s) => s.heapUsedBytes));
  const late = mean(samples.slice(-third).map((s) => s.heapUsedBytes));
  if (slope < t.memoryGrowthBytesPerMinute || late <= early) return [];
  return [
    {
      rule: 'memory_growth',
      severity: 'warning',
      subject: 'memory',
      summary: `the heap grew by ${mib(slope)} MiB a minute over ${Math.round(minutes)} minutes`,
      evidence: {
        bytesPerMinute: Math.round(slope),
        heapUsedBytes: last.heapUsedBytes,
        rssBytes: last.rssBytes,
        minutes: Math.round(minutes),
      },
      recommendation:
        'take two heap snapshots some minutes apart and compare them; check unbounded maps and caches',
    },
  ];
}

function leastSquaresSlope(points: [number, number][]): number {
  const n = points.length;
  const mx = mean(points.map(([x]) => x));
  const my = mean(points.map(([, y]) => y));
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return n < 2 || den === 0 ? 0 : num / den;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function mib(bytes: number): number {
  return round(bytes / (1024 * 1024), 1);
}

function shorten(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
