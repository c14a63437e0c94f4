import type {
  AnalyticsKind,
  AnalyticsSeriesSnapshot,
  AnalyticsSortKey,
  AnalyticsTotals,
  PerformanceOverview,
  PerformanceRoutes,
  PerformanceRoutesInput,
} from '../../../shared/performance';
import {
  type AnalyticsSeries,
  ERROR_RATE_WINDOW_SECONDS,
  LiveSeries,
  latencyOf,
  ratio,
} from './analytics-series';
import { LatencyHistogram } from './latency-histogram';
import { RECENT_WINDOW_SECONDS } from './rolling-latency';

export type { AnalyticsSeries } from './analytics-series';

const TIME_ORIGIN = performance.timeOrigin;

/**
 * The analytics' time, in ms since the epoch, of a `performance.now()` reading. Request timings
 * read `performance.now()` anyway; passing this to `record` spares the series a clock read, which
 * costs about 40 ns (Bun and Node, measured), more than the rest of recording.
 */
export function epochMsOf(performanceNow: number): number {
  return TIME_ORIGIN + performanceNow;
}

/** The default clock: the monotonic clock on the epoch scale, so callers' `epochMsOf` times agree with it. */
export function analyticsClock(): number {
  return TIME_ORIGIN + performance.now();
}

/** tRPC error codes answered with a 5xx status: the failures a procedure series counts as errors. */
const SERVER_ERROR_CODES = new Set([
  'INTERNAL_SERVER_ERROR',
  'NOT_IMPLEMENTED',
  'BAD_GATEWAY',
  'SERVICE_UNAVAILABLE',
  'GATEWAY_TIMEOUT',
]);

/**
 * Whether a call that ended with tRPC code `code` (or `OK`) is an error for the analytics: the
 * server failed, as a 5xx does for a route. A refused or invalid call (401, 404, 429…) is not.
 */
export function isServerErrorCode(code: string): boolean {
  return code !== 'OK' && SERVER_ERROR_CODES.has(code);
}

/**
 * The HTTP status class the analytics count a call that ended with tRPC code `code` in: 200 for
 * `OK`, 500 for a server failure, 400 for every refusal (its exact 4xx does not matter here).
 */
export function statusOfCode(code: string): number {
  if (code === 'OK') return 200;
  return SERVER_ERROR_CODES.has(code) ? 500 : 400;
}

/** The series that takes the requests of names beyond `maxSeriesPerKind`. */
export const OVERFLOW_SERIES_NAME = '(other)';

export interface RequestAnalyticsOptions {
  /** PERFORMANCE_ANALYTICS: when false nothing is recorded, so a benchmark can price the rest. */
  enabled?: boolean;
  /** ms since the epoch; `analyticsClock` unless a test drives time. */
  clock?: () => number;
  /** Series kept per kind (about 55 KB each); later names share one series, `(other)`. */
  maxSeriesPerKind?: number;
}

/** What a disabled analytics hands out: recording costs one empty call. */
const IGNORED: AnalyticsSeries = { kind: 'route', name: 'disabled', record() {} };

const SORT_FIELDS: Record<AnalyticsSortKey, keyof AnalyticsSeriesSnapshot> = {
  requests: 'requests',
  errors: 'errors',
  errorRate: 'errorRate',
  p50: 'p50Ms',
  p90: 'p90Ms',
  p99: 'p99Ms',
  max: 'maxMs',
  rate1m: 'rate1m',
};

/**
 * Live request analytics per route template and per tRPC procedure: counts, errors, rates over
 * 1, 5 and 15 minutes, and latency percentiles, recent and all-time.
 *
 * Names must come from closed sets, never from the request: Hono's route templates (and one
 * `unmatched` for everything else) and the paths of procedures the router has (calls whose
 * `procedure` is null are not recorded). A raw path would let any caller create series; the
 * `maxSeriesPerKind` bound is the backstop, not the defence.
 */
export class RequestAnalytics {
  readonly enabled: boolean;
  readonly startedAtMs: number;
  private readonly clock: () => number;
  private readonly maxSeriesPerKind: number;
  /** One map per kind, so a lookup takes the name as it is, without building a key. */
  private readonly byKind: Record<AnalyticsKind, Map<string, LiveSeries>> = {
    route: new Map(),
    procedure: new Map(),
  };
  /** Lent to snapshots for merging; snapshots run one at a time (they are synchronous). */
  private readonly scratch = new LatencyHistogram();

  constructor({
    enabled = true,
    clock = analyticsClock,
    maxSeriesPerKind = 256,
  }: RequestAnalyticsOptions = {}) {
    this.enabled = enabled;
    this.clock = clock;
    this.maxSeriesPerKind = maxSeriesPerKind;
    this.startedAtMs = clock();
  }

  /**
   * The series of a route template or procedure path, made the first time it is asked for.
   * Callers may keep it; asking again is a Map lookup.
   */
  series(kind: AnalyticsKind, name: string): AnalyticsSeries {
    if (!this.enabled) return IGNORED;
    const series = this.byKind[kind];
    const found = series.get(name);
    if (found !== undefined) return found;
    if (series.size >= this.maxSeriesPerKind && name !== OVERFLOW_SERIES_NAME) {
      return this.series(kind, OVERFLOW_SERIES_NAME);
    }
    const created = new LiveSeries(kind, name, { clock: this.clock, startedAtMs: this.startedAtMs });
    series.set(name, created);
    return created;
  }

