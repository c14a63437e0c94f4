import type { Expr, Matcher, Selector, VectorExpr } from './expression';
import type { SampleHistory, Series, Snapshot } from './sample-history';

/**
 * Evaluates a parsed expression over the latest sample (and, for `rate()`, the ones before it).
 *
 * - A selector or a `rate()` in arithmetic is the sum of its series; no series at all is NaN
 *   ("no data"), like an empty PromQL result, and a condition on NaN is false.
 * - `rate(s[w])` is the per-second increase of each series between the oldest sample within the
 *   window and the latest, counter resets included, over the time actually covered (no
 *   extrapolation). A series absent from earlier samples counts from 0: this process's counters
 *   only appear once incremented.
 * - `histogram_quantile(q, v)` adds v's series per `le` bucket and interpolates as Prometheus does.
 *
 * Returns undefined while the history does not reach back far enough for a `rate()` (the first
 * round after start): the rule is then left as it is rather than judged on no data.
 */
export function evaluateExpression(expr: Expr, history: SampleHistory): number | undefined {
  const latest = history.latest();
  if (!latest) return undefined;
  return scalar(expr, history, latest);
}

function scalar(expr: Expr, history: SampleHistory, latest: Snapshot): number | undefined {
  switch (expr.kind) {
    case 'number':
      return expr.value;
    case 'selector':
    case 'rate': {
      const series = vector(expr, history, latest);
      return series === undefined ? undefined : sum(series);
    }
    case 'histogram_quantile': {
      const series = vector(expr.vector, history, latest);
      return series === undefined ? undefined : bucketQuantile(expr.quantile, series);
    }
    case 'negate': {
      const value = scalar(expr.operand, history, latest);
      return value === undefined ? undefined : -value;
    }
    case 'binary': {
      const left = scalar(expr.left, history, latest);
      const right = scalar(expr.right, history, latest);
      if (left === undefined || right === undefined) return undefined;
      if (expr.op === '+') return left + right;
      if (expr.op === '-') return left - right;
      if (expr.op === '*') return left * right;
      return left / right;
    }
  }
}

function vector(expr: VectorExpr, history: SampleHistory, latest: Snapshot): Series[] | undefined {
  if (expr.kind === 'selector') return select(latest, expr.selector);
  return rate(expr.selector, expr.windowSeconds, history, latest);
}

/** Series of the snapshot that the selector matches. */
function select(snapshot: Snapshot, selector: Selector): Series[] {
  const series = snapshot.metrics.get(selector.metric);
  if (!series) return [];
  const matched: Series[] = [];
  for (const s of series.values()) if (selector.matchers.every((m) => matches(m, s.labels))) matched.push(s);
  return matched;
}

function matches(matcher: Matcher, labels: Record<string, string>): boolean {
  // As in PromQL, a label a series lacks matches as the empty string.
  const value = labels[matcher.label] ?? '';
  switch (matcher.op) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
      return matcher.pattern?.matches(value) === true;
    case '!~':
      return matcher.pattern?.matches(value) === false;
  }
}

// A window of 5m sampled every 15 s may find its oldest sample a few ms past the 5 minutes; a
// tenth of the window of slack lets it use that sample rather than the next one.
const WINDOW_SLACK = 0.1;

function rate(
  selector: Selector,
  windowSeconds: number,
  history: SampleHistory,
  latest: Snapshot,
): Series[] | undefined {
  const from = latest.at - windowSeconds * 1000 * (1 + WINDOW_SLACK);
  const snapshots = history.holding(selector.metric, from);
  const first = snapshots[0];
  if (!first || first === latest) return undefined;
  const elapsedSeconds = (latest.at - first.at) / 1000;
  const rates: Series[] = [];
  const current = latest.metrics.get(selector.metric) ?? new Map<string, Series>();
  for (const [key, series] of current) {
    if (!selector.matchers.every((m) => matches(m, series.labels))) continue;
    // The first snapshot is the baseline; a series it lacks was born since, at 0.
    let previous = first.metrics.get(selector.metric)?.get(key)?.value ?? 0;
    let increase = 0;
    for (const snapshot of snapshots.slice(1)) {
      const value = snapshot.metrics.get(selector.metric)?.get(key)?.value;
      if (value === undefined) continue;
      // A counter that went down was reset: it counted `value` since.
      increase += value >= previous ? value - previous : value;
      previous = value;
    }
    rates.push({ labels: series.labels, value: increase / elapsedSeconds });
  }
  return rates;
}

function sum(series: Series[]): number {
  if (series.length === 0) return Number.NaN;
  let total = 0;
  for (const s of series) total += s.value;
  return total;
}

/**
 * Prometheus's bucketQuantile: the buckets' counts added per upper bound, then linear
 * interpolation inside the bucket the rank falls in. NaN without a +Inf bucket or observations;
 * the second-highest bound when the rank falls in the +Inf bucket.
 */
export function bucketQuantile(q: number, series: Series[]): number {
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
