import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { insertMetricHistory } from '../../db/repositories/metric-history';
import { createLogger } from '../../server/base/logger';
import { RequestAnalytics } from '../../server/services/performance/analytics';
import { performanceComponent } from '../../server/services/performance/component';
import { ALL_SERIES_NAME, rowOf } from '../../server/services/performance/history-points';
import { LatencyHistogram } from '../../server/services/performance/latency-histogram';
import { MetricHistory } from '../../server/services/performance/metric-history';
import { QueryMonitor } from '../../server/services/performance/query-monitor';
import { ResourceSampler } from '../../server/services/performance/resource-sampler';
import { startTestApp, type TestApp } from '../helpers/app';
import { createApiKey, createOrganization, createPlatformUser, createUser, login } from '../helpers/auth';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';
import { callProcedure, send } from '../helpers/http';

const logger = createLogger({ level: 'silent' });
const MINUTE = 60_000;
/** A minute boundary (2026-12-07T12:00:00Z), so tests place requests in known minutes. */
const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);

/** One instance's request analytics and history on a clock the test moves. */
function instance(database: PlatformDatabase, id: string, clock: { now: number }, maxNamesPerMinute = 50) {
  const analytics = new RequestAnalytics({ clock: () => clock.now, maxSeriesPerKind: 256 });
  const history = new MetricHistory({
    analytics,
    database,
    logger,
    instanceId: id,
    clock: () => clock.now,
    maxNamesPerMinute,
  });
  return { analytics, history };
}

async function rowsOf(database: PlatformDatabase) {
  return database.db
    .selectFrom('metric_history')
    .selectAll()
    .orderBy('name')
    .orderBy('instance_id')
    .execute();
}

