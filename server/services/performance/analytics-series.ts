import type { AnalyticsKind, AnalyticsSeriesSnapshot, LatencySummary } from '../../../shared/performance';
import { LatencyHistogram } from './latency-histogram';
import { MinuteCounts } from './minute-counts';
import { RateWindows } from './rate-windows';
import { RollingLatency } from './rolling-latency';

/** What the request path holds on to: one per route template or procedure path, kept for good. */
export interface AnalyticsSeries {
  readonly kind: AnalyticsKind;
  readonly name: string;
  /**
   * Counts one request that took `seconds` and was answered with HTTP `status` (for a procedure,
   * the status its tRPC code maps to); allocates nothing. `now` is when it ended, on the
   * analytics clock (`epochMsOf(performance.now())`): a caller that has read the time anyway
   * passes it and spares a clock read (~40 ns); without it the series reads the clock.
   */
  record(seconds: number, status: number, now?: number): void;
}

/** The window of `errorRate5m`, in seconds. */
export const ERROR_RATE_WINDOW_SECONDS = 300;

export interface LiveSeriesOptions {
  clock: () => number;
  /** When the analytics began, for rates over windows longer than the uptime. */
  startedAtMs: number;
}

/**
 * The figures of one series: counters, per-second rate windows of requests and of errors, two
 * latency histograms (all-time and rolling) and the minutes the history has not stored yet.
 * About 70 KB, allocated when the series appears.
 */
export class LiveSeries implements AnalyticsSeries {
  requests = 0;
  /** Requests the server failed (5xx): what `failures` and the error rates count. */
  errors = 0;
  /** Requests refused or invalid (4xx): a separate signal, never part of the error rate. */
  clientErrors = 0;
  /** ms since the epoch of the latest request; 0 before the first. */
  lastSeenMs = 0;
  readonly calls: RateWindows;
  readonly failures: RateWindows;
  readonly allTime = new LatencyHistogram();
  readonly recent = new RollingLatency();
  readonly minutes = new MinuteCounts();
  private readonly clock: () => number;

  constructor(
    readonly kind: AnalyticsKind,
    readonly name: string,
    { clock, startedAtMs }: LiveSeriesOptions,
  ) {
    this.clock = clock;
    this.calls = new RateWindows({ clock, startedAtMs });
    this.failures = new RateWindows({ clock, startedAtMs });
  }

  record(seconds: number, status: number, now: number = this.clock()): void {
    this.requests++;
    this.lastSeenMs = now;
    this.calls.record(now);
    if (status >= 500) {
      this.errors++;
      this.failures.record(now);
    } else if (status >= 400) {
      this.clientErrors++;
    }
    this.allTime.record(seconds);
    this.recent.record(seconds, now);
    this.minutes.record(seconds, status, now);
  }

  /** The figures at `now`; `scratch` is a histogram the caller lends (it is reset first). */
  snapshot(now: number, scratch: LatencyHistogram): AnalyticsSeriesSnapshot {
    scratch.reset();
    this.recent.mergeInto(scratch, now);
    const recent = latencyOf(scratch);
    const requests5m = this.calls.count(ERROR_RATE_WINDOW_SECONDS, now);
    return {
      kind: this.kind,
      name: this.name,
      requests: this.requests,
      errors: this.errors,
      clientErrors: this.clientErrors,
      errorRate: ratio(this.errors, this.requests),
      errorRate5m: ratio(this.failures.count(ERROR_RATE_WINDOW_SECONDS, now), requests5m),
      rate1m: this.calls.rate(60, now),
      rate5m: this.calls.rate(300, now),
      rate15m: this.calls.rate(900, now),
      recentRequests: scratch.count,
      p50Ms: recent.p50Ms,
      p90Ms: recent.p90Ms,
      p99Ms: recent.p99Ms,
      maxMs: recent.maxMs,
      allTime: latencyOf(this.allTime),
      lastSeenAt: this.lastSeenMs > 0 ? new Date(this.lastSeenMs).toISOString() : null,
    };
  }
}

/** Percentiles, max and mean of a histogram in milliseconds (to the microsecond); nulls when empty. */
export function latencyOf(histogram: LatencyHistogram): LatencySummary {
  if (histogram.count === 0) return { p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, meanMs: null };
  return {
    p50Ms: toMs(histogram.percentile(0.5)),
    p90Ms: toMs(histogram.percentile(0.9)),
    p99Ms: toMs(histogram.percentile(0.99)),
    maxMs: toMs(histogram.max),
    meanMs: toMs(histogram.sum / histogram.count),
  };
}

export function ratio(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

function toMs(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e3;
}
