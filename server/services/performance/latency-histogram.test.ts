import { describe, expect, it } from 'vitest';
import { HIGHEST_TRACKED_SECONDS, LATENCY_RELATIVE_ERROR, LatencyHistogram } from './latency-histogram';

/** A seeded generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Durations spread evenly over the orders of magnitude from 1 µs to 60 s. */
function logUniform(next: () => number, count: number): number[] {
  const low = Math.log(1e-6);
  const high = Math.log(HIGHEST_TRACKED_SECONDS);
  return Array.from({ length: count }, () => Math.exp(low + (high - low) * next()));
}

/** Request-like durations: most near 5 ms, a long tail of slow ones. */
function requestLike(next: () => number, count: number): number[] {
  return Array.from({ length: count }, () => {
    const base = 0.005 * (0.5 + next());
    return next() < 0.02 ? base * (20 + 200 * next()) : base;
  });
}

/** The nearest-rank percentile of the samples, as the histogram defines it. */
function exactPercentile(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

const QUANTILES = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

describe('LatencyHistogram', () => {
  it.each([
    ['log-uniform from 1 µs to 60 s', logUniform(random(1), 100_000)],
    ['request-like with a slow tail', requestLike(random(2), 100_000)],
    ['a few samples', logUniform(random(3), 7)],
  ])('gives every percentile within the stated relative error of the exact one (%s)', (_, samples) => {
    const histogram = new LatencyHistogram();
    for (const seconds of samples) histogram.record(seconds);
    const sorted = [...samples].sort((a, b) => a - b);
    expect(LATENCY_RELATIVE_ERROR).toBeLessThanOrEqual(0.02);
    for (const q of QUANTILES) {
      const exact = exactPercentile(sorted, q);
      const error = Math.abs(histogram.percentile(q) - exact) / exact;
      expect(error, `p${q * 100}: ${histogram.percentile(q)} against ${exact}`).toBeLessThanOrEqual(
        LATENCY_RELATIVE_ERROR + 1e-12,
      );
    }
    expect(histogram.count).toBe(samples.length);
    expect(histogram.max).toBe(sorted.at(-1));
    expect(histogram.min).toBe(sorted[0]);
  });

  it('after a merge, answers exactly as one histogram that recorded both sets', () => {
    const next = random(4);
    const first = logUniform(next, 20_000);
    const second = requestLike(next, 30_000);
    const left = new LatencyHistogram();
    const right = new LatencyHistogram();
    const both = new LatencyHistogram();
    for (const seconds of first) {
      left.record(seconds);
      both.record(seconds);
    }
    for (const seconds of second) {
      right.record(seconds);
      both.record(seconds);
    }
    left.merge(right);
    for (let q = 0; q <= 1; q += 0.0125) expect(left.percentile(q)).toBe(both.percentile(q));
    expect(left.count).toBe(both.count);
    expect(left.max).toBe(both.max);
    expect(left.min).toBe(both.min);
    // Sums added in another order may differ in the last bits.
    expect(Math.abs(left.sum - both.sum) / both.sum).toBeLessThan(1e-12);
    // The merged-in histogram is left as it was.
    expect(right.count).toBe(second.length);
  });

  it('counts durations past 60 s in its top bucket and keeps the exact maximum', () => {
    const histogram = new LatencyHistogram();
    histogram.record(1);
    histogram.record(90);
    histogram.record(3600);
    expect(histogram.max).toBe(3600);
    expect(histogram.percentile(1)).toBe(3600);
    // The median is the 90 s one, told apart only as "60 s or more".
    expect(histogram.percentile(0.5)).toBeGreaterThanOrEqual(
      HIGHEST_TRACKED_SECONDS * (1 - LATENCY_RELATIVE_ERROR),
    );
    expect(histogram.percentile(0.5)).toBeLessThanOrEqual(
      HIGHEST_TRACKED_SECONDS * (1 + LATENCY_RELATIVE_ERROR),
    );
  });

  it('counts negative and NaN durations as zero rather than corrupting the sum', () => {
    const histogram = new LatencyHistogram();
    histogram.record(-1);
    histogram.record(Number.NaN);
    histogram.record(0.002);
    expect(histogram.count).toBe(3);
    expect(histogram.sum).toBe(0.002);
    expect(histogram.min).toBe(0);
    // Below 1 µs, the range the histogram promises to tell apart.
    expect(histogram.percentile(0.5)).toBeLessThan(1e-6);
  });

  it('is empty again after a reset, and reports zeros when empty', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.percentile(0.99)).toBe(0);
    for (const seconds of logUniform(random(5), 1000)) histogram.record(seconds);
    histogram.reset();
    expect(histogram.count).toBe(0);
    expect(histogram.max).toBe(0);
    expect(histogram.min).toBe(0);
    expect(histogram.sum).toBe(0);
    expect(histogram.percentile(0.5)).toBe(0);
    histogram.record(0.01);
    expect(histogram.percentile(0.5)).toBe(0.01);
  });
});
