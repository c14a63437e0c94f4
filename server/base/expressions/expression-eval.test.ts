import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseExpression, rateRequirements } from './expression';
import { bucketQuantile, evaluateExpression, evaluateVector } from './expression-eval';
import { parseSeriesKey, registryMetricsSource, seriesKey } from './metrics-source';
import { SampleHistory } from './sample-history';

const T0 = 1_800_000_000_000;

/** A history of samples given as { at (seconds after T0): { seriesKey: value } }. */
function historyOf(samples: Record<number, Record<string, number>>, retainMs = 3_600_000): SampleHistory {
  const history = new SampleHistory();
  const all = new Set<string>();
  for (const sample of Object.values(samples))
    for (const key of Object.keys(sample)) all.add(parseSeriesKey(key).name);
  for (const [seconds, sample] of Object.entries(samples)) {
    history.push(T0 + Number(seconds) * 1000, new Map(Object.entries(sample)), all, retainMs);
  }
  return history;
}

const value = (source: string, history: SampleHistory) =>
  evaluateExpression(parseExpression(source), history);

describe('evaluateExpression: selectors and arithmetic', () => {
  const history = historyOf({
    0: {
      'requests_total{code="200",route="/a"}': 90,
      'requests_total{code="500",route="/a"}': 6,
      'requests_total{code="503",route="/b"}': 4,
      'requests_total{code="404"}': 10,
      queue_depth: 7,
    },
  });

  it('sums the series a selector matches, with =, !=, =~, !~ and a missing label as ""', () => {
    expect(value('requests_total', history)).toBe(110);
    expect(value('requests_total{code="200"}', history)).toBe(90);
    expect(value('requests_total{code!="200"}', history)).toBe(20);
    expect(value('requests_total{code=~"5.."}', history)).toBe(10);
    expect(value('requests_total{code!~"5..|404"}', history)).toBe(90);
    expect(value('requests_total{route=""}', history)).toBe(10);
    expect(value('requests_total{route=~"/a",code=~"[45]0+"}', history)).toBe(6);
  });

  it('computes + - * / and negation with the usual precedence', () => {
    expect(value('requests_total{code=~"5.."} / requests_total', history)).toBeCloseTo(10 / 110, 12);
    expect(value('queue_depth * 2 + 1 - -3', history)).toBe(18);
    expect(value('(queue_depth + 3) / 5', history)).toBe(2);
  });

  it('has no data (NaN) when nothing matches, which makes any comparison false', () => {
    expect(value('requests_total{code="418"}', history)).toBeNaN();
    expect(value('no_such_metric + 1', history)).toBeNaN();
    expect(value('0 / 0', history)).toBeNaN();
  });

  it('answers undefined before the first sample', () => {
    expect(value('1', new SampleHistory())).toBeUndefined();
  });
});

