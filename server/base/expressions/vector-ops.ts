import type { AggregateOperator, Grouping } from './expression';
import type { Series } from './sample-history';

/**
 * PromQL's operations on instant vectors (series without their metric name): aggregation by or
 * without labels, histogram_quantile per label set, and the bucket interpolation both use.
 */

/** The labels a series keeps under a grouping; with none, no labels (one group of all series). */
function groupLabels(labels: Record<string, string>, grouping: Grouping | null): Record<string, string> {
  const kept: Record<string, string> = {};
  if (!grouping) return kept;
  if (grouping.mode === 'by') {
    // A label a series lacks (or holds empty) is absent from its group's labels, as in PromQL.
    for (const name of grouping.labels) if (labels[name]) kept[name] = labels[name];
  } else {
    for (const [name, value] of Object.entries(labels))
      if (!grouping.labels.includes(name)) kept[name] = value;
  }
  return kept;
}

/** A stable key of a label set. */
export function labelsKey(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]),
  );
}

/** `op by/without (…) (series)`: one series per group; none for an empty input. */
export function aggregate(op: AggregateOperator, grouping: Grouping | null, series: Series[]): Series[] {
  const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
  for (const s of series) {
    const labels = groupLabels(s.labels, grouping);
    const key = labelsKey(labels);
    let group = groups.get(key);
    if (!group) {
      group = { labels, values: [] };
      groups.set(key, group);
    }
    group.values.push(s.value);
  }
  return [...groups.values()].map(({ labels, values }) => ({ labels, value: combine(op, values) }));
}

function combine(op: AggregateOperator, values: number[]): number {
  switch (op) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'count':
      return values.length;
    case 'max':
    case 'min': {
      // As in PromQL, NaN loses to any number and is the answer only when every value is NaN.
      let best = Number.NaN;
      for (const v of values) {
        if (Number.isNaN(best) || (op === 'max' ? v > best : v < best)) best = v;
      }
      return best;
    }
  }
}

/**
 * histogram_quantile(q, v) as PromQL computes it: v's series grouped by their labels but `le`, one
 * quantile per group (labels without `le`); groups without a +Inf bucket answer NaN.
 */
export function histogramQuantiles(q: number, series: Series[]): Series[] {
  const groups = new Map<string, { labels: Record<string, string>; buckets: Series[] }>();
  for (const s of series) {
    if (s.labels.le === undefined) continue;
    const { le: _le, ...labels } = s.labels;
    const key = labelsKey(labels);
    let group = groups.get(key);
    if (!group) {
      group = { labels, buckets: [] };
      groups.set(key, group);
    }
    group.buckets.push(s);
  }
  return [...groups.values()].map(({ labels, buckets }) => ({ labels, value: bucketQuantile(q, buckets) }));
}

/**
 * Prometheus's bucketQuantile: the buckets' counts added per upper bound, then linear
 * interpolation inside the bucket the rank falls in. NaN without a +Inf bucket or observations;
 * the second-highest bound when the rank falls in the +Inf bucket.
 */
export function bucketQuantile(q: number, series: Series[]): number {
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const byBound = new Map<number, number>();
  for (const s of series) {
    const le = s.labels.le;
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    if (Number.isNaN(bound)) continue;
    byBound.set(bound, (byBound.get(bound) ?? 0) + s.value);
  }
  const buckets = [...byBound].sort((a, b) => a[0] - b[0]);
  const last = buckets[buckets.length - 1];
  if (buckets.length < 2 || !last || last[0] !== Number.POSITIVE_INFINITY) return Number.NaN;
  // Counts read from several series at slightly different moments may dip; cumulative counts never do.
  for (let i = 1; i < buckets.length; i++) {
    const bucket = buckets[i] as [number, number];
    bucket[1] = Math.max(bucket[1], (buckets[i - 1] as [number, number])[1]);
  }
  const observations = last[1];
  if (observations === 0) return Number.NaN;
  let rank = q * observations;
  const index = buckets.findIndex(([, count]) => count >= rank);
  if (index === buckets.length - 1) return (buckets[buckets.length - 2] as [number, number])[0];
  const [upper, count] = buckets[index] as [number, number];
  if (index === 0 && upper <= 0) return upper;
  const [lower, below] = index === 0 ? [0, 0] : (buckets[index - 1] as [number, number]);
  rank -= below;
  return lower + (upper - lower) * (rank / (count - below));
}