  /**
   * The live series of `kind`, for services that derive figures of their own (bottleneck rules,
   * capacity): their rate windows and histograms are read-only to them.
   */
  liveSeries(kind: AnalyticsKind): readonly LiveSeries[] {
    return [...this.byKind[kind].values()];
  }

  /**
   * Requests served since start, summed over the route series (every tRPC call is also a request
   * to a route, so procedures are not added again). Cheap: one pass over a few dozen series.
   */
  totalRequests(): number {
    let total = 0;
    for (const series of this.byKind.route.values()) total += series.requests;
    return total;
  }

  /** Every series of `kind` (both kinds when omitted), as plain objects. */
  snapshot(kind?: AnalyticsKind): AnalyticsSeriesSnapshot[] {
    const now = this.clock();
    const kinds: AnalyticsKind[] = kind ? [kind] : ['route', 'procedure'];
    return kinds.flatMap((k) => [...this.byKind[k].values()].map((s) => s.snapshot(now, this.scratch)));
  }

  /** Totals per kind and the top `top` series by requests, by p99 and by error rate. */
  overview(top = 5): PerformanceOverview {
    const all = this.snapshot();
    const first = (list: AnalyticsSeriesSnapshot[], key: AnalyticsSortKey) =>
      sortSeries(list, key, 'desc').slice(0, top);
    return {
      enabled: this.enabled,
      startedAt: new Date(this.startedAtMs).toISOString(),
      latencyWindowSeconds: RECENT_WINDOW_SECONDS,
      routes: this.totals('route', all),
      procedures: this.totals('procedure', all),
      top: {
        byRequests: first(all, 'requests'),
        byP99: first(
          all.filter((s) => s.p99Ms !== null),
          'p99',
        ),
        byErrorRate: first(
          all.filter((s) => s.errors > 0),
          'errorRate',
        ),
      },
    };
  }

  /** Series filtered and sorted as `performance.routes` asks. */
  routes(query: PerformanceRoutesInput): PerformanceRoutes {
    const needle = query.filter?.toLowerCase();
    const minRequests = query.minRequests ?? 0;
    const matching = this.snapshot(query.kind).filter(
      (s) => s.requests >= minRequests && (!needle || s.name.toLowerCase().includes(needle)),
    );
    return {
      total: matching.length,
      series: sortSeries(matching, query.sort, query.order).slice(0, query.limit),
    };
  }

  /** The series of one procedure path, or null when it was never called. */
  procedure(path: string): AnalyticsSeriesSnapshot | null {
    const series = this.byKind.procedure.get(path);
    return series ? series.snapshot(this.clock(), this.scratch) : null;
  }

  private totals(kind: AnalyticsKind, all: AnalyticsSeriesSnapshot[]): AnalyticsTotals {
    const now = this.clock();
    const series = [...this.byKind[kind].values()];
    const ofKind = all.filter((s) => s.kind === kind);
    const sum = (pick: (s: AnalyticsSeriesSnapshot) => number) => ofKind.reduce((n, s) => n + pick(s), 0);
    const allTime = new LatencyHistogram();
    this.scratch.reset();
    let requests5m = 0;
    let errors5m = 0;
    for (const s of series) {
      allTime.merge(s.allTime);
      s.recent.mergeInto(this.scratch, now);
      requests5m += s.calls.count(ERROR_RATE_WINDOW_SECONDS, now);
      errors5m += s.failures.count(ERROR_RATE_WINDOW_SECONDS, now);
    }
    const recent = latencyOf(this.scratch);
    const requests = sum((s) => s.requests);
    const errors = sum((s) => s.errors);
    return {
      series: series.length,
      requests,
      errors,
      clientErrors: sum((s) => s.clientErrors),
      errorRate: ratio(errors, requests),
      errorRate5m: ratio(errors5m, requests5m),
      // Every series divides by the same span (the analytics' age), so rates add up.
      rate1m: sum((s) => s.rate1m),
      rate5m: sum((s) => s.rate5m),
      rate15m: sum((s) => s.rate15m),
      recentRequests: this.scratch.count,
      p50Ms: recent.p50Ms,
      p90Ms: recent.p90Ms,
      p99Ms: recent.p99Ms,
      maxMs: recent.maxMs,
      allTime: latencyOf(allTime),
    };
  }
}

/**
 * A sorted copy: by `key` in `order`, series without a figure (null) last either way, then by
 * kind and name so equal figures keep a stable order between calls.
 */
function sortSeries(
  list: AnalyticsSeriesSnapshot[],
  key: AnalyticsSortKey,
  order: 'asc' | 'desc',
): AnalyticsSeriesSnapshot[] {
  const field = SORT_FIELDS[key];
  const sign = order === 'asc' ? 1 : -1;
  return [...list].sort((a, b) => {
    const x = a[field] as number | null;
    const y = b[field] as number | null;
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return (x - y) * sign;
    }
    return a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name);
  });
}
