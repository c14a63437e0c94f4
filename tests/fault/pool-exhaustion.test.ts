import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { LoadRecorder, median, mutationUrl, queryUrl, sleep, tally } from '../helpers/fault-load';
import { adminHeaders, mustRun, startServer, stopAllServers } from '../helpers/server-process';

/**
 * Every connection of the server's pool held, for real: the test locks the table that
 * `system.annotations.create` writes to from a connection of its own, and sends as many of those
 * writes as the pool has connections. Each holds its connection, waiting on the lock inside
 * PostgreSQL, as a slow query would. Requests arriving meanwhile must be refused quickly (within
 * the acquire timeout and a small margin) with a JSON 503 and a stable code, rather than queue
 * without bound; once the lock goes, the held writes complete and service is whole again.
 */

const POOL_MAX = 4;
/** DB_CONNECT_TIMEOUT_MS bounds both opening a connection and waiting for a free one. */
const ACQUIRE_TIMEOUT_MS = 1_000;
/** Scheduling slack on a shared two-core machine; far below a second acquire timeout. */
const MARGIN_MS = 750;
const EXTRA_REQUESTS = 12;
const AFTERWARDS = 40;

let testDb: TestDatabase | undefined;

afterAll(async () => {
  await stopAllServers();
  await testDb?.drop();
});

describe.runIf(mustRun('bun'))('pool exhaustion', () => {
  it('refuses extra requests with a fast 503 while the pool is held, and serves everyone afterwards', async () => {
    testDb = await createTestDatabase();
    const server = await startServer({
      runtime: 'bun',
      env: {
        DATABASE_URL: testDb.url,
        DB_POOL_MAX: String(POOL_MAX),
        DB_CONNECT_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS),
        RATE_LIMIT_USER_PER_MINUTE: '1000000',
      },
    });
    const headers = await adminHeaders(server);
    const load = new LoadRecorder();
    const read = (kind: string) =>
      load.call(kind, queryUrl(server.url, 'system.annotations.list', { limit: 5 }), { headers });
    const write = (kind: string, key: string) =>
      load.call(kind, mutationUrl(server.url, 'system.annotations.create'), {
        headers,
        body: { text: `pool exhaustion ${key}`, tags: ['fault'], idempotencyKey: key },
      });

    // Served normally before anything is held.
    const before = await Promise.all([read('before'), write('before', 'pool-before')]);
    expect(before.map((o) => o.status)).toEqual([200, 200]);

    const locker = new pg.Client({ connectionString: testDb.url, application_name: 'fault-test-locker' });
    await locker.connect();
    let holders: Promise<unknown> | undefined;
    let held = 0;
    let extra: Awaited<ReturnType<typeof read>>[] = [];
    let readyDuringHold: Awaited<ReturnType<typeof read>> | undefined;
    let metricsDuringHold: Awaited<ReturnType<typeof read>> | undefined;
    try {
      await locker.query('begin');
      await locker.query('lock table annotations in access exclusive mode');
      holders = Promise.all(Array.from({ length: POOL_MAX }, (_, i) => write('holder', `pool-holder-${i}`)));
      // Held means: PostgreSQL shows as many of the server's pool sessions waiting on the lock as
      // the pool may open. (Not the server's /metrics: its scrape itself reads from the database.)
      for (let waited = 0; waited < 10_000 && held < POOL_MAX; waited += 50) {
        const { rows } = await locker.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
            where application_name = 'beauty-crafter-platform' and wait_event_type = 'Lock'`,
        );
        held = rows[0]!.n;
        if (held < POOL_MAX) await sleep(50);
      }
      expect(held).toBe(POOL_MAX);

      // Reads and writes that need a connection, all at once, while none is free.
      extra = await Promise.all(
        Array.from({ length: EXTRA_REQUESTS }, (_, i) =>
          i % 2 === 0 ? read('extra') : write('extra', `pool-extra-${i}`),
        ),
      );
      readyDuringHold = await load.call('ready-during-hold', `${server.url}/api/health/ready`);
      metricsDuringHold = await load.call('metrics-during-hold', `${server.url}/metrics`);
    } finally {
      await locker.query('commit').catch(() => undefined);
      await locker.end();
    }
    const holderOutcomes = (await holders) as Awaited<ReturnType<typeof read>>[];

    // Full service afterwards: every request answered 200.
    const after = await Promise.all(
      Array.from({ length: AFTERWARDS }, (_, i) =>
        i % 2 === 0 ? read('after') : write('after', `pool-after-${i}`),
      ),
    );
    const readyAfter = await load.call('ready-after', `${server.url}/api/health/ready`);

    const summary = {
      poolMax: POOL_MAX,
      acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
      heldConnections: held,
      extraSent: extra.length,
      extraAnswered: tally(extra),
      extraMsMax: Math.round(Math.max(...extra.map((o) => o.ms))),
      extraMsMedian: Math.round(median(extra.map((o) => o.ms))),
      extraRetryAfter: [...new Set(extra.map((o) => o.headers?.get('retry-after') ?? null))],
      readinessDuringHold: readyDuringHold?.status,
      metricsDuringHold: `${metricsDuringHold?.status} in ${Math.round(metricsDuringHold?.ms ?? 0)} ms`,
      holdersAnswered: tally(holderOutcomes),
      afterSent: after.length,
      afterAnswered: tally(after),
      readinessAfter: readyAfter.status,
    };
    console.log(`fault pool-exhaustion: ${JSON.stringify(summary)}`);

    // Every extra request: a JSON 503 with the stable code and a Retry-After, within the acquire
    // timeout + margin.
    expect(summary.extraRetryAfter).toEqual(['1']);
    expect(
      extra
        .filter((o) => !(o.status === 503 && o.json && o.code === 'SERVICE_UNAVAILABLE'))
        .map((o) => ({
          status: o.status,
          code: o.code,
          body: o.body,
        })),
    ).toEqual([]);
    expect(extra.filter((o) => o.ms > ACQUIRE_TIMEOUT_MS + MARGIN_MS).map((o) => Math.round(o.ms))).toEqual(
      [],
    );
    // Prometheus can still scrape: the gauges read from the database wait one acquire timeout at most.
    expect(metricsDuringHold?.status).toBe(200);
    expect(metricsDuringHold!.ms).toBeLessThanOrEqual(ACQUIRE_TIMEOUT_MS + MARGIN_MS);
    // The held writes were only delayed: each completed once the lock went.
    expect(holderOutcomes.map((o) => o.status)).toEqual(Array(POOL_MAX).fill(200));
    // Full service afterwards.
    expect(after.filter((o) => o.status !== 200).map((o) => [o.status, o.code])).toEqual([]);
    expect(readyAfter.status).toBe(200);
    // The refused writes wrote nothing; the held and later ones each wrote their row.
    const check = new pg.Client({ connectionString: testDb.url });
    await check.connect();
    try {
      const { rows } = await check.query<{ key: string }>(
        "select idempotency_key as key from annotations where idempotency_key like 'pool-%' order by 1",
      );
      const keys = rows.map((r) => r.key);
      expect(keys.filter((k) => k.startsWith('pool-extra-'))).toEqual([]);
      expect(keys.filter((k) => k.startsWith('pool-holder-'))).toHaveLength(POOL_MAX);
      expect(keys.filter((k) => k.startsWith('pool-after-'))).toHaveLength(AFTERWARDS / 2);
    } finally {
      await check.end();
    }
    expect(server.exited()).toBeNull();
  });
});