describe('evaluateExpression: rate()', () => {
  it('is the per-second increase between the oldest sample in the window and the latest', () => {
    const history = historyOf({
      0: { 'jobs_total{q="a"}': 100, 'jobs_total{q="b"}': 0 },
      30: { 'jobs_total{q="a"}': 130, 'jobs_total{q="b"}': 30 },
      60: { 'jobs_total{q="a"}': 160, 'jobs_total{q="b"}': 60 },
    });
    expect(value('rate(jobs_total{q="a"}[1m])', history)).toBeCloseTo(1, 12);
    expect(value('rate(jobs_total[1m])', history)).toBeCloseTo(2, 12);
    // A 30 s window reaches back to the sample at 30 s only.
    expect(value('rate(jobs_total{q="b"}[30s])', history)).toBeCloseTo(1, 12);
  });

  it('counts through a counter reset, and counts a series born inside the window from 0', () => {
    const history = historyOf({
      0: { 'jobs_total{q="a"}': 50 },
      10: { 'jobs_total{q="a"}': 60 },
      20: { 'jobs_total{q="a"}': 5, 'jobs_total{q="new"}': 8 },
    });
    // 10 before the reset, 5 after; the new series 8.
    expect(value('rate(jobs_total{q="a"}[20s])', history)).toBeCloseTo(15 / 20, 12);
    expect(value('rate(jobs_total{q="new"}[20s])', history)).toBeCloseTo(8 / 20, 12);
  });

  it('is 0 for a counter that did not move, and undefined until an earlier sample exists', () => {
    expect(value('rate(x_total[1m])', historyOf({ 0: { x_total: 3 }, 15: { x_total: 3 } }))).toBe(0);
    expect(value('rate(x_total[1m])', historyOf({ 0: { x_total: 3 } }))).toBeUndefined();
    expect(value('rate(x_total[1m]) + 1', historyOf({ 0: { x_total: 3 } }))).toBeUndefined();
  });

  it('divides two rates into an error ratio, as the default error-rate rule does', () => {
    const history = historyOf({
      0: { 'http_count{status_code="200"}': 1000, 'http_count{status_code="500"}': 10 },
      300: { 'http_count{status_code="200"}': 1900, 'http_count{status_code="500"}': 110 },
    });
    expect(value('rate(http_count{status_code=~"5.."}[5m]) / rate(http_count[5m])', history)).toBeCloseTo(
      0.1,
      12,
    );
  });

  it('keeps only the metrics rate() reads in older samples, and only as far back as needed', () => {
    const history = new SampleHistory();
    const keep = rateRequirements(parseExpression('rate(a_total[1m])')).metrics;
    history.push(
      T0,
      new Map([
        ['a_total', 1],
        ['b', 1],
      ]),
      keep,
      60_000,
    );
    history.push(
      T0 + 30_000,
      new Map([
        ['a_total', 31],
        ['b', 2],
      ]),
      keep,
      60_000,
    );
    history.push(
      T0 + 90_000,
      new Map([
        ['a_total', 61],
        ['b', 3],
      ]),
      keep,
      60_000,
    );
    expect(history.size).toBe(2);
    const [older] = history.holding('a_total', 0);
    expect([...(older?.metrics.keys() ?? [])]).toEqual(['a_total']);
    expect(history.holding('b', 0)).toHaveLength(1);
    expect(value('rate(a_total[1m])', history)).toBeCloseTo(0.5, 12);
  });
});

describe('histogram_quantile', () => {
  const buckets = (counts: Record<string, number>, extra: Record<string, string> = {}) =>
    Object.entries(counts).map(([le, count]) => ({ labels: { le, ...extra }, value: count }));

  it('interpolates inside the bucket the rank falls in, as Prometheus does', () => {
    const series = buckets({ '0.1': 10, '0.5': 30, '1': 40, '+Inf': 40 });
    expect(bucketQuantile(0.5, series)).toBeCloseTo(0.3, 12);
    expect(bucketQuantile(0.99, series)).toBeCloseTo(0.98, 12);
    expect(bucketQuantile(0.1, series)).toBeCloseTo(0.04, 12);
  });

  it('answers the highest finite bound when the rank falls in +Inf, and NaN without data or +Inf', () => {
    expect(bucketQuantile(0.9, buckets({ '0.1': 10, '+Inf': 20 }))).toBe(0.1);
    expect(bucketQuantile(0.5, buckets({ '0.1': 0, '+Inf': 0 }))).toBeNaN();
    expect(bucketQuantile(0.5, buckets({ '0.1': 1, '1': 2 }))).toBeNaN();
  });

  it('adds buckets of several series per bound before interpolating', () => {
    const series = [
      ...buckets({ '0.1': 5, '1': 10, '+Inf': 10 }, { route: '/a' }),
      ...buckets({ '0.1': 5, '1': 10, '+Inf': 10 }, { route: '/b' }),
    ];
    expect(bucketQuantile(0.75, series)).toBeCloseTo(0.55, 12);
  });

  it('works over the rate of a prom-client histogram read through the registry source', async () => {
    const registry = new client.Registry();
    const histogram = new client.Histogram({
      name: 'work_seconds',
      help: 'test',
      labelNames: ['kind'],
      buckets: [0.1, 0.5, 1],
      registers: [registry],
    });
    const source = registryMetricsSource(registry);
    const history = new SampleHistory();
    const keep = new Set(['work_seconds_bucket']);
    histogram.observe({ kind: 'old' }, 5); // before the window: must not count
    history.push(T0, await source.sample(), keep, 600_000);
    for (let i = 0; i < 10; i++) histogram.observe({ kind: 'x' }, 0.05);
    for (let i = 0; i < 20; i++) histogram.observe({ kind: 'y' }, 0.3);
    for (let i = 0; i < 10; i++) histogram.observe({ kind: 'x' }, 0.7);
    history.push(T0 + 60_000, await source.sample(), keep, 600_000);

    expect(value('histogram_quantile(0.5, rate(work_seconds_bucket[1m]))', history)).toBeCloseTo(0.3, 12);
    // Cumulative since start: 41 observations, rank 20.5 in (0.1, 0.5]: 0.1 + 0.4 × 10.5 / 20.
    expect(value('histogram_quantile(0.5, work_seconds_bucket)', history)).toBeCloseTo(0.31, 12);
    expect(value('work_seconds_count', history)).toBe(41);
    expect(value('work_seconds_sum{kind="x"}', history)).toBeCloseTo(7.5, 9);
  });
});

