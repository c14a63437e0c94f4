import type { BinaryOperator, Expr, Matcher, Selector, VectorExpr } from './expression';
import type { SampleHistory, Series, Snapshot } from './sample-history';
import { aggregate, bucketQuantile, histogramQuantiles, labelsKey } from './vector-ops';

export { bucketQuantile } from './vector-ops';

/**
 * Evaluates a parsed expression over the latest sample (and, for `rate()`, the ones before it).
 *
 * - A selector or a `rate()` in arithmetic is the sum of its series; no series at all is NaN
 *   ("no data"), like an empty PromQL result, and a condition on NaN is false.
 * - `rate(s[w])` is the per-second increase of each series between the oldest sample within the
 *   window and the latest, counter resets included, over the time actually covered (no
 *   extrapolation). A series absent from earlier samples counts from 0: this process's counters
 *   only appear once incremented.
 * - `histogram_quantile(q, v)` adds v's series per `le` bucket and interpolates as Prometheus does
 *   (one number however many label sets v holds: the quantile over all of them).
 * - `sum`/`avg`/`max`/`min`/`count` by or without labels group as PromQL does; in arithmetic their
 *   result, like any vector, is the sum of its series.
 *
 * `evaluateVector` keeps the labels instead: PromQL's own semantics, series by series, which is
 * what a test compares with a real Prometheus.
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
    case 'rate':
    case 'aggregate': {
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
  switch (expr.kind) {
    case 'selector':
      return select(latest, expr.selector);
    case 'rate':
      return rate(expr.selector, expr.windowSeconds, history, latest);
    case 'aggregate': {
      const series = vector(expr.vector, history, latest);
      return series === undefined ? undefined : aggregate(expr.op, expr.grouping, series);
    }
    case 'histogram_quantile': {
      const series = vector(expr.vector, history, latest);
      return series === undefined ? undefined : histogramQuantiles(expr.quantile, series);
    }
  }
}

/** A scalar, or an instant vector whose series keep their labels (never their metric name). */
export type Value = number | Series[];

/**
 * PromQL's semantics, series by series: a vector stays a vector; arithmetic between two vectors
 * pairs the series with identical labels (one-to-one matching) and drops the others; between a
 * vector and a number it applies to each series. Undefined as for evaluateExpression.
 */
export function evaluateVector(expr: Expr, history: SampleHistory): Value | undefined {
  const latest = history.latest();
  if (!latest) return undefined;
  return evaluate(expr, history, latest);
}

function evaluate(expr: Expr, history: SampleHistory, latest: Snapshot): Value | undefined {
  switch (expr.kind) {
    case 'number':
      return expr.value;
    case 'negate': {
      const value = evaluate(expr.operand, history, latest);
      return value === undefined ? undefined : apply(value, -1, (a) => -a);
    }
    case 'binary': {
      const left = evaluate(expr.left, history, latest);
      const right = evaluate(expr.right, history, latest);
      if (left === undefined || right === undefined) return undefined;
      return apply(left, right, ARITHMETIC[expr.op]);
    }
    default:
      return vector(expr, history, latest);
  }
}

const ARITHMETIC: Record<BinaryOperator, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
};

function apply(left: Value, right: Value, op: (a: number, b: number) => number): Value {
  if (typeof left === 'number' && typeof right === 'number') return op(left, right);
  if (typeof left === 'number')
    return (right as Series[]).map((s) => ({ labels: s.labels, value: op(left, s.value) }));
  if (typeof right === 'number') return left.map((s) => ({ labels: s.labels, value: op(s.value, right) }));
  const byLabels = new Map(right.map((s) => [labelsKey(s.labels), s]));
  const result: Series[] = [];
  for (const s of left) {
    const other = byLabels.get(labelsKey(s.labels));
    if (other) result.push({ labels: s.labels, value: op(s.value, other.value) });
  }
  return result;
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
