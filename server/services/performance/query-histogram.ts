/** Smallest duration told apart from zero: 1 µs. */
const MIN_MS = 0.001;
/** Buckets per doubling: each bucket's upper bound is 2^(1/8) ≈ 9 % above its lower one. */
const PER_DOUBLING = 8;
/** 2^27 µs ≈ 134 s; anything longer lands in the last bucket, whose upper bound is unknown. */
const DOUBLINGS = 27;
export const QUERY_HISTOGRAM_BUCKETS = DOUBLINGS * PER_DOUBLING + 1;

/**
 * Counts of durations in log-spaced buckets (HDR-like, ~9 % resolution), one fixed array per
 * query shape: recording is an index computation and an increment, with no allocation. Coarser
 * than a route's latency histogram on purpose: up to 2,000 shapes each hold one (868 bytes).
 */
export class QueryHistogram {
  private readonly counts = new Uint32Array(QUERY_HISTOGRAM_BUCKETS);
  private total = 0;

  record(durationMs: number): void {
    this.counts[bucketOf(durationMs)]!++;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  /**
   * The upper bound of the bucket holding the `q` quantile (0 < q ≤ 1): never below the true
   * value, and at most one bucket (~9 %) above it; Infinity beyond ~134 s. Callers cap it by the
   * observed maximum.
   */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < QUERY_HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return upperBound(i);
    }
    return upperBound(QUERY_HISTOGRAM_BUCKETS - 1);
  }
}

function bucketOf(durationMs: number): number {
  if (!(durationMs > MIN_MS)) return 0;
  const index = Math.ceil(Math.log2(durationMs / MIN_MS) * PER_DOUBLING);
  return index < QUERY_HISTOGRAM_BUCKETS ? index : QUERY_HISTOGRAM_BUCKETS - 1;
}

function upperBound(bucket: number): number {
  if (bucket === QUERY_HISTOGRAM_BUCKETS - 1) return Number.POSITIVE_INFINITY;
  return MIN_MS * 2 ** (bucket / PER_DOUBLING);
}
