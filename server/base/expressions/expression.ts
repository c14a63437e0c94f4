import { compileLabelPattern, type LabelPattern, LabelPatternError } from './label-pattern';

/**
 * The alert rules' expression language: a small, safe subset of PromQL over the platform's own
 * metrics, parsed here (never evaluated by `eval` or `Function`) and refused with the position of
 * the first mistake. Grammar:
 *
 *   expr      = compare ('or' compare)*                          (vectors on both sides)
 *   compare   = sum (('==' | '!=' | '>' | '<' | '>=' | '<=') sum)*  (a vector on one side: a filter)
 *   sum       = term (('+' | '-') term)*
 *   term      = unary (('*' | '/') unary)*
 *   unary     = '-' unary | primary
 *   primary   = number | '(' expr ')' | selector | rate | range | quantile | aggregate
 *             | 'vector' '(' number ')' | 'time' '(' ')'
 *   selector  = metric ('{' matcher (',' matcher)* ','? '}')?
 *   matcher   = label ('=' | '!=' | '=~' | '!~') string
 *   rate      = 'rate' '(' selector '[' duration ']' ')'
 *   range     = ('increase' | 'max_over_time' | 'min_over_time' | 'avg_over_time'
 *               | 'sum_over_time' | 'count_over_time') '(' selector '[' duration ']' ')'
 *   quantile  = 'histogram_quantile' '(' number ',' vector ')'
 *   aggregate = aggrop grouping? '(' expr ')' grouping?     (a vector expression; one grouping)
 *   aggrop    = 'sum' | 'avg' | 'max' | 'min' | 'count'
 *   grouping  = ('by' | 'without') '(' (label (',' label)* ','?)? ')'
 *   duration  = digits ('ms' | 's' | 'm' | 'h')
 *
 * histogram_quantile's vector is a `_bucket` selector, a rate() of one, or an aggregation that keeps
 * the `le` label (`sum by (le) (rate(x_bucket[5m]))`), as in PromQL.
 *
 * A vector in arithmetic is the sum of the series it holds (a histogram's series are named as
 * Prometheus exposes them: `_bucket`, `_sum`, `_count`); see expression-eval.ts for the semantics.
 */

export const MAX_EXPRESSION_LENGTH = 1_000;
const MAX_DEPTH = 32;
const MIN_WINDOW_SECONDS = 1;
const MAX_WINDOW_SECONDS = 3_600;

export type MatchOperator = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  label: string;
  op: MatchOperator;
  value: string;
  /** Compiled for `=~` and `!~`. */
  pattern: LabelPattern | null;
}

export interface Selector {
  metric: string;
  matchers: Matcher[];
}

export type BinaryOperator = '+' | '-' | '*' | '/';

export type CompareOperator = '==' | '!=' | '>' | '<' | '>=' | '<=';

/** Functions of a selector's samples over a window but rate(). */
export type RangeFunction =
  | 'increase'
  | 'max_over_time'
  | 'min_over_time'
  | 'avg_over_time'
  | 'sum_over_time'
  | 'count_over_time';

export type AggregateOperator = 'sum' | 'avg' | 'max' | 'min' | 'count';

/** `by (labels)` keeps only those labels, `without (labels)` all others; null: one group of all. */
export interface Grouping {
  mode: 'by' | 'without';
  labels: string[];
}

export type Expr =
  | { kind: 'number'; value: number }
  | { kind: 'aggregate'; op: AggregateOperator; grouping: Grouping | null; vector: Expr }
  | { kind: 'selector'; selector: Selector }
  | { kind: 'rate'; selector: Selector; windowSeconds: number }
  | { kind: 'range'; fn: RangeFunction; selector: Selector; windowSeconds: number }
  | { kind: 'vector'; value: number }
  | { kind: 'time' }
  | { kind: 'compare'; op: CompareOperator; left: Expr; right: Expr }
  | { kind: 'or'; left: Expr; right: Expr }
  | { kind: 'histogram_quantile'; quantile: number; vector: BucketsExpr }
  | { kind: 'binary'; op: BinaryOperator; left: Expr; right: Expr }
  | { kind: 'negate'; operand: Expr };

/** What histogram_quantile() reads buckets from. */
export type BucketsExpr = Extract<Expr, { kind: 'selector' | 'rate' | 'aggregate' }>;

const VECTOR_KINDS: ReadonlySet<Expr['kind']> = new Set([
  'selector',
  'rate',
  'range',
  'aggregate',
  'histogram_quantile',
  'vector',
  'or',
]);

/** Whether the expression stands for a set of series rather than one number. */
export function isVector(expr: Expr): boolean {
  if (expr.kind === 'binary' || expr.kind === 'compare') return isVector(expr.left) || isVector(expr.right);
  if (expr.kind === 'negate') return isVector(expr.operand);
  return VECTOR_KINDS.has(expr.kind);
}

