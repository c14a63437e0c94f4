import type { PlatformDatabase } from '../../db/connect';
import type { Cache } from '../services/cache/cache';
import { analyticsClock } from '../services/performance/analytics';
import type { BottleneckInput, RouteFigures } from '../services/performance/bottlenecks';
import type { CapacityInput } from '../services/performance/capacity';
import { LatencyHistogram } from '../services/performance/latency-histogram';
import { memoryLimitBytes } from '../services/performance/memory-limit';
import type { PerformanceServices } from '../services/performance/services';

/** What the live figures are read from: the performance services, the cache, the pool, the loop. */
export interface FigureSources {
  performance: Pick<PerformanceServices, 'analytics' | 'queries' | 'sampler'>;
  cache: Pick<Cache, 'stats'>;
  database: Pick<PlatformDatabase, 'stats'>;
  /** Event-loop lag most recently measured, in seconds. */
  eventLoopLag: () => number;
}

/** The window capacity is measured over: long enough to smooth bursts, short enough to be current. */
const CAPACITY_WINDOW_MS = 60_000;

/** Everything the bottleneck rules look at, read from the live system now. */
export function bottleneckInput(deps: FigureSources): BottleneckInput {
  const { analytics, queries, sampler } = deps.performance;
  const now = analyticsClock();
  const scratch = new LatencyHistogram();
  const routes: RouteFigures[] = [];
  for (const kind of ['route', 'procedure'] as const) {
    for (const series of analytics.liveSeries(kind)) {
      scratch.reset();
      series.recent.mergeInto(scratch, now);
      routes.push({
        kind,
        name: series.name,
        requests1m: series.calls.count(60, now),
        requests15m: series.calls.count(900, now),
        errors1m: series.failures.count(60, now),
        errors15m: series.failures.count(900, now),
        p99RecentMs: scratch.count > 0 ? scratch.percentile(0.99) * 1000 : null,
        p99BaselineMs: series.allTime.count > 0 ? series.allTime.percentile(0.99) * 1000 : null,
        recentRequests: scratch.count,
      });
    }
  }
  const cache = deps.cache.stats();
  return {
    eventLoopLagSeconds: deps.eventLoopLag(),
    pool: deps.database.stats(),
    queries: queries.top(50, 'p95'),
    slowQueryMs: queries.slowQueryMs,
    // A stale answer is still an answer from the cache.
    cache: { hits: cache.hits + cache.staleHits, misses: cache.misses },
    routes,
    samples: sampler.history(),
  };
}

/** What capacity is estimated from, read from the live system now. */
export function capacityInput(deps: Pick<FigureSources, 'performance' | 'database'>): CapacityInput {
  const { sampler } = deps.performance;
  const rates = sampler.rates(CAPACITY_WINDOW_MS);
  const history = sampler.history();
  return {
    rates,
    pool: deps.database.stats(),
    latest: history[history.length - 1] ?? sampler.sample(),
    memoryLimitBytes: memoryLimitBytes(),
  };
}
