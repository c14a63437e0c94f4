import type { AppDeps } from '../../deps';
import { analyticsClock } from './analytics';
import type { BottleneckInput, RouteFigures } from './bottlenecks';
import type { CapacityInput } from './capacity';
import { LatencyHistogram } from './latency-histogram';
import { memoryLimitBytes } from './memory-limit';

/** The window capacity is measured over: long enough to smooth bursts, short enough to be current. */
const CAPACITY_WINDOW_MS = 60_000;

/** Everything the bottleneck rules look at, read from the live system now. */
export function bottleneckInput(deps: AppDeps): BottleneckInput {
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
export function capacityInput(deps: AppDeps): CapacityInput {
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
