import { describe, expect, it } from 'vitest';
import { performanceRoutesInput } from '../../../shared/performance';
import {
  analyticsClock,
  epochMsOf,
  isServerErrorCode,
  OVERFLOW_SERIES_NAME,
  RequestAnalytics,
  statusOfCode,
} from './analytics';
import { LATENCY_RELATIVE_ERROR } from './latency-histogram';

const MINUTE = 60_000;
/** On a minute boundary, where the latency window's intervals turn. */
const START = 28_333_333 * MINUTE;

function manualClock() {
  let now = START;
  return {
    now: () => now,
    at(ms: number) {
      now = START + ms;
    },
  };
}

/** `ms` give or take the histogram's relative error. */
function near(ms: number) {
  return expect.toSatisfy(
    (value: number) => Math.abs(value - ms) <= ms * LATENCY_RELATIVE_ERROR,
    `within ${LATENCY_RELATIVE_ERROR} of ${ms}`,
  );
}

describe('RequestAnalytics', () => {
  it('gives the figures of a scripted sequence: counts, error rates, rates, percentiles and last seen', () => {
    const clock = manualClock();
    const analytics = new RequestAnalytics({ clock: clock.now });
    const route = analytics.series('route', '/api/items/:id');
    clock.at(500);
    for (let i = 0; i < 99; i++) route.record(0.01, 200);
    route.record(0.25, 500);

    clock.at(MINUTE);
    expect(analytics.snapshot()).toEqual([
      {
        kind: 'route',
        name: '/api/items/:id',
        requests: 100,
        errors: 1,
        clientErrors: 0,
        errorRate: 0.01,
        errorRate5m: 0.01,
        rate1m: 100 / 60,
        // Up for a minute: the longer windows divide by that minute.
        rate5m: 100 / 60,
        rate15m: 100 / 60,
        recentRequests: 100,
        p50Ms: near(10),
        p90Ms: near(10),
        p99Ms: near(10),
        maxMs: 250,
        allTime: { p50Ms: near(10), p90Ms: near(10), p99Ms: near(10), maxMs: 250, meanMs: 12.4 },
        lastSeenAt: new Date(START + 500).toISOString(),
      },
    ]);
  });

  it('lets the rates and the latency window roll on while the all-time figures stay', () => {
    const clock = manualClock();
    const analytics = new RequestAnalytics({ clock: clock.now });
    const route = analytics.series('route', '/api/health');
    for (let second = 0; second < 60; second++) {
      clock.at(second * 1000);
      route.record(0.002, 200);
    }

    clock.at(7 * MINUTE);
    const [later] = analytics.snapshot();
    expect(later).toMatchObject({
      requests: 60,
      rate1m: 0,
      rate5m: 0,
      rate15m: 60 / 420,
      recentRequests: 0,
      p50Ms: null,
      p99Ms: null,
      maxMs: null,
      allTime: { p50Ms: near(2), maxMs: 2 },
    });

    clock.at(16 * MINUTE);
    expect(analytics.snapshot()[0]?.rate15m).toBe(0);
  });

  it('hands out one long-lived series per name and kind', () => {
    const analytics = new RequestAnalytics();
    const first = analytics.series('procedure', 'system.info');
    expect(analytics.series('procedure', 'system.info')).toBe(first);
    expect(analytics.series('route', 'system.info')).not.toBe(first);
    first.record(0.001, 200);
    expect(analytics.procedure('system.info')?.requests).toBe(1);
    expect(analytics.procedure('system.status')).toBeNull();
  });

  it('takes the end time from a caller that has one, on the same scale as its own clock', () => {
    const clock = manualClock();
    const analytics = new RequestAnalytics({ clock: clock.now });
    analytics.series('procedure', 'system.info').record(0.001, 200, START + 5000);
    expect(analytics.procedure('system.info')?.lastSeenAt).toBe(new Date(START + 5000).toISOString());
    // The default clock and a caller's performance.now() reading agree with the wall clock.
    const performanceNow = performance.now();
    expect(Math.abs(epochMsOf(performanceNow) - Date.now())).toBeLessThan(1000);
    expect(Math.abs(analyticsClock() - Date.now())).toBeLessThan(1000);
  });

  it('totals routes and procedures apart, from merged histograms, with top lists', () => {
    const clock = manualClock();
    const analytics = new RequestAnalytics({ clock: clock.now });
    const fast = analytics.series('route', '/api/fast');
    const slow = analytics.series('route', '/api/slow');
    for (let i = 0; i < 10; i++) fast.record(0.005, 200);
    for (let i = 0; i < 5; i++) slow.record(0.05, i < 2 ? 500 : 200);
    analytics.series('procedure', 'system.info').record(0.001, 200);
    clock.at(30_000);

    const overview = analytics.overview();
    expect(overview).toMatchObject({
      enabled: true,
      startedAt: new Date(START).toISOString(),
      latencyWindowSeconds: 300,
      routes: {
        series: 2,
        requests: 15,
        errors: 2,
        errorRate: 2 / 15,
        errorRate5m: 2 / 15,
        rate1m: 15 / 30,
        recentRequests: 15,
        p50Ms: near(5),
        p99Ms: near(50),
        maxMs: 50,
        allTime: { p50Ms: near(5), maxMs: 50, meanMs: 20 },
      },
      procedures: { series: 1, requests: 1, errors: 0, maxMs: 1 },
    });
    expect(overview.top.byRequests.map((s) => s.name)).toEqual(['/api/fast', '/api/slow', 'system.info']);
    expect(overview.top.byP99.map((s) => s.name)).toEqual(['/api/slow', '/api/fast', 'system.info']);
    expect(overview.top.byErrorRate.map((s) => s.name)).toEqual(['/api/slow']);
    expect(analytics.overview(1).top.byRequests).toHaveLength(1);
  });

  it('sorts, filters and limits series as performance.routes asks', () => {
    const analytics = new RequestAnalytics();
    analytics.series('route', '/api/trpc/*').record(0.004, 200);
    analytics.series('route', '/api/trpc/*').record(0.004, 200);
    analytics.series('route', '/api/health').record(0.001, 200);
    analytics.series('route', '/metrics').record(0.02, 200);
    analytics.series('procedure', 'auth.apiKeys.list').record(0.009, 200);
    // Asked for but never recorded: no percentiles to sort by.
    analytics.series('route', '/api/idle');
    const names = (input: object) =>
      analytics.routes(performanceRoutesInput.parse(input)).series.map((s) => s.name);

    // Equal figures: procedures before routes, then by name.
    expect(names({})).toEqual(['/api/trpc/*', 'auth.apiKeys.list', '/api/health', '/metrics', '/api/idle']);
    expect(names({ kind: 'route', sort: 'p99', order: 'asc' })).toEqual([
      '/api/health',
      '/api/trpc/*',
      '/metrics',
      '/api/idle',
    ]);
    expect(names({ sort: 'max', order: 'desc' })).toEqual([
      '/metrics',
      'auth.apiKeys.list',
      '/api/trpc/*',
      '/api/health',
      '/api/idle',
    ]);
    expect(names({ filter: 'API' })).toEqual([
      '/api/trpc/*',
      'auth.apiKeys.list',
      '/api/health',
      '/api/idle',
    ]);
    expect(names({ minRequests: 2 })).toEqual(['/api/trpc/*']);
    const limited = analytics.routes(performanceRoutesInput.parse({ kind: 'route', limit: 2 }));
    expect(limited.total).toBe(4);
    expect(limited.series.map((s) => s.name)).toEqual(['/api/trpc/*', '/api/health']);
  });

  it('never keeps more series of a kind than its bound: later names share one overflow series', () => {
    const analytics = new RequestAnalytics({ maxSeriesPerKind: 2 });
    for (const name of ['/a', '/b', '/c', '/d', '/e']) analytics.series('route', name).record(0.001, 200);
    analytics.series('procedure', 'system.info').record(0.001, 200);

    expect(analytics.snapshot('route').map((s) => [s.name, s.requests])).toEqual([
      ['/a', 1],
      ['/b', 1],
      [OVERFLOW_SERIES_NAME, 3],
    ]);
    expect(analytics.series('route', '/f')).toBe(analytics.series('route', OVERFLOW_SERIES_NAME));
    expect(analytics.liveSeries('route')).toHaveLength(3);
    // The other kind has a bound of its own.
    expect(analytics.snapshot('procedure').map((s) => s.name)).toEqual(['system.info']);
  });

  it('counts as errors of a procedure the codes answered with a 5xx, not refusals', () => {
    expect(
      ['INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE', 'GATEWAY_TIMEOUT'].map(isServerErrorCode),
    ).toEqual([true, true, true]);
    expect(
      ['OK', 'BAD_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'TOO_MANY_REQUESTS'].map(isServerErrorCode),
    ).toEqual([false, false, false, false, false]);
  });

  it('counts 4xx answers apart from errors, and procedures by the status class of their code', () => {
    const analytics = new RequestAnalytics();
    const route = analytics.series('route', '/api/trpc/*');
    for (const status of [200, 401, 404, 429, 500, 503]) route.record(0.001, status);
    expect(analytics.snapshot('route')[0]).toMatchObject({ requests: 6, clientErrors: 3, errors: 2 });
    expect(['OK', 'UNAUTHORIZED', 'NOT_FOUND', 'INTERNAL_SERVER_ERROR'].map(statusOfCode)).toEqual([
      200, 400, 400, 500,
    ]);
    expect(analytics.overview().routes).toMatchObject({ clientErrors: 3, errors: 2 });
  });

  it('records nothing when disabled', () => {
    const analytics = new RequestAnalytics({ enabled: false });
    const series = analytics.series('route', '/api/health');
    series.record(0.001, 500);
    expect(analytics.snapshot()).toEqual([]);
    expect(analytics.procedure('system.info')).toBeNull();
    const overview = analytics.overview();
    expect(overview.enabled).toBe(false);
    expect(overview.routes).toMatchObject({ series: 0, requests: 0, errors: 0, errorRate: 0, p99Ms: null });
  });
});