describe('aggregation', () => {
  const history = historyOf({
    0: {
      'calls_total{code="OK",procedure="a"}': 10,
      'calls_total{code="OK",procedure="b"}': 20,
      'calls_total{code="ERR",procedure="b"}': 4,
      'calls_total{procedure="c"}': 6,
    },
    10: {
      'calls_total{code="OK",procedure="a"}': 20,
      'calls_total{code="OK",procedure="b"}': 40,
      'calls_total{code="ERR",procedure="b"}': 5,
      'calls_total{procedure="c"}': 6,
    },
  });
  const vector = (source: string) => evaluateVector(parseExpression(source), history);

  it('groups by or without labels, keeping only the grouping labels, a missing one left out', () => {
    expect(vector('sum by (code) (calls_total)')).toEqual([
      { labels: { code: 'OK' }, value: 60 },
      { labels: { code: 'ERR' }, value: 5 },
      { labels: {}, value: 6 },
    ]);
    expect(vector('max without (code) (calls_total)')).toEqual([
      { labels: { procedure: 'a' }, value: 20 },
      { labels: { procedure: 'b' }, value: 40 },
      { labels: { procedure: 'c' }, value: 6 },
    ]);
    expect(vector('count(calls_total) by (procedure)')).toEqual([
      { labels: { procedure: 'a' }, value: 1 },
      { labels: { procedure: 'b' }, value: 2 },
      { labels: { procedure: 'c' }, value: 1 },
    ]);
    expect(vector('min(calls_total)')).toEqual([{ labels: {}, value: 5 }]);
    expect(vector('avg(calls_total)')).toEqual([{ labels: {}, value: 71 / 4 }]);
    expect(vector('sum(nothing)')).toEqual([]);
  });

  it('aggregates rates, and in arithmetic counts as the sum of its series', () => {
    expect(vector('sum by (procedure) (rate(calls_total[10s]))')).toEqual([
      { labels: { procedure: 'a' }, value: 1 },
      { labels: { procedure: 'b' }, value: 2.1 },
      { labels: { procedure: 'c' }, value: 0 },
    ]);
    expect(value('sum by (procedure) (rate(calls_total[10s])) * 10', history)).toBeCloseTo(31, 12);
    expect(value('count(calls_total)', history)).toBe(4);
    expect(value('sum(nothing)', history)).toBeNaN();
  });

  it('matches series with identical labels in vector arithmetic, as PromQL does', () => {
    expect(vector('sum by (procedure) (calls_total{code="ERR"}) / sum by (procedure) (calls_total)')).toEqual(
      [{ labels: { procedure: 'b' }, value: 5 / 45 }],
    );
    expect(vector('sum(calls_total) / 2')).toEqual([{ labels: {}, value: 35.5 }]);
    expect(vector('-max(calls_total)')).toEqual([{ labels: {}, value: -40 }]);
    expect(vector('1 + 2')).toBe(3);
  });
});