/** A mistake in an expression: where it is (0-based offset) and what was expected there. */
export class ExpressionError extends Error {
  override name = 'ExpressionError';
  constructor(
    readonly position: number,
    readonly expected: string,
    found: string,
  ) {
    super(`at position ${position}: expected ${expected}, found ${found}`);
  }
}

const METRIC_START = /[a-zA-Z_:]/;
const METRIC_REST = /[a-zA-Z0-9_:]/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const DURATION = /^(\d+)(ms|s|m|h)/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3_600 };
const AGGREGATE_OPERATORS: readonly string[] = ['sum', 'avg', 'max', 'min', 'count'];
const RANGE_FUNCTIONS: readonly string[] = [
  'increase',
  'max_over_time',
  'min_over_time',
  'avg_over_time',
  'sum_over_time',
  'count_over_time',
];
const FUNCTIONS = [
  'rate',
  'histogram_quantile',
  'vector',
  'time',
  ...RANGE_FUNCTIONS,
  ...AGGREGATE_OPERATORS,
];
const COMPARE_OPERATORS: readonly CompareOperator[] = ['==', '!=', '>=', '<=', '>', '<'];

/** Parses an expression, or throws ExpressionError. */
export function parseExpression(source: string): Expr {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(MAX_EXPRESSION_LENGTH, `at most ${MAX_EXPRESSION_LENGTH} characters`, 'more');
  }
  const parser = new Parser(source);
  const expr = parser.expression();
  parser.end();
  return expr;
}

/**
 * The metrics `rate()` and the other range functions read and their longest window: what the
 * evaluator must keep samples of.
 */
export function rateRequirements(expr: Expr): { metrics: Set<string>; maxWindowSeconds: number } {
  const metrics = new Set<string>();
  let maxWindowSeconds = 0;
  const visit = (e: Expr): void => {
    if (e.kind === 'rate' || e.kind === 'range') {
      metrics.add(e.selector.metric);
      maxWindowSeconds = Math.max(maxWindowSeconds, e.windowSeconds);
    } else if (e.kind === 'histogram_quantile' || e.kind === 'aggregate') visit(e.vector);
    else if (e.kind === 'binary' || e.kind === 'compare' || e.kind === 'or') {
      visit(e.left);
      visit(e.right);
    } else if (e.kind === 'negate') visit(e.operand);
  };
  visit(expr);
  return { metrics, maxWindowSeconds };
}