describe('request history in PostgreSQL', () => {
  let opened: OpenedTestDatabase;

  beforeAll(async () => {
    opened = await openTestDatabase();
  });
  afterAll(async () => {
    await opened?.close();
  });

  it("sums two instances' minutes: counts add up and percentiles are those of all their requests", async () => {
    await opened.database.db.deleteFrom('metric_history').execute();
    const second = opened.open();
    await second.connect();
    const clock = { now: T0 + 5_000 };
    const a = instance(opened.database, 'instance-a', clock);
    const b = instance(second, 'instance-b', clock);
    const everything = new LatencyHistogram();
    const route = '/api/items/:id';
    for (let i = 0; i < 100; i++) {
      const seconds = 0.001 + i * 0.00001;
      a.analytics.series('route', route).record(seconds, i < 10 ? 404 : 200);
      everything.record(seconds);
    }
    for (let i = 0; i < 50; i++) {
      const seconds = 0.02 + i * 0.0001;
      b.analytics.series('route', route).record(seconds, i < 5 ? 503 : 200);
      everything.record(seconds);
    }
    clock.now = T0 + MINUTE + 1_000;
    await a.history.flush();
    await b.history.flush();

    const rows = await rowsOf(opened.database);
    expect(rows.map((r) => [r.instance_id, r.name, r.requests])).toEqual([
      ['instance-a', ALL_SERIES_NAME, 100],
      ['instance-b', ALL_SERIES_NAME, 50],
      ['instance-a', route, 100],
      ['instance-b', route, 50],
    ]);

    // A third instance with nothing of its own reads both from the database.
    const reader = instance(opened.database, 'instance-c', clock);
    for (const input of [{ range: '15m' as const }, { range: '15m' as const, route }]) {
      const read = await reader.history.read(input);
      expect(read.instances).toBe(2);
      expect(read.points).toHaveLength(15);
      const minute = read.points.find((p) => p.at === new Date(T0).toISOString())!;
      expect(minute).toMatchObject({ requests: 150, clientErrors: 10, serverErrors: 5, partial: false });
      expect(minute.requestsPerSecond).toBeCloseTo(150 / 60);
      expect(minute.clientErrorsPerSecond).toBeCloseTo(10 / 60);
      expect(minute.serverErrorsPerSecond).toBeCloseTo(5 / 60);
      const ms = (q: number) => Math.round(everything.percentile(q) * 1e6) / 1e3;
      expect([minute.p50Ms, minute.p95Ms, minute.p99Ms]).toEqual([ms(0.5), ms(0.95), ms(0.99)]);
      // p50 lies among instance A's requests, p95 among B's: neither instance alone has these.
      expect(minute.p50Ms).toBeLessThan(2);
      expect(minute.p95Ms).toBeGreaterThan(20);
      expect(read.totals).toMatchObject({ requests: 150, clientErrors: 10, serverErrors: 5 });
      // Minutes without traffic are null, never 0/0.
      const empty = read.points.filter((p) => p.at !== minute.at);
      expect(empty.every((p) => p.requestsPerSecond === null && p.p99Ms === null)).toBe(true);
    }
    expect(JSON.stringify(await reader.history.read({ range: '24h' }))).not.toContain('NaN');
  });

  it('counts a minute once whether it is still in memory, being written or stored', async () => {
    await opened.database.db.deleteFrom('metric_history').execute();
    const clock = { now: T0 + 10_000 };
    const a = instance(opened.database, 'instance-a', clock);
    for (let i = 0; i < 30; i++) a.analytics.series('procedure', 'system.info').record(0.002, 200);
    const procedure = { range: '15m' as const, procedure: 'system.info' };
    const running = (await a.history.read(procedure)).points.at(-1)!;
    expect(running).toMatchObject({ requests: 30, partial: true });
    // 30 requests in the first 10 s of the minute.
    expect(running.requestsPerSecond).toBeCloseTo(3);

    await a.history.flush(); // the minute is still running: nothing is written
    expect(await rowsOf(opened.database)).toEqual([]);
    clock.now = T0 + MINUTE + 2_000;
    const writing = a.history.flush();
    const during = await a.history.read(procedure);
    await writing;
    const after = await a.history.read(procedure);
    for (const read of [during, after]) {
      expect(read.totals.requests).toBe(30);
      expect(read.points.at(-2)).toMatchObject({ at: new Date(T0).toISOString(), requests: 30 });
    }
    expect((await rowsOf(opened.database)).map((r) => r.name)).toEqual([ALL_SERIES_NAME, 'system.info']);
  });

  it('keeps 24 hours: the flush deletes older minutes', async () => {
    await opened.database.db.deleteFrom('metric_history').execute();
    const clock = { now: T0 + 30_000 };
    const a = instance(opened.database, 'instance-a', clock);
    const latency = { indexes: [100], counts: [1], sumSeconds: 0.001, minSeconds: 0.001, maxSeconds: 0.001 };
    const point = (minute: number) => ({
      minute,
      kind: 'route' as const,
      name: ALL_SERIES_NAME,
      requests: 1,
      clientErrors: 0,
      serverErrors: 0,
      latency,
    });
    const now = T0 / MINUTE;
    await insertMetricHistory(opened.database.db, [
      rowOf(point(now - 24 * 60 - 5), 'old'),
      rowOf(point(now - 24 * 60 - 1), 'old'),
      rowOf(point(now - 24 * 60 + 1), 'old'),
      rowOf(point(now - 1), 'old'),
    ]);
    await a.history.flush();
    const kept = (await rowsOf(opened.database)).map((r) => (r.minute.getTime() - T0) / MINUTE);
    expect(kept.sort((x, y) => x - y)).toEqual([-24 * 60 + 1, -1]);
    const read = await a.history.read({ range: '24h' });
    expect(read.points).toHaveLength(24 * 60);
    expect(read.totals.requests).toBe(2);
  });

  it('stores at most the busiest names a minute, the rest summed as (other)', async () => {
    await opened.database.db.deleteFrom('metric_history').execute();
    const clock = { now: T0 + 1_000 };
    const a = instance(opened.database, 'instance-a', clock, 3);
    const names = ['/a', '/b', '/c', '/d', '/e'];
    names.forEach((name, i) => {
      for (let n = 0; n <= i; n++) a.analytics.series('route', name).record(0.001, n === 0 ? 500 : 200);
    });
    clock.now = T0 + MINUTE;
    await a.history.flush();
    const rows = await rowsOf(opened.database);
    expect(rows.map((r) => [r.name, r.requests, r.server_errors])).toEqual([
      ['(other)', 3, 2],
      ['*', 15, 5],
      ['/c', 3, 1],
      ['/d', 4, 1],
      ['/e', 5, 1],
    ]);
    // Names past the bound are in (other) and in the total, not lost.
    expect((await a.history.read({ range: '15m', route: '(other)' })).totals.requests).toBe(3);
    expect((await a.history.read({ range: '15m' })).totals.requests).toBe(15);
  });

  it('stores the minute still running when the performance component stops', async () => {
    await opened.database.db.deleteFrom('metric_history').execute();
    const analytics = new RequestAnalytics();
    const history = new MetricHistory({
      analytics,
      database: opened.database,
      logger,
      instanceId: 'stopping',
    });
    const queries = new QueryMonitor({ slowQueryMs: 1_000 });
    const sampler = new ResourceSampler({ requests: () => 0, queryMs: () => 0 });
    const component = performanceComponent({ sampler, history, queries, database: opened.database, logger });
    await component.start(new AbortController().signal);
    const minuteBefore = Math.floor(Date.now() / MINUTE) * MINUTE;
    for (let i = 0; i < 7; i++) analytics.series('route', '/api/health').record(0.001, 200);
    await component.stop!();
    const rows = await rowsOf(opened.database);
    expect(rows.map((r) => [r.instance_id, r.name, r.requests])).toEqual([
      ['stopping', ALL_SERIES_NAME, 7],
      ['stopping', '/api/health', 7],
    ]);
    // The minute the requests fell in (the next one, should a minute have ended meanwhile).
    expect(rows[0]!.minute.getTime()).toBeGreaterThanOrEqual(minuteBefore);
    expect(rows[0]!.minute.getTime()).toBeLessThanOrEqual(Date.now());
  });
  it('gives the last minutes up at stop rather than wait on a database that does not answer', async () => {
    await opened.database.db.deleteFrom('metric_history').execute();
    const analytics = new RequestAnalytics();
    const history = new MetricHistory({
      analytics,
      database: opened.database,
      logger,
      instanceId: 'blocked',
      stopTimeoutMs: 200,
    });
    analytics.series('route', '/api/health').record(0.001, 200);
    // Another session holds the table: the insert waits on its lock for as long as it is held.
    const blocker = opened.open({ poolMax: 1 });
    await blocker.connect();
    const trx = await blocker.db.startTransaction().execute();
    await sql`lock table metric_history in access exclusive mode`.execute(trx);
    try {
      await history.stop(); // returns while the lock is still held
      expect(await trx.selectFrom('metric_history').selectAll().execute()).toEqual([]);
    } finally {
      await trx.rollback().execute();
    }
  });
});