describe('or, comparisons, vector(), time() and the range functions', () => {
  const history = historyOf({
    0: { 'e_total{r="fail"}': 0, 'e_total{r="ok"}': 0, 'g{s="a"}': 1, 'g{s="b"}': 0, ts_seconds: 0 },
    5: { 'e_total{r="fail"}': 0, 'e_total{r="ok"}': 5, 'g{s="a"}': 7, 'g{s="b"}': 0, ts_seconds: 1_700 },
    10: { 'e_total{r="fail"}': 0, 'e_total{r="ok"}': 10, 'g{s="a"}': 2, 'g{s="b"}': 0, ts_seconds: 1_800 },
  });
  const vector = (source: string) => evaluateVector(parseExpression(source), history);

  it('falls back to vector(0) with or, and keeps no data without it', () => {
    const ratio = (fallback: string) =>
      `(sum(rate(e_total{r="fail"}[10s]) > 0)${fallback}) / sum(rate(e_total[10s]))`;
    expect(value(ratio(' or vector(0)'), history)).toBe(0);
    expect(value(ratio(''), history)).toBeNaN();
    expect(vector(ratio(' or vector(0)'))).toEqual([{ labels: {}, value: 0 }]);
    expect(vector('g{s="a"} or g')).toEqual([
      { labels: { s: 'a' }, value: 2 },
      { labels: { s: 'b' }, value: 0 },
    ]);
  });

  it('filters series with a comparison, and answers time() as the latest sample in seconds', () => {
    expect(vector('g > 0')).toEqual([{ labels: { s: 'a' }, value: 2 }]);
    expect(vector('0 == g')).toEqual([{ labels: { s: 'b' }, value: 0 }]);
    expect(vector('g{s="a"} != g')).toEqual([]);
    expect(value('time() - max(ts_seconds > 0)', history)).toBe(T0 / 1000 + 10 - 1_800);
    expect(value('g > 100', history)).toBeNaN();
  });

  it('computes increase() as rate × window and *_over_time() over the window', () => {
    expect(vector('increase(e_total{r="ok"}[10s])')).toEqual([{ labels: { r: 'ok' }, value: 10 }]);
    expect(vector('max_over_time(g{s="a"}[10s])')).toEqual([{ labels: { s: 'a' }, value: 7 }]);
    expect(vector('max_over_time(g{s="a"}[5s])')).toEqual([{ labels: { s: 'a' }, value: 7 }]);
    expect(vector('min_over_time(g{s="a"}[5s])')).toEqual([{ labels: { s: 'a' }, value: 2 }]);
    expect(vector('avg_over_time(g{s="a"}[10s])')).toEqual([{ labels: { s: 'a' }, value: 10 / 3 }]);
    expect(vector('count_over_time(g[10s])')).toEqual([
      { labels: { s: 'a' }, value: 3 },
      { labels: { s: 'b' }, value: 3 },
    ]);
    expect(value('sum_over_time(g[2s])', history)).toBe(2);
  });
});

describe('histogram_quantile over aggregated buckets', () => {
  const bucketKeys = (route: string, counts: number[]) =>
    Object.fromEntries(
      ['0.1', '0.5', '1', '+Inf'].map((le, i) => [
        `h_bucket{le="${le}",route="${route}"}`,
        counts[i] as number,
      ]),
    );
  const history = historyOf({
    0: { ...bucketKeys('/a', [0, 0, 0, 0]), ...bucketKeys('/b', [0, 0, 0, 0]) },
    60: { ...bucketKeys('/a', [60, 60, 60, 60]), ...bucketKeys('/b', [0, 60, 120, 120]) },
  });

  it('computes one quantile per label set but le, interpolating as Prometheus does', () => {
    expect(
      evaluateVector(
        parseExpression('histogram_quantile(0.5, sum by (route, le) (rate(h_bucket[1m])))'),
        history,
      ),
    ).toEqual([
      { labels: { route: '/a' }, value: 0.05 },
      { labels: { route: '/b' }, value: 0.5 },
    ]);
    // All routes: 3 observations/s, rank 1.5 in (0.1, 0.5] holding 1 of them past 1: 0.1 + 0.4 × 0.5/1.
    const overall = 'histogram_quantile(0.5, sum by (le) (rate(h_bucket[1m])))';
    const [only] = evaluateVector(parseExpression(overall), history) as { labels: object; value: number }[];
    expect(only?.labels).toEqual({});
    expect(only?.value).toBeCloseTo(0.3, 12);
    expect(value(overall, history)).toBeCloseTo(0.3, 12);
  });

  it('answers the highest finite bound past it, and fixes buckets that are not monotonic', () => {
    const odd = historyOf({
      0: { 'h_bucket{le="0.1"}': 10, 'h_bucket{le="1"}': 8, 'h_bucket{le="+Inf"}': 20 },
    });
    // The 1 s bucket is raised to 10: 0.99 × 20 = 19.8 falls in +Inf, which answers 1.
    expect(value('histogram_quantile(0.99, sum by (le) (h_bucket))', odd)).toBe(1);
    expect(value('histogram_quantile(0.5, sum by (le) (h_bucket))', odd)).toBeCloseTo(0.1, 12);
  });
});

describe('series keys', () => {
  it('round-trip labels with quotes, backslashes and newlines', () => {
    const labels = { route: '/a"b\\c\nd', method: 'GET', le: '+Inf' };
    const key = seriesKey('m_total', labels);
    expect(key).toBe('m_total{le="+Inf",method="GET",route="/a\\"b\\\\c\\nd"}');
    expect(parseSeriesKey(key)).toEqual({ name: 'm_total', labels });
    expect(parseSeriesKey('plain')).toEqual({ name: 'plain', labels: {} });
  });
});
