import type { BinaryOperator, CompareOperator, Expr } from './expression';
import type { SampleHistory, Series, Snapshot } from './sample-history';
import { rangeFunction, rate, select } from './series-select';
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
 * - `increase(s[w])` is `rate(s[w])` × w, as in PromQL (so without its extrapolation either);
 *   `max_over_time` and the other `*_over_time` read each series' samples within the window.
 * - `sum`/`avg`/`max`/`min`/`count` by or without labels group as PromQL does; in arithmetic their
 *   result, like any vector, is the sum of its series.
 * - Comparisons with a vector filter its series, `a or b` adds b's series whose labels a lacks,
 *   `vector(n)` is one series of value n and `time()` the latest sample's time in seconds: PromQL's
 *   semantics, which aggregations and histogram_quantile apply to their operand; the result, in
 *   arithmetic, is again the sum of its series.
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
    case 'histogram_quantile': {
      const series = evaluate(expr.vector, history, latest);
      if (series === undefined) return undefined;
      return bucketQuantile(expr.quantile, typeof series === 'number' ? [] : series);
    }
    case 'negate': {
      const value = scalar(expr.operand, history, latest);
      return value === undefined ? undefined : -value;
    }
    case 'binary': {
      const left = scalar(expr.left, history, latest);
      const right = scalar(expr.right, history, latest);
      if (left === undefined || right === undefined) return undefined;
      return ARITHMETIC[expr.op](left, right);
    }
    default: {
      const value = evaluate(expr, history, latest);
      return value === undefined || typeof value === 'number' ? value : sum(value);
    }
  }
}

/** A scalar, or an instant vector whose series keep their labels (never their metric name). */
export type Value = number | Series[];

/**
 * PromQL's semantics, series by series: a vector stays a vector; arithmetic and comparisons between
 * two vectors pair the series with identical labels (one-to-one matching) and drop the others;
 * between a vector and a number they apply to each series. Undefined as for evaluateExpression.
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
    case 'time':
      return latest.at / 1000;
    case 'vector':
      return [{ labels: {}, value: expr.value }];
    case 'selector':
      return select(latest, expr.selector);
    case 'rate':
      return rate(expr.selector, expr.windowSeconds, history, latest);
    case 'range':
      return rangeFunction(expr.fn, expr.selector, expr.windowSeconds, history, latest);
    case 'aggregate': {
      const value = evaluate(expr.vector, history, latest);
      return value === undefined ? undefined : aggregate(expr.op, expr.grouping, seriesOf(value));
    }
    case 'histogram_quantile': {
      const value = evaluate(expr.vector, history, latest);
      return value === undefined ? undefined : histogramQuantiles(expr.quantile, seriesOf(value));
    }
    case 'negate': {
      const value = evaluate(expr.operand, history, latest);
      return value === undefined ? undefined : arithmetic(value, -1, (a) => -a);
    }
    case 'binary':
    case 'compare':
    case 'or': {
      const left = evaluate(expr.left, history, latest);
      const right = evaluate(expr.right, history, latest);
      if (left === undefined || right === undefined) return undefined;
      if (expr.kind === 'binary') return arithmetic(left, right, ARITHMETIC[expr.op]);
      if (expr.kind === 'compare') return compare(left, right, COMPARE[expr.op]);
      return union(seriesOf(left), seriesOf(right));
    }
  }
}

/** The parser lets only vectors reach aggregations and `or`; a number is an empty vector there. */
function seriesOf(value: Value): Series[] {
  return typeof value === 'number' ? [] : value;
}

const ARITHMETIC: Record<BinaryOperator, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
};

const COMPARE: Record<CompareOperator, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
};

/** The pairs of series with identical labels, one-to-one: [left, right]. */
function matched(left: Series[], right: Series[]): [Series, Series][] {
  const byLabels = new Map(right.map((s) => [labelsKey(s.labels), s]));
  const pairs: [Series, Series][] = [];
  for (const s of left) {
    const other = byLabels.get(labelsKey(s.labels));
    if (other) pairs.push([s, other]);
  }
  return pairs;
}

function arithmetic(left: Value, right: Value, op: (a: number, b: number) => number): Value {
  if (typeof left === 'number' && typeof right === 'number') return op(left, right);
  if (typeof left === 'number')
    return seriesOf(right).map((s) => ({ labels: s.labels, value: op(left, s.value) }));
  if (typeof right === 'number') return left.map((s) => ({ labels: s.labels, value: op(s.value, right) }));
  return matched(left, right).map(([l, r]) => ({ labels: l.labels, value: op(l.value, r.value) }));
}

/** A comparison filters: it keeps the vector's series (the left one's, between two) for which it holds. */
function compare(left: Value, right: Value, op: (a: number, b: number) => boolean): Value {
  if (typeof left === 'number' && typeof right === 'number') return op(left, right) ? 1 : 0;
  if (typeof left === 'number') return seriesOf(right).filter((s) => op(left, s.value));
  if (typeof right === 'number') return left.filter((s) => op(s.value, right));
  return matched(left, right)
    .filter(([l, r]) => op(l.value, r.value))
    .map(([l]) => l);
}

function union(left: Series[], right: Series[]): Series[] {
  const present = new Set(left.map((s) => labelsKey(s.labels)));
  return [...left, ...right.filter((s) => !present.has(labelsKey(s.labels)))];
}

function sum(series: Series[]): number {
  if (series.length === 0) return Number.NaN;
  let total = 0;
  for (const s of series) total += s.value;
  return total;
}