describe('performance.history and the capacity estimate over HTTP', () => {
  let t: TestApp;
  let operator: { authorization: string };

  beforeAll(async () => {
    t = await startTestApp();
    operator = (await login(t, await createPlatformUser(t, 'operator'))).headers;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses to estimate capacity from a trickle of requests, and says so', async () => {
    for (let i = 0; i < 20; i++) await (await t.app.request('/api/trpc/system.info')).text();
    const capacity = await callProcedure(t.app, 'performance.capacity', 'query', undefined, operator);
    expect(capacity.status).toBe(200);
    expect(capacity.data).toMatchObject({
      estimatedMaxRequestsPerSecond: null,
      headroom: null,
      estimateReason: 'not enough traffic to estimate',
      minimumRequestsToEstimate: 1_000,
    });
    expect(capacity.data.requestsInWindow).toBeLessThan(1_000);
  });

  it('answers the per-minute history of every route and of one procedure, with 4xx and 5xx apart', async () => {
    for (let i = 0; i < 25; i++) await (await t.app.request('/api/trpc/system.info')).text();
    for (let i = 0; i < 4; i++) await (await t.app.request('/api/trpc/auth.me')).text(); // 401
    const all = await callProcedure(t.app, 'performance.history', 'query', { range: '15m' }, operator);
    expect(all.status, all.text).toBe(200);
    expect(all.data).toMatchObject({
      range: '15m',
      kind: 'route',
      name: null,
      stepSeconds: 60,
      instances: 1,
    });
    expect(all.data.points).toHaveLength(15);
    expect(all.data.totals.requests).toBeGreaterThanOrEqual(29);
    expect(all.data.totals.clientErrors).toBeGreaterThanOrEqual(4);
    const last = all.data.points.at(-1);
    expect(last.partial).toBe(true);

    const info = await callProcedure(
      t.app,
      'performance.history',
      'query',
      { range: '1h', procedure: 'system.info' },
      operator,
    );
    expect(info.data).toMatchObject({ kind: 'procedure', name: 'system.info' });
    expect(info.data.totals.requests).toBeGreaterThanOrEqual(25);
    expect(info.data.totals.p50Ms).toBeGreaterThan(0);
    const me = await callProcedure(t.app, 'performance.history', 'query', { procedure: 'auth.me' }, operator);
    expect(me.data.totals).toMatchObject({ requests: 4, clientErrors: 4, serverErrors: 0 });

    // The same over REST, with an API key of the platform's admin.
    const rest = await send(t.app, '/api/v1/performance/history?range=6h&procedure=system.info', {
      headers: t.admin,
    });
    expect(rest.res.status, rest.text).toBe(200);
    expect(rest.body.points).toHaveLength(360);
  });

  it('refuses bad input with BAD_REQUEST', async () => {
    for (const input of [{ range: '2d' }, { route: '/api/health', procedure: 'system.info' }, { bogus: 1 }]) {
      const answer = await callProcedure(t.app, 'performance.history', 'query', input, operator);
      expect(answer.status, answer.text).toBe(400);
      expect(answer.code).toBe('BAD_REQUEST');
    }
  });

  it('is platform scope: organization users and keys are refused, whatever their role', async () => {
    const tenantAdmin = await createOrganization(t);
    const tenantViewer = await createUser(t, 'viewer', tenantAdmin);
    const platformOrgAdmin = await createUser(t, 'admin');
    const callers = [
      (await login(t, tenantAdmin)).headers,
      (await login(t, tenantViewer)).headers,
      (await login(t, platformOrgAdmin)).headers,
      (await createApiKey(t, tenantAdmin)).headers,
    ];
    for (const headers of callers) {
      const answer = await callProcedure(t.app, 'performance.history', 'query', { range: '15m' }, headers);
      expect(answer.status, answer.text).toBe(403);
      expect(answer.data).toBeUndefined();
      const rest = await send(t.app, '/api/v1/performance/history?range=15m', { headers });
      expect(rest.res.status, rest.text).toBe(403);
    }
    const anonymous = await callProcedure(t.app, 'performance.history', 'query', { range: '15m' });
    expect(anonymous.status).toBe(401);
  });
});
