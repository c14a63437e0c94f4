import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app';
import { createPlatformUser, login } from '../helpers/auth';

/**
 * The performance router over real traffic: the figures move with requests the test makes and
 * times itself, slow queries and a held pool show up, and an idle instance reports nothing.
 */
describe('performance router', () => {
  let t: TestApp;
  let operator: { authorization: string };

  beforeAll(async () => {
    t = await startTestApp({ DB_POOL_MAX: '3', PERFORMANCE_SLOW_QUERY_MS: '150' });
    operator = (await login(t, await createPlatformUser(t, 'operator'))).headers;
  });
  afterAll(async () => {
    await t?.close();
  });

  async function read(procedure: string, input?: unknown) {
    const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    const response = await t.app.request(`/api/trpc/${procedure}${query}`, { headers: operator });
    const body = (await response.json()) as { result?: { data: unknown }; error?: unknown };
    expect(response.status, JSON.stringify(body)).toBe(200);
    // biome-ignore lint/suspicious/noExplicitAny: figures are inspected field by field
    return body.result!.data as any;
  }

  it('reports nothing on an idle instance', async () => {
    const { findings } = await read('performance.bottlenecks');
    expect(findings).toEqual([]);
  });

  it('counts 200 calls of one procedure, with percentiles inside the latencies the client measured', async () => {
    const measured: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      const response = await t.app.request('/api/trpc/system.info');
      await response.text();
      measured.push(performance.now() - started);
      expect(response.status).toBe(200);
    }
    measured.sort((a, b) => a - b);
    const figures = await read('performance.procedure', { path: 'system.info' });
    expect(figures.requests).toBe(200);
    expect(figures.errors).toBe(0);
    expect(figures.recentRequests).toBe(200);
    // The server's own timing is part of what the client waited for, never more (1.6% bucket error).
    const clientMax = measured[measured.length - 1]!;
    expect(figures.p50Ms).toBeGreaterThan(0);
    expect(figures.p50Ms).toBeLessThanOrEqual(measured[100]! * 1.02);
    expect(figures.p99Ms).toBeLessThanOrEqual(clientMax * 1.02);
    expect(figures.maxMs).toBeLessThanOrEqual(clientMax * 1.02);
    expect(figures.p50Ms).toBeLessThanOrEqual(figures.p90Ms);
    expect(figures.p90Ms).toBeLessThanOrEqual(figures.p99Ms);

    // Rates count whole seconds only: after the next second begins the calls are in the window.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await read('performance.procedure', { path: 'system.info' })).rate1m).toBeGreaterThan(0);
    const route = (await read('performance.routes', { kind: 'route', filter: '/api/trpc' })).series[0];
    expect(route).toMatchObject({ kind: 'route', name: '/api/trpc/*' });
    expect(route.requests).toBeGreaterThanOrEqual(200);
    const overview = await read('performance.overview');
    expect(overview.procedures.requests).toBeGreaterThanOrEqual(200);
  });

  it('puts a pg_sleep query in the slow log with its normalised text, and flags its shape', async () => {
    for (let i = 0; i < 3; i++) {
      await t.deps.database.read((db) => sql`select pg_sleep(${0.2})`.execute(db));
    }
    const { slow, shapes } = await read('performance.queries', { sort: 'total', limit: 5 });
    const entry = slow.find((q: { text: string }) => q.text === 'select pg_sleep(?)');
    expect(entry, JSON.stringify(slow)).toBeDefined();
    expect(entry.durationMs).toBeGreaterThanOrEqual(200);
    expect(shapes[0]).toMatchObject({ text: 'select pg_sleep(?)', count: 3 });

    const { findings } = await read('performance.bottlenecks');
    expect(findings).toContainEqual(
      expect.objectContaining({ rule: 'slow_query', subject: shapes[0].fingerprint, severity: 'warning' }),
    );
    const response = await t.app.request('/api/system/status', { headers: t.admin });
    const status = (await response.json()) as {
      performance: { slowestQuery: { fingerprint: string }; bottlenecks: { rule: string }[] };
    };
    expect(status.performance.slowestQuery.fingerprint).toBe(shapes[0].fingerprint);
    expect(status.performance.bottlenecks.map((b) => b.rule)).toContain('slow_query');
    // The same figures reach Prometheus.
    const scrape = await (await t.app.request('/metrics')).text();
    expect(scrape).toContain('performance_bottlenecks{rule="slow_query",severity="warning"} 1');
    expect(scrape).toMatch(/^db_slow_queries_recent [1-9]/m);
    expect(scrape).toMatch(/^cache_requests_total\{result="miss"\} [1-9]/m);
  });

  it('reports callers waiting for the pool while every connection is held', async () => {
    // Three connections held for a second, two more callers queued behind them.
    const held = Array.from({ length: 5 }, () =>
      t.deps.database.read((db) => sql`select pg_sleep(${1})`.execute(db)),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { findings } = await read('performance.bottlenecks');
    await Promise.all(held);
    expect(findings).toContainEqual(
      expect.objectContaining({ rule: 'pool_waiting', evidence: expect.objectContaining({ max: 3 }) }),
    );
  });

  it('estimates capacity from measured costs', async () => {
    // Past the traffic an estimate needs (MIN_REQUESTS_TO_ESTIMATE in the window).
    for (let i = 0; i < 1_000; i++) await (await t.app.request('/api/trpc/system.info')).text();
    t.deps.performance.sampler.sample();
    const capacity = await read('performance.capacity');
    expect(capacity.throughput.requestsPerSecond).toBeGreaterThan(0);
    expect(capacity.cpu.secondsPerRequest).toBeGreaterThan(0);
    expect(capacity.pool.max).toBe(3);
    expect(capacity.memory.rssBytes).toBeGreaterThan(0);
    expect(['cpu', 'database']).toContain(capacity.bottleneck);
    expect(capacity.headroom).toBeGreaterThan(0);
    expect(capacity.estimateReason).toBeNull();
  });

  it('shows the cache figures, with the API-key verification cache among its sources', async () => {
    await t.app.request('/api/trpc/auth.me', { headers: t.admin });
    const stats = await read('performance.cache.stats');
    expect(stats).toMatchObject({ maxEntries: 10_000 });
    expect(stats.warmers.registered).toContain('database-settings');
    expect(stats.sources.apiKeys.hits).toBeGreaterThan(0);
  });
});
