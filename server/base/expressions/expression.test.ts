import { describe, expect, it } from 'vitest';
import { ExpressionError, MAX_EXPRESSION_LENGTH, parseExpression, rateRequirements } from './expression';

/** The error an expression is refused with. */
function refusal(source: string): ExpressionError {
  try {
    parseExpression(source);
  } catch (error) {
    if (error instanceof ExpressionError) return error;
    throw error;
  }
  throw new Error(`${source} was accepted`);
}

describe('parseExpression', () => {
  it('parses a selector with every kind of matcher', () => {
    const expr = parseExpression(
      `http_server_request_duration_seconds_count{method="GET", status_code=~"5..", route!="/x", code!~'OK|NOT_FOUND',}`,
    );
    expect(expr).toMatchObject({
      kind: 'selector',
      selector: {
        metric: 'http_server_request_duration_seconds_count',
        matchers: [
          { label: 'method', op: '=', value: 'GET', pattern: null },
          { label: 'status_code', op: '=~', value: '5..' },
          { label: 'route', op: '!=', value: '/x', pattern: null },
          { label: 'code', op: '!~', value: 'OK|NOT_FOUND' },
        ],
      },
    });
  });

  it('gives * and / precedence over + and -, left to right, and honours parentheses', () => {
    expect(parseExpression('1 - 2 - 3 * 4 / a')).toEqual({
      kind: 'binary',
      op: '-',
      left: {
        kind: 'binary',
        op: '-',
        left: { kind: 'number', value: 1 },
        right: { kind: 'number', value: 2 },
      },
      right: {
        kind: 'binary',
        op: '/',
        left: {
          kind: 'binary',
          op: '*',
          left: { kind: 'number', value: 3 },
          right: { kind: 'number', value: 4 },
        },
        right: { kind: 'selector', selector: { metric: 'a', matchers: [] } },
      },
    });
    expect(parseExpression('(1 + 2) * -x')).toMatchObject({
      op: '*',
      left: { op: '+' },
      right: { kind: 'negate', operand: { kind: 'selector' } },
    });
  });

  it('parses rate() windows and histogram_quantile() over buckets or their rate', () => {
    expect(parseExpression('rate(jobs_total{queue="mail"}[90s])')).toMatchObject({
      kind: 'rate',
      windowSeconds: 90,
      selector: { metric: 'jobs_total' },
    });
    expect(parseExpression('rate(x[1h])')).toMatchObject({ windowSeconds: 3600 });
    expect(parseExpression('rate(x[1500ms])')).toMatchObject({ windowSeconds: 1.5 });
    expect(parseExpression('histogram_quantile(0.99, rate(h_seconds_bucket[5m]))')).toMatchObject({
      kind: 'histogram_quantile',
      quantile: 0.99,
      vector: { kind: 'rate', windowSeconds: 300, selector: { metric: 'h_seconds_bucket' } },
    });
    expect(parseExpression('histogram_quantile(.5, h_seconds_bucket{route="/"})')).toMatchObject({
      quantile: 0.5,
      vector: { kind: 'selector' },
    });
  });

  it('parses aggregations with by or without, before or after the operand', () => {
    const inner = { kind: 'rate', windowSeconds: 300, selector: { metric: 'h_bucket' } };
    expect(parseExpression('sum by (le) (rate(h_bucket[5m]))')).toMatchObject({
      kind: 'aggregate',
      op: 'sum',
      grouping: { mode: 'by', labels: ['le'] },
      vector: inner,
    });
    expect(parseExpression('sum(rate(h_bucket[5m])) by (le, route,)')).toMatchObject({
      op: 'sum',
      grouping: { mode: 'by', labels: ['le', 'route'] },
      vector: inner,
    });
    expect(parseExpression('max without(instance)(up)')).toMatchObject({
      op: 'max',
      grouping: { mode: 'without', labels: ['instance'] },
      vector: { kind: 'selector', selector: { metric: 'up' } },
    });
    for (const op of ['avg', 'min', 'count']) {
      expect(parseExpression(`${op}(x{a="b"})`)).toMatchObject({ kind: 'aggregate', op, grouping: null });
    }
    expect(parseExpression('sum(max by (status) (deployments))')).toMatchObject({
      vector: { kind: 'aggregate', op: 'max' },
    });
    // Without parentheses after it, an operator's name is still a metric.
    expect(parseExpression('sum + 1')).toMatchObject({
      left: { kind: 'selector', selector: { metric: 'sum' } },
    });
  });

  it('parses histogram_quantile() over aggregated buckets, as the dashboards write it', () => {
    expect(
      parseExpression(
        'histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{job=~".*"}[5m])))',
      ),
    ).toMatchObject({
      kind: 'histogram_quantile',
      quantile: 0.99,
      vector: { kind: 'aggregate', grouping: { labels: ['le'] }, vector: { kind: 'rate' } },
    });
    expect(parseExpression('histogram_quantile(0.5, sum without (instance) (h_bucket))')).toMatchObject({
      vector: { grouping: { mode: 'without' } },
    });
    expect(parseExpression('histogram_quantile(0.5, job_route_le:h_bucket:rate5m)')).toMatchObject({
      vector: { kind: 'selector' },
    });
    const needs = rateRequirements(
      parseExpression('histogram_quantile(0.9, sum by (le) (rate(c_bucket[10m])))'),
    );
    expect([...needs.metrics]).toEqual(['c_bucket']);
    expect(needs.maxWindowSeconds).toBe(600);
  });

  it('parses or, comparisons, vector(), time(), increase() and *_over_time(), as the dashboards use them', () => {
    expect(parseExpression('(sum(rate(a_total[5m])) or vector(0)) / sum(rate(b_total[5m]))')).toMatchObject({
      kind: 'binary',
      left: { kind: 'or', left: { kind: 'aggregate' }, right: { kind: 'vector', value: 0 } },
    });
    expect(parseExpression('time() - max(ts_seconds > 0)')).toMatchObject({
      left: { kind: 'time' },
      right: { kind: 'aggregate', vector: { kind: 'compare', op: '>', right: { kind: 'number', value: 0 } } },
    });
    // Comparisons bind more loosely than arithmetic, `or` more loosely still.
    expect(parseExpression('a / b > 0.05 or c == 1')).toMatchObject({
      kind: 'or',
      left: { kind: 'compare', op: '>', left: { kind: 'binary', op: '/' } },
      right: { kind: 'compare', op: '==' },
    });
    expect(parseExpression('sum by (job) (increase(e_total[1h]))')).toMatchObject({
      vector: { kind: 'range', fn: 'increase', windowSeconds: 3600 },
    });
    const needs = rateRequirements(
      parseExpression('max(max_over_time(w{s="x"}[5m])) > 0 or increase(e_total[1m])'),
    );
    expect([...needs.metrics].sort()).toEqual(['e_total', 'w']);
    expect(needs.maxWindowSeconds).toBe(300);
    // A metric may still be called `order` or `time`.
    expect(parseExpression('order + time')).toMatchObject({ left: { selector: { metric: 'order' } } });
  });

  it('accepts numbers in decimal and exponent notation, and metric names with colons', () => {
    expect(parseExpression('1.5e3')).toEqual({ kind: 'number', value: 1500 });
    expect(parseExpression('job:requests:rate5m')).toMatchObject({
      selector: { metric: 'job:requests:rate5m' },
    });
  });

  it('names the metrics rate() reads and its longest window', () => {
    const needs = rateRequirements(
      parseExpression(
        'rate(a_total[5m]) / rate(b_total[1m]) + histogram_quantile(0.9, rate(c_bucket[10m])) + d',
      ),
    );
    expect([...needs.metrics].sort()).toEqual(['a_total', 'b_total', 'c_bucket']);
    expect(needs.maxWindowSeconds).toBe(600);
  });
});

