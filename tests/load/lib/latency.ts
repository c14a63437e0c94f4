/**
 * Latencies of one traffic class, kept exactly: a run sends thousands of requests, not
 * millions, so every value fits in memory and percentiles need no bucketing error.
 */
export class LatencyRecorder {
  private values = new Float64Array(1024);
  private size = 0;
  private sorted: Float64Array | undefined;

  record(ms: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = ms;
    this.sorted = undefined;
  }

  get count(): number {
    return this.size;
  }

  /** Adds every value of `other` (a class's values into the total). */
  merge(other: LatencyRecorder): void {
    for (let i = 0; i < other.size; i++) this.record(other.values[i]!);
  }

  /** The nearest-rank percentile (p in 0..100): a value that was actually observed; NaN when empty. */
  percentile(p: number): number {
    return percentileOfSorted(this.ordered(), p);
  }

  get max(): number {
    return this.size ? this.ordered()[this.size - 1]! : Number.NaN;
  }

  private ordered(): Float64Array {
    this.sorted ??= this.values.slice(0, this.size).sort();
    return this.sorted;
  }
}

/**
 * Nearest rank: the smallest value with at least p% of the values at or below it. Unlike
 * interpolation it never reports a latency nobody saw, and p99 of 100 values is the 99th, not
 * a blend of the two slowest.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length - 1e-9));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}