/** `x_bucket`, or a recording rule's name for buckets (`level:x_bucket:rate5m`). */
function isBucketMetric(metric: string): boolean {
  return metric.endsWith('_bucket') || metric.includes('_bucket:');
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly src: string) {}

  expression(): Expr {
    if (++this.depth > MAX_DEPTH) this.fail(`at most ${MAX_DEPTH} levels of nesting`);
    let left = this.comparison();
    for (;;) {
      this.skipSpace();
      const at = this.pos;
      if (!/^or\b/.test(this.src.slice(this.pos))) break;
      this.pos += 2;
      const right = this.comparison();
      if (!isVector(left) || !isVector(right)) {
        this.pos = at;
        this.fail("a vector on both sides of 'or'", "'or'");
      }
      left = { kind: 'or', left, right };
    }
    this.depth--;
    return left;
  }

  end(): void {
    this.skipSpace();
    if (this.pos < this.src.length) {
      this.fail('an operator (+, -, *, /, a comparison, or) or the end of the expression');
    }
  }

  private comparison(): Expr {
    let left = this.sum();
    for (;;) {
      this.skipSpace();
      const at = this.pos;
      const op = COMPARE_OPERATORS.find((o) => this.src.startsWith(o, this.pos));
      if (!op) return left;
      this.pos += op.length;
      const right = this.sum();
      if (!isVector(left) && !isVector(right)) {
        // PromQL wants `bool` here; a rule compares with its own comparator and threshold.
        this.pos = at;
        this.fail('a vector on one side of a comparison', `'${op}'`);
      }
      left = { kind: 'compare', op, left, right };
    }
  }

  private sum(): Expr {
    let left = this.term();
    for (let op = this.operator('+-'); op; op = this.operator('+-')) {
      left = { kind: 'binary', op, left, right: this.term() };
    }
    return left;
  }

  private term(): Expr {
    let left = this.unary();
    for (let op = this.operator('*/'); op; op = this.operator('*/')) {
      left = { kind: 'binary', op, left, right: this.unary() };
    }
    return left;
  }

  private unary(): Expr {
    if (this.operator('-')) {
      if (++this.depth > MAX_DEPTH) this.fail(`at most ${MAX_DEPTH} levels of nesting`);
      const operand = this.unary();
      this.depth--;
      return { kind: 'negate', operand };
    }
    return this.primary();
  }

  private primary(): Expr {
    this.skipSpace();
    const c = this.src[this.pos];
    if (c === '(') {
      this.pos++;
      const inner = this.expression();
      this.expect(')');
      return inner;
    }
    if (c !== undefined && (c === '.' || (c >= '0' && c <= '9')))
      return { kind: 'number', value: this.number() };
    if (c !== undefined && METRIC_START.test(c)) {
      const start = this.pos;
      const name = this.metricName();
      this.skipSpace();
      if (AGGREGATE_OPERATORS.includes(name) && this.groupingNext()) {
        return this.aggregate(name as AggregateOperator);
      }
      if (this.src[this.pos] === '(') {
        if (name === 'rate') return { kind: 'rate', ...this.rangeArgument() };
        if (RANGE_FUNCTIONS.includes(name)) {
          return { kind: 'range', fn: name as RangeFunction, ...this.rangeArgument() };
        }
        if (name === 'histogram_quantile') return this.quantile();
        if (name === 'vector') {
          this.expect('(');
          this.skipSpace();
          const value = this.number();
          this.expect(')');
          return { kind: 'vector', value };
        }
        if (name === 'time') {
          this.expect('(');
          this.expect(')');
          return { kind: 'time' };
        }
        this.pos = start;
        this.fail(`a known function (${FUNCTIONS.join(', ')})`, `'${name}'`);
      }
      return { kind: 'selector', selector: this.selector(name) };
    }
    if (c === '{') this.fail('a metric name before the label matchers');
    return this.fail("a number, a metric, rate(…), histogram_quantile(…), an aggregation or '('");
  }

  /** Whether an aggregation operator's name is followed by its operand or grouping. */
  private groupingNext(): boolean {
    return this.src[this.pos] === '(' || /^(?:by|without)\s*\(/.test(this.src.slice(this.pos));
  }

  private aggregate(op: AggregateOperator): Expr {
    let grouping = this.grouping();
    this.expect('(');
    this.skipSpace();
    const vectorAt = this.pos;
    const vector = this.expression();
    if (!isVector(vector)) {
      this.pos = vectorAt;
      this.fail(`a vector to ${op} (a selector, rate(…), histogram_quantile(…) or an aggregation)`);
    }
    this.expect(')');
    this.skipSpace();
    const suffixAt = this.pos;
    const suffix = this.grouping();
    if (suffix) {
      if (grouping) {
        this.pos = suffixAt;
        this.fail('one grouping (by or without) per aggregation', 'a second one');
      }
      grouping = suffix;
    }
    return { kind: 'aggregate', op, grouping, vector };
  }

  /** `by (a, b)` or `without (a)` if it comes next. */
  private grouping(): Grouping | null {
    this.skipSpace();
    const mode = /^(by|without)\s*\(/.exec(this.src.slice(this.pos))?.[1] as Grouping['mode'] | undefined;
    if (!mode) return null;
    this.pos += mode.length;
    this.expect('(');
    const labels: string[] = [];
    for (;;) {
      this.skipSpace();
      if (this.src[this.pos] === ')') break;
      const label = LABEL_NAME.exec(this.src.slice(this.pos))?.[0];
      if (!label) this.fail("a label name or ')'");
      labels.push(label);
      this.pos += label.length;
      this.skipSpace();
      if (this.src[this.pos] === ',') this.pos++;
      else if (this.src[this.pos] !== ')') this.fail("',' or ')'");
    }
    this.pos++;
    return { mode, labels };
  }

  /** `(selector[duration])`, the argument of rate() and the other range functions. */
  private rangeArgument(): { selector: Selector; windowSeconds: number } {
    this.expect('(');
    this.skipSpace();
    const selector = this.selector(this.metricName());
    this.expect('[');
    this.skipSpace();
    const windowSeconds = this.duration();
    this.expect(']');
    this.expect(')');
    return { selector, windowSeconds };
  }

  private quantile(): Expr {
    this.expect('(');
    this.skipSpace();
    const at = this.pos;
    const quantile = this.number();
    if (quantile > 1) {
      this.pos = at;
      this.fail('a quantile between 0 and 1', String(quantile));
    }
    this.expect(',');
    this.skipSpace();
    const vectorAt = this.pos;
    const vector = this.primary();
    if (vector.kind === 'aggregate') {
      const { grouping } = vector;
      const keepsLe =
        grouping?.mode === 'by'
          ? grouping.labels.includes('le')
          : grouping?.mode === 'without' && !grouping.labels.includes('le');
      if (!keepsLe) {
        this.pos = vectorAt;
        this.fail("an aggregation that keeps the 'le' label, such as sum by (le) (…)");
      }
    } else if (vector.kind !== 'selector' && vector.kind !== 'rate') {
      this.pos = vectorAt;
      this.fail('a _bucket selector, rate() of one or an aggregation by (le)');
    } else if (!isBucketMetric(vector.selector.metric)) {
      this.pos = vectorAt;
      this.fail("a histogram's _bucket series", `'${vector.selector.metric}'`);
    }
    this.expect(')');
    return { kind: 'histogram_quantile', quantile, vector };
  }

  private selector(metric: string): Selector {
    const matchers: Matcher[] = [];
    this.skipSpace();
    if (this.src[this.pos] !== '{') return { metric, matchers };
    this.pos++;
    for (;;) {
      this.skipSpace();
      if (this.src[this.pos] === '}') break;
      const label = LABEL_NAME.exec(this.src.slice(this.pos))?.[0];
      if (!label) this.fail("a label name or '}'");
      this.pos += label.length;
      this.skipSpace();
      const op = (['=~', '!~', '!=', '='] as const).find((o) => this.src.startsWith(o, this.pos));
      if (!op) this.fail('a match operator (=, !=, =~ or !~)');
      this.pos += op.length;
      this.skipSpace();
      const valueAt = this.pos;
      const value = this.string();
      matchers.push({ label, op, value, pattern: op.endsWith('~') ? this.pattern(value, valueAt) : null });
      this.skipSpace();
      if (this.src[this.pos] === ',') this.pos++;
      else if (this.src[this.pos] !== '}') this.fail("',' or '}'");
    }
    this.pos++;
    return { metric, matchers };
  }

  private pattern(value: string, valueAt: number): LabelPattern {
    try {
      return compileLabelPattern(value);
    } catch (error) {
      if (!(error instanceof LabelPatternError)) throw error;
      // +1 for the opening quote; escapes in the string may shift it by a little, never out of it.
      throw new ExpressionError(
        valueAt + 1 + error.offset,
        `a supported pattern (${error.message})`,
        `'${value}'`,
      );
    }
  }

  private string(): string {
    const quote = this.src[this.pos];
    if (quote !== '"' && quote !== "'") this.fail('a quoted label value');
    const start = this.pos;
    let value = '';
    for (this.pos++; ; this.pos++) {
      const c = this.src[this.pos];
      if (c === undefined) {
        this.pos = start;
        this.fail(`a closing ${quote}`, 'an unterminated string');
      }
      if (c === quote) break;
      if (c === '\\') {
        const next = this.src[++this.pos];
        const escaped = next === 'n' ? '\n' : next === 't' ? '\t' : next;
        if (escaped === undefined || !'\\"\'\n\t'.includes(escaped))
          this.fail('an escape (\\\\, \\", \\\', \\n or \\t)');
        value += escaped;
      } else value += c;
    }
    this.pos++;
    return value;
  }

  private number(): number {
    const text = NUMBER.exec(this.src.slice(this.pos))?.[0];
    if (!text) return this.fail('a number');
    const value = Number(text);
    if (!Number.isFinite(value)) this.fail('a finite number', text);
    this.pos += text.length;
    return value;
  }

  private duration(): number {
    const match = DURATION.exec(this.src.slice(this.pos));
    if (!match) return this.fail('a duration such as 30s, 5m or 1h');
    const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
    if (seconds < MIN_WINDOW_SECONDS || seconds > MAX_WINDOW_SECONDS) {
      this.fail(`a window from ${MIN_WINDOW_SECONDS}s to ${MAX_WINDOW_SECONDS / 3_600}h`, match[0]);
    }
    this.pos += match[0].length;
    return seconds;
  }

  private metricName(): string {
    const start = this.pos;
    const first = this.src[this.pos];
    if (first === undefined || !METRIC_START.test(first)) this.fail('a metric name');
    while (this.pos < this.src.length && METRIC_REST.test(this.src[this.pos] as string)) this.pos++;
    return this.src.slice(start, this.pos);
  }

  /** Consumes one of the operator characters `chars` if it comes next. */
  private operator(chars: string): BinaryOperator | null {
    this.skipSpace();
    const c = this.src[this.pos];
    if (c === undefined || !chars.includes(c)) return null;
    this.pos++;
    return c as BinaryOperator;
  }

  private expect(char: string): void {
    this.skipSpace();
    if (this.src[this.pos] !== char) this.fail(`'${char}'`);
    this.pos++;
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] as string)) this.pos++;
  }

  private fail(expected: string, found?: string): never {
    const here = this.src[this.pos];
    throw new ExpressionError(
      this.pos,
      expected,
      found ?? (here === undefined ? 'the end of the expression' : `'${here}'`),
    );
  }
}
