/**
 * Bucket layout, in the manner of HdrHistogram: durations are counted in integer units of
 * 1/32 µs (31.25 ns, so 60 s still fits a 31-bit integer and `Math.clz32` finds the octave).
 * Below 2^SUB_BITS units every unit has a bucket of its own; each octave above [2^e, 2^(e+1))
 * is cut into 2^SUB_BITS equal buckets. A bucket's midpoint is then within 1/64 (1.6%) of every
 * duration it holds from 1 µs up (from 32 units: half a bucket's width over its lower bound).
 */
const SUB_BITS = 5;
const UNITS_PER_SECOND = 32e6;

/** The longest duration told apart; longer ones are counted in the top bucket (`max` stays exact). */
export const HIGHEST_TRACKED_SECONDS = 60;
const MAX_UNITS = HIGHEST_TRACKED_SECONDS * UNITS_PER_SECOND;

/** The worst relative error of a percentile against the exact one, for durations from 1 µs to 60 s. */
export const LATENCY_RELATIVE_ERROR = 1 / 2 ** (SUB_BITS + 1);

function bucketOf(units: number): number {
  const shift = Math.max(31 - Math.clz32(units) - SUB_BITS, 0);
  return (shift << SUB_BITS) + (units >>> shift);
}

const BUCKETS = bucketOf(MAX_UNITS) + 1;

/** The midpoint of a bucket, in seconds. */
function midpointOf(bucket: number): number {
  const shift = Math.max((bucket >> SUB_BITS) - 1, 0);
  const lower = (bucket - (shift << SUB_BITS)) * 2 ** shift;
  return (lower + 2 ** shift / 2) / UNITS_PER_SECOND;
}

/** A histogram's non-empty buckets (index and count, in step) and its exact sum, min and max. */
export interface SparseLatency {
  indexes: number[];
  counts: number[];
  sumSeconds: number;
  minSeconds: number;
  maxSeconds: number;
}

/**
 * A latency histogram with a fixed set of log-linear buckets (858 of them, 6.9 KB), so two
 * histograms merge by adding their arrays: per-interval histograms roll up into a window, and
 * per-route ones into a total, without losing precision. `record` allocates nothing.
 */
export class LatencyHistogram {
  /** Durations per bucket; Float64 so an all-time count cannot wrap (exact up to 2^53). */
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sumSeconds = 0;
  private minSeconds = Number.POSITIVE_INFINITY;
  private maxSeconds = 0;

  /** Counts one duration. Negative or NaN durations count as zero. */
  record(seconds: number): void {
    if (!(seconds >= 0)) seconds = 0;
    const units = seconds < HIGHEST_TRACKED_SECONDS ? (seconds * UNITS_PER_SECOND) | 0 : MAX_UNITS;
    const bucket = bucketOf(units);
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.total++;
    this.sumSeconds += seconds;
    if (seconds < this.minSeconds) this.minSeconds = seconds;
    if (seconds > this.maxSeconds) this.maxSeconds = seconds;
  }

  /** Adds every duration of `other` to this one, as if each had been recorded here. */
  merge(other: LatencyHistogram): void {
    if (other.total === 0) return;
    const mine = this.counts;
    const theirs = other.counts;
    for (let i = 0; i < BUCKETS; i++) mine[i] = (mine[i] as number) + (theirs[i] as number);
    this.total += other.total;
    this.sumSeconds += other.sumSeconds;
    if (other.minSeconds < this.minSeconds) this.minSeconds = other.minSeconds;
    if (other.maxSeconds > this.maxSeconds) this.maxSeconds = other.maxSeconds;
  }

  /**
   * The duration, in seconds, below or at which a fraction `q` (0 to 1) of the recorded ones lie
   * (nearest rank), within `LATENCY_RELATIVE_ERROR` of the exact one; 0 when nothing was recorded.
   */
  percentile(q: number): number {
    if (this.total === 0) return 0;
    if (q >= 1) return this.maxSeconds;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] as number;
      // Clamped to what was seen: a bucket's midpoint may lie past the only duration in it.
      if (seen >= rank) return Math.min(Math.max(midpointOf(i), this.minSeconds), this.maxSeconds);
    }
    return this.maxSeconds;
  }

  /** Durations recorded. */
  get count(): number {
    return this.total;
  }

  /** The longest duration recorded, in seconds, exactly (even past `HIGHEST_TRACKED_SECONDS`). */
  get max(): number {
    return this.maxSeconds;
  }

  /** The shortest duration recorded, in seconds; 0 when nothing was. */
  get min(): number {
    return this.total === 0 ? 0 : this.minSeconds;
  }

  /** The sum of the durations recorded, in seconds. */
  get sum(): number {
    return this.sumSeconds;
  }

  /**
   * The histogram as plain data, only its non-empty buckets: what a stored minute keeps (a
   * minute's few hundred requests fill a few dozen of the 858 buckets).
   */
  toSparse(): SparseLatency {
    const indexes: number[] = [];
    const counts: number[] = [];
    const all = this.counts;
    if (this.total > 0) {
      for (let i = 0; i < BUCKETS; i++) {
        const count = all[i] as number;
        if (count > 0) {
          indexes.push(i);
          counts.push(count);
        }
      }
    }
    return {
      indexes,
      counts,
      sumSeconds: this.sumSeconds,
      minSeconds: this.min,
      maxSeconds: this.maxSeconds,
    };
  }

  /**
   * Adds a histogram given as `toSparse` made it, as if its durations had been recorded here:
   * histograms written by different instances merge into the same percentiles as one would have.
   * Bucket indexes outside the layout (a newer layout's rows) are ignored.
   */
  mergeSparse(sparse: SparseLatency): void {
    let added = 0;
    const all = this.counts;
    for (let i = 0; i < sparse.indexes.length; i++) {
      const bucket = sparse.indexes[i] as number;
      const count = sparse.counts[i] as number;
      if (!(bucket >= 0 && bucket < BUCKETS && count > 0)) continue;
      all[bucket] = (all[bucket] as number) + count;
      added += count;
    }
    if (added === 0) return;
    this.total += added;
    this.sumSeconds += sparse.sumSeconds;
    if (sparse.minSeconds < this.minSeconds) this.minSeconds = sparse.minSeconds;
    if (sparse.maxSeconds > this.maxSeconds) this.maxSeconds = sparse.maxSeconds;
  }

  reset(): void {
    if (this.total === 0) return;
    this.counts.fill(0);
    this.total = 0;
    this.sumSeconds = 0;
    this.minSeconds = Number.POSITIVE_INFINITY;
    this.maxSeconds = 0;
  }
}