describe('parseExpression refuses mistakes with their position and what was expected', () => {
  const cases: [string, number, string][] = [
    ['', 0, 'a number, a metric'],
    ['a +', 3, 'a number, a metric'],
    ['a b', 2, 'an operator'],
    ['(a + 1', 6, "')'"],
    ['a{', 2, "a label name or '}'"],
    ['a{b}', 3, 'a match operator'],
    ['a{b=c}', 4, 'a quoted label value'],
    ['a{b="c"', 7, "',' or '}'"],
    ['a{b="c}', 4, 'a closing "'],
    ['a{b="c" d="e"}', 8, "',' or '}'"],
    ['{b="c"}', 0, 'a metric name before the label matchers'],
    ['label_replace(a)', 0, 'a known function'],
    ['rate(a)', 6, "'['"],
    ['rate(a[5])', 7, 'a duration'],
    ['rate(a[5d])', 7, 'a duration'],
    ['rate(a[2h])', 7, 'a window from 1s to 1h'],
    ['rate(a[5m]', 10, "')'"],
    ['rate(1)', 5, 'a metric name'],
    ['histogram_quantile(1.5, a_bucket)', 19, 'a quantile between 0 and 1'],
    ['histogram_quantile(0.9, a_count)', 24, "a histogram's _bucket series"],
    ['histogram_quantile(0.9, 3)', 24, 'a _bucket selector'],
    ['a{b=~"(x)"}', 6, 'a supported pattern'],
    ['a{b=~"x**"}', 8, 'a supported pattern'],
    ['a{b="\\q"}', 6, 'an escape'],
    ['a; drop table alert_rules', 1, 'an operator'],
    ['sum by (le (x)', 11, "',' or ')'"],
    ['sum by (1) (x)', 8, "a label name or ')'"],
    ['sum by (le) x', 12, "'('"],
    ['sum(1)', 4, 'a vector to sum'],
    ['sum(1 + 2)', 4, 'a vector to sum'],
    ['1 > 2', 2, 'a vector on one side of a comparison'],
    ['a or 1', 2, "a vector on both sides of 'or'"],
    ['vector(a)', 7, 'a number'],
    ['time(1)', 5, "')'"],
    ['increase(a)', 10, "'['"],
    ['sum by (a) (x) by (b)', 15, 'one grouping'],
    ['histogram_quantile(0.9, sum(rate(a_bucket[5m])))', 24, "keeps the 'le' label"],
    ['histogram_quantile(0.9, sum by (route) (a_bucket))', 24, "keeps the 'le' label"],
    ['histogram_quantile(0.9, sum without (le) (a_bucket))', 24, "keeps the 'le' label"],
  ];
  for (const [source, position, expected] of cases) {
    it(`${JSON.stringify(source)}: position ${position}`, () => {
      const error = refusal(source);
      expect(error.position).toBe(position);
      expect(error.expected).toContain(expected);
      expect(error.message).toContain(`at position ${position}: expected`);
    });
  }

  it('refuses over-long expressions and deep nesting before any work', () => {
    expect(refusal('1+'.repeat(MAX_EXPRESSION_LENGTH)).expected).toContain('at most 1000 characters');
    expect(refusal(`${'('.repeat(40)}1${')'.repeat(40)}`).expected).toContain('levels of nesting');
    expect(refusal(`${'-'.repeat(40)}1`).expected).toContain('levels of nesting');
  });
});
