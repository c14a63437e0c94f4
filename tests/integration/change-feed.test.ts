import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { ChangeFeed, publishChange } from '../../server/base/change-feed';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';

let testDb: OpenedTestDatabase;
let database: PlatformDatabase;
const feeds: ChangeFeed[] = [];

beforeAll(async () => {
  testDb = await openTestDatabase({ migrate: false });
  database = testDb.database;
});

afterAll(async () => {
  for (const feed of feeds) await feed.stop();
  await testDb?.close();
});

/** A started feed whose connection can be found in pg_stat_activity by its application name. */
async function startFeed(): Promise<{ feed: ChangeFeed; applicationName: string; received: string[] }> {
  const applicationName = `change-feed-test-${randomBytes(4).toString('hex')}`;
  const feed = new ChangeFeed({ url: testDb.url, applicationName, reconnect: { baseMs: 20, maxMs: 200 } });
  feeds.push(feed);
  const received: string[] = [];
  feed.subscribe('api_key_changes', (payload) => received.push(payload));
  await feed.start();
  return { feed, applicationName, received };
}

/** Polls `probe` every 10 ms until it holds; throws after `timeoutMs`. */
async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function listenerBackends(applicationName: string) {
  return sql<{ pid: number }>`select pid from pg_stat_activity where application_name = ${applicationName}`
    .execute(database.db)
    .then((result) => result.rows);
}

describe('ChangeFeed', () => {
  it('delivers a notification when its transaction commits and never when it rolls back', async () => {
    const { feed, received } = await startFeed();
    expect(feed.connected).toBe(true);

    await database.db
      .transaction()
      .execute(async (trx) => {
        await feed.publish(trx, 'api_key_changes', 'rolled-back');
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await database.db.transaction().execute(async (trx) => {
      await feed.publish(trx, 'api_key_changes', 'committed');
      // Not before the commit: the transaction is still open here.
      await sql`select pg_sleep(0.05)`.execute(trx);
      expect(received).toEqual([]);
    });

    await waitUntil(() => received.length > 0, 5_000);
    // Notifications of one server arrive in commit order, so the rolled-back one would be first.
    expect(received).toEqual(['committed']);
  });

  it('reconnects after its backend is terminated, tells subscribers, and delivers again', async () => {
    const { feed, applicationName, received } = await startFeed();
    let reconnects = 0;
    feed.onReconnect(() => {
      reconnects++;
    });
    const [backend] = await listenerBackends(applicationName);
    expect(backend).toBeDefined();

    await sql`select pg_terminate_backend(${backend!.pid})`.execute(database.db);
    await waitUntil(() => reconnects === 1 && feed.connected, 10_000);
    const [replacement] = await listenerBackends(applicationName);
    expect(replacement?.pid).not.toBe(backend!.pid);

    await publishChange(database.db, 'api_key_changes', 'after-reconnect');
    await waitUntil(() => received.includes('after-reconnect'), 5_000);
    expect(received).toEqual(['after-reconnect']);
  });

  it('refuses channels outside its allow-list and payloads pg_notify would refuse', async () => {
    const { feed } = await startFeed();
    expect(() => feed.subscribe('api_key_changes"; drop table users; --', () => undefined)).toThrow(
      RangeError,
    );
    expect(() => feed.subscribe('other_channel', () => undefined)).toThrow(RangeError);
    await expect(feed.publish(database.db, 'other_channel', 'x')).rejects.toThrow(RangeError);
    await expect(feed.publish(database.db, 'api_key_changes', 'x'.repeat(8_000))).rejects.toThrow(RangeError);
  });

  it('closes its connection on stop and does not come back', async () => {
    const { feed, applicationName } = await startFeed();
    expect(await listenerBackends(applicationName)).toHaveLength(1);
    await feed.stop();
    expect(feed.connected).toBe(false);
    await waitUntil(async () => (await listenerBackends(applicationName)).length === 0, 5_000);
    // Longer than the largest backoff: a feed that reconnected after stop would be back by now.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await listenerBackends(applicationName)).toHaveLength(0);
  });

  it('rejects start when the first connection fails, and stays stopped', async () => {
    const url = new URL(testDb.url);
    url.pathname = `/missing_${randomBytes(4).toString('hex')}`;
    const feed = new ChangeFeed({ url: url.toString(), reconnect: { baseMs: 20, maxMs: 200 } });
    feeds.push(feed);
    await expect(feed.start()).rejects.toThrow(/does not exist/);
    expect(feed.connected).toBe(false);
  });
});
