import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app';

/**
 * `db_client_connections{state="waiting"}` counts callers waiting for a connection while none is
 * free, never the scrape's own database reads (deployment and backup figures), which pg-pool
 * queues for a tick even when every connection is idle.
 */

const POOL_MAX = 2;
/** How long each held connection stays busy: long enough to scrape meanwhile. */
const HOLD_SECONDS = 2;

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'warn', DB_POOL_MAX: String(POOL_MAX) });
});
afterAll(() => t?.close());

async function waitingGauge(): Promise<number> {
  const res = await t.app.request('/metrics');
  expect(res.status).toBe(200);
  const line = (await res.text())
    .split('\n')
    .find((l) => l.startsWith('db_client_connections{state="waiting"}'));
  expect(line).toBeDefined();
  return Number(line?.split(' ')[1]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('pool gauges', () => {
  it('report no caller waiting on an idle instance, scrape after scrape', async () => {
    const figures: number[] = [];
    for (let i = 0; i < 20; i++) {
      figures.push(await waitingGauge());
      // Half back to back, half after the scrape-time figures' cache has expired (1 s at most).
      if (i % 2 === 1) await sleep(120);
    }
    console.log(`pool gauges idle waiting over 20 scrapes: ${JSON.stringify(figures)}`);
    expect(figures).toEqual(Array(20).fill(0));
  });

  it('report the callers waiting while every connection is held by a long query', async () => {
    const { db, pool } = t.deps.database;
    const holders = Array.from({ length: POOL_MAX }, () => sql`select pg_sleep(${HOLD_SECONDS})`.execute(db));
    for (
      let waited = 0;
      waited < 5_000 && !(pool.totalCount === POOL_MAX && pool.idleCount === 0);
      waited += 20
    ) {
      await sleep(20);
    }
    expect(pool.totalCount).toBe(POOL_MAX);
    expect(pool.idleCount).toBe(0);
    const queued = Array.from({ length: 2 }, () => sql`select 1`.execute(db));
    const waiting = await waitingGauge();
    console.log(`pool gauges exhausted (pool of ${POOL_MAX}, 2 callers queued): waiting ${waiting}`);
    await Promise.all([...holders, ...queued]);
    expect(waiting).toBeGreaterThanOrEqual(2);
    // Back to 0 once the hold ends: a client goes back to the pool a moment after its query's
    // result is delivered, so the scrape that follows at once may still see it in use.
    let after = await waitingGauge();
    for (let waited = 0; waited < 3_000 && after !== 0; waited += 50) {
      await sleep(50);
      after = await waitingGauge();
    }
    expect(after).toBe(0);
  });
});
