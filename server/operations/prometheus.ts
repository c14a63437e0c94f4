import client, { type Registry } from 'prom-client';
import { bottleneckRule, bottleneckSeverity } from '../../shared/performance';
import type { AlertServices } from '../services/alerts/services';
import { detectBottlenecks } from '../services/performance/bottlenecks';
import { estimateCapacity } from '../services/performance/capacity';
import { bottleneckInput, capacityInput, type FigureSources } from './live-figures';

/** What the scrape-time figures are read from: the live figures' sources and the alert notifier. */
export interface ScrapeSources extends FigureSources {
  alerts: { notifier: Pick<AlertServices['notifier'], 'status'> };
}

/**
 * The performance router's figures as Prometheus metrics, read at scrape time from the same
 * sources the procedures use (so both always agree): cache counters, query-monitor totals and
 * slow queries, bottleneck findings by rule and severity, capacity estimates, and alert
 * deliveries. Live analytics per route and procedure are already in the request histograms.
 */
export function bindPerformanceMetrics(registry: Registry, deps: ScrapeSources): void {
  const counterFrom = (
    name: string,
    help: string,
    labelNames: string[],
    read: (set: (labels: Record<string, string>, value: number) => void) => void,
  ) =>
    new client.Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        read((labels, value) => this.inc(labels, value));
      },
    });
  const gaugeFrom = (
    name: string,
    help: string,
    labelNames: string[],
    read: (set: (labels: Record<string, string>, value: number) => void) => void,
  ) =>
    new client.Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        read((labels, value) => this.set(labels, value));
      },
    });

  counterFrom('cache_requests_total', 'Cache lookups, by result (hit, stale, miss).', ['result'], (set) => {
    const s = deps.cache.stats();
    set({ result: 'hit' }, s.hits);
    set({ result: 'stale' }, s.staleHits);
    set({ result: 'miss' }, s.misses);
  });
  counterFrom('cache_evictions_total', 'Cache entries evicted, by reason.', ['reason'], (set) => {
    for (const [reason, count] of Object.entries(deps.cache.stats().evictionsByReason))
      set({ reason }, count);
  });
  counterFrom(
    'cache_loads_total',
    'Cache loads (misses filled by their loader), by result.',
    ['result'],
    (set) => {
      const s = deps.cache.stats();
      set({ result: 'ok' }, s.loads - s.loadErrors);
      set({ result: 'error' }, s.loadErrors);
    },
  );
  gaugeFrom('cache_entries', 'Entries in the in-process cache.', [], (set) =>
    set({}, deps.cache.stats().entries),
  );
  gaugeFrom('cache_bytes', 'Estimated bytes held by the in-process cache.', [], (set) =>
    set({}, deps.cache.stats().bytes),
  );

  gaugeFrom('db_query_shapes', 'Distinct normalised query shapes seen since start.', [], (set) =>
    set({}, deps.performance.queries.totals().shapes),
  );
  gaugeFrom(
    'db_slow_queries_recent',
    'Queries in the slow-query log (at least PERFORMANCE_SLOW_QUERY_MS), up to its size.',
    [],
    (set) => set({}, deps.performance.queries.slow().length),
  );

  gaugeFrom(
    'performance_bottlenecks',
    'Findings of the bottleneck rules now, by rule and severity (0 when the rule is quiet).',
    ['rule', 'severity'],
    (set) => {
      const counts = new Map<string, number>();
      for (const f of detectBottlenecks(bottleneckInput(deps))) {
        const key = `${f.rule} ${f.severity}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      // Every rule and severity, zero included, so a finding that clears drops to 0.
      for (const rule of bottleneckRule.options) {
        for (const severity of bottleneckSeverity.options) {
          set({ rule, severity }, counts.get(`${rule} ${severity}`) ?? 0);
        }
      }
    },
  );

  gaugeFrom(
    'performance_capacity',
    'Capacity estimates: requests_per_second now, max_requests_per_second before the first resource saturates, headroom (their ratio), cpu_seconds_per_request.',
    ['figure'],
    (set) => {
      const report = estimateCapacity(capacityInput(deps));
      const figures: Record<string, number | null> = {
        requests_per_second: report.throughput.requestsPerSecond,
        max_requests_per_second: report.estimatedMaxRequestsPerSecond,
        headroom: report.headroom,
        cpu_seconds_per_request: report.cpu.secondsPerRequest,
      };
      // NaN while unknown (no samples or no requests yet), so the series exist from the first scrape.
      for (const [figure, value] of Object.entries(figures)) set({ figure }, value ?? Number.NaN);
    },
  );

  counterFrom(
    'alert_notifications_total',
    'Alert notifications handled by this instance, by outcome (delivered, retried, abandoned).',
    ['outcome'],
    (set) => {
      const { totals } = deps.alerts.notifier.status();
      set({ outcome: 'delivered' }, totals.delivered);
      set({ outcome: 'retried' }, totals.retried);
      set({ outcome: 'abandoned' }, totals.abandoned);
    },
  );
}
