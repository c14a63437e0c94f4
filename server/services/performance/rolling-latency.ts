import { LatencyHistogram } from './latency-histogram';

/** The default window: five complete minutes besides the current one. */
export const RECENT_INTERVAL_SECONDS = 60;
export const RECENT_INTERVALS = 5;
/** Nominal span of the default window, in seconds. */
export const RECENT_WINDOW_SECONDS = RECENT_INTERVAL_SECONDS * RECENT_INTERVALS;

export interface RollingLatencyOptions {
  /** Length of one interval, in seconds. */
  intervalSeconds?: number;
  /** Complete intervals kept besides the current one. */
  intervals?: number;
}

/**
 * Latencies of the recent past: one histogram per interval (a minute by default), reused in a
 * ring when its interval is over. The window is the last `intervals` complete intervals plus the
 * current one: with the defaults, between five and six minutes.
 *
 * Intervals are aligned on the clock (minute boundaries), so every series' ring rotates at the
 * same instants and windows of different series merge into one of the same span.
 */
export class RollingLatency {
  private readonly intervalMs: number;
  private readonly histograms: LatencyHistogram[];
  /** The interval number (ms since the epoch / intervalMs) each histogram currently holds. */
  private readonly heldInterval: Float64Array;
  /** Nominal span of the window, in seconds. */
  readonly windowSeconds: number;

  constructor({
    intervalSeconds = RECENT_INTERVAL_SECONDS,
    intervals = RECENT_INTERVALS,
  }: RollingLatencyOptions = {}) {
    this.intervalMs = intervalSeconds * 1000;
    this.histograms = Array.from({ length: intervals + 1 }, () => new LatencyHistogram());
    this.heldInterval = new Float64Array(intervals + 1).fill(-1);
    this.windowSeconds = intervalSeconds * intervals;
  }

  /** Counts one duration at `now` (ms since the epoch). */
  record(seconds: number, now: number): void {
    const interval = Math.floor(now / this.intervalMs);
    const slot = interval % this.histograms.length;
    const histogram = this.histograms[slot] as LatencyHistogram;
    if (this.heldInterval[slot] !== interval) {
      // An interval older than the window, or (the wall clock stepped back) a newer one: reuse it.
      histogram.reset();
      this.heldInterval[slot] = interval;
    }
    histogram.record(seconds);
  }

  /**
   * Adds the durations of the window ending at `now` to `target`: the current interval and
   * `intervals` complete ones before it (all that are kept, by default).
   */
  mergeInto(target: LatencyHistogram, now: number, intervals = this.histograms.length - 1): void {
    const current = Math.floor(now / this.intervalMs);
    const oldest = current - Math.min(intervals, this.histograms.length - 1);
    for (let slot = 0; slot < this.histograms.length; slot++) {
      const interval = this.heldInterval[slot] as number;
      if (interval >= oldest && interval <= current) target.merge(this.histograms[slot] as LatencyHistogram);
    }
  }
}
