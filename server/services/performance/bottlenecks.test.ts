import { describe, expect, it } from 'vitest';
import { type BottleneckInput, detectBottlenecks, type RouteFigures } from './bottlenecks';
import type { ResourceSample } from './resource-sampler';

const idle: BottleneckInput = {
  eventLoopLagSeconds: 0.002,
  pool: { total: 2, idle: 2, waiting: 0, max: 10 },
  queries: [
    { fingerprint: 'q1', text: 'select 1', count: 500, meanMs: 0.4, p95Ms: 1, maxMs: 3, totalMs: 200 },
  ],
  slowQueryMs: 200,
  cache: { hits: 900, misses: 100 },
  routes: [route({})],
  samples: memory(20, () => 50_000_000),
};

function route(over: Partial<RouteFigures>): RouteFigures {
  return {
    kind: 'procedure',
    name: 'system.info',
    requests1m: 600,
    requests15m: 9_000,
    errors1m: 0,
    errors15m: 3,
    p99RecentMs: 5,
    p99BaselineMs: 4,
    recentRequests: 3_000,
    ...over,
  };
}

/** `count` samples a minute apart with heapUsed from `heap(i)`. */
function memory(count: number, heap: (i: number) => number): ResourceSample[] {
  return Array.from({ length: count }, (_, i) => ({
    at: 1_000_000 + i * 60_000,
    cpuSeconds: i,
    eventLoopActiveMs: null,
    rssBytes: heap(i) * 2,
    heapUsedBytes: heap(i),
    heapTotalBytes: heap(i) * 1.5,
    requests: i * 100,
    queryMs: i * 10,
  }));
}

const rules = (input: BottleneckInput) => detectBottlenecks(input).map((f) => f.rule);

describe('bottleneck detection', () => {
  it('stays quiet on an idle, healthy instance', () => {
    expect(detectBottlenecks(idle)).toEqual([]);
    expect(
      detectBottlenecks({ ...idle, routes: [], queries: [], cache: { hits: 0, misses: 0 }, samples: [] }),
    ).toEqual([]);
  });

  it('reports event-loop lag, critical past half a second', () => {
    const [finding] = detectBottlenecks({ ...idle, eventLoopLagSeconds: 0.3 });
    expect(finding).toMatchObject({ rule: 'event_loop_lag', severity: 'warning', evidence: { lagMs: 300 } });
    expect(detectBottlenecks({ ...idle, eventLoopLagSeconds: 0.7 })[0]?.severity).toBe('critical');
  });

  it('reports callers waiting for the pool, and a pool with every connection in use', () => {
    const waiting = detectBottlenecks({ ...idle, pool: { total: 10, idle: 0, waiting: 4, max: 10 } });
    expect(waiting).toEqual([
      expect.objectContaining({
        rule: 'pool_waiting',
        severity: 'warning',
        evidence: { waiting: 4, inUse: 10, max: 10 },
      }),
    ]);
    expect(rules({ ...idle, pool: { total: 10, idle: 0, waiting: 0, max: 10 } })).toEqual(['pool_saturated']);
  });

  it('reports slow query shapes by total time, with the numbers and a recommendation', () => {
    const slow = {
      fingerprint: 'abc',
      text: 'select pg_sleep(?)',
      count: 4,
      meanMs: 300,
      p95Ms: 310,
      maxMs: 320,
      totalMs: 1200,
    };
    const [finding] = detectBottlenecks({ ...idle, queries: [...idle.queries, slow] });
    expect(finding).toMatchObject({ rule: 'slow_query', subject: 'abc', evidence: { p95Ms: 310, count: 4 } });
    expect(finding?.recommendation).toContain('performance.explain');
    // Two slow runs are not a pattern yet.
    expect(rules({ ...idle, queries: [{ ...slow, count: 2 }] })).toEqual([]);
  });

  it('reports a low cache hit rate only with enough lookups', () => {
    expect(rules({ ...idle, cache: { hits: 20, misses: 180 } })).toEqual(['cache_hit_rate']);
    expect(rules({ ...idle, cache: { hits: 2, misses: 18 } })).toEqual([]);
  });

  it('reports a route whose p99 is well above its own baseline', () => {
    expect(rules({ ...idle, routes: [route({ p99RecentMs: 400, p99BaselineMs: 40 })] })).toEqual([
      'latency_regression',
    ]);
    // Slow but not slower than usual, or too few requests: nothing.
    expect(rules({ ...idle, routes: [route({ p99RecentMs: 400, p99BaselineMs: 380 })] })).toEqual([]);
    expect(
      rules({ ...idle, routes: [route({ p99RecentMs: 400, p99BaselineMs: 40, recentRequests: 5 })] }),
    ).toEqual([]);
  });

  it('reports an error-rate spike against the 15-minute rate', () => {
    const [spike] = detectBottlenecks({
      ...idle,
      routes: [route({ errors1m: 150, requests1m: 600, errors15m: 160 })],
    });
    expect(spike).toMatchObject({
      rule: 'error_rate_spike',
      severity: 'critical',
      evidence: { errorRate1m: 0.25 },
    });
    // A route that always fails this much is not a spike.
    expect(
      rules({
        ...idle,
        routes: [route({ errors1m: 60, requests1m: 600, errors15m: 900, requests15m: 9_000 })],
      }),
    ).toEqual([]);
  });

  it('reports steady heap growth but not a flat or sawtooth heap', () => {
    expect(rules({ ...idle, samples: memory(20, (i) => 50_000_000 + i * 5_000_000) })).toEqual([
      'memory_growth',
    ]);
    expect(rules({ ...idle, samples: memory(20, (i) => 50_000_000 + (i % 2) * 20_000_000) })).toEqual([]);
    // Five minutes of growth is too short to tell.
    expect(rules({ ...idle, samples: memory(5, (i) => 50_000_000 + i * 5_000_000) })).toEqual([]);
  });

  it('lists critical findings first', () => {
    const findings = detectBottlenecks({
      ...idle,
      eventLoopLagSeconds: 0.8,
      cache: { hits: 20, misses: 180 },
    });
    expect(findings.map((f) => f.severity)).toEqual(['critical', 'warning']);
  });
});
