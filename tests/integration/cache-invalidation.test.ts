import { randomBytes, randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { ChangeFeed } from '../../server/base/change-feed';
import type { UserPrincipal } from '../../server/base/principal';
import { appRouter } from '../../server/http/routers/index';
import { createCallerFactory } from '../../server/http/trpc';
import { Cache } from '../../server/services/cache/cache';
import {
  DATABASE_SETTINGS_KEY,
  databaseSettingsWarmer,
  readDatabaseSettings,
} from '../../server/services/cache/database-settings';
import { DistributedInvalidation } from '../../server/services/cache/distributed-invalidation';
import { WarmerRegistry } from '../../server/services/cache/warmers';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';
import { closeRouterDeps, routerContext, routerDeps } from '../helpers/router-context';

/** One app instance's cache side: its own pool, change feed, cache, invalidation and warmers. */
interface Instance {
  database: PlatformDatabase;
  feed: ChangeFeed;
  applicationName: string;
  cache: Cache;
  invalidation: DistributedInvalidation;
  warmers: WarmerRegistry;
}

let testDb: OpenedTestDatabase;
let a: Instance;
let b: Instance;

async function startInstance(database: PlatformDatabase): Promise<Instance> {
  await database.connect();
  const applicationName = `cache-test-${randomBytes(4).toString('hex')}`;
  const feed = new ChangeFeed({ url: testDb.url, applicationName, reconnect: { baseMs: 20, maxMs: 200 } });
  const cache = new Cache({ maxEntries: 1_000, defaultTtlMs: 60_000 });
  const invalidation = new DistributedInvalidation({ cache, feed, database });
  const warmers = new WarmerRegistry({ cache, timeoutMs: 5_000 });
  warmers.register(databaseSettingsWarmer(database));
  await feed.start();
  return { database, feed, applicationName, cache, invalidation, warmers };
}

beforeAll(async () => {
  // No schema: nothing here reads a table.
  testDb = await openTestDatabase({ migrate: false });
  a = await startInstance(testDb.database);
  b = await startInstance(testDb.open());
});

afterAll(async () => {
  for (const instance of [a, b]) await instance?.feed.stop();
  await testDb?.close();
});

/** Polls `probe` every 10 ms until it holds; throws after `timeoutMs`. */
async function waitUntil(probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function fill(instance: Instance, entries: { key: string; tags?: string[] }[]): void {
  for (const { key, tags } of entries) instance.cache.set(key, key, { tags });
}

describe('distributed cache invalidation over LISTEN/NOTIFY', () => {
  it('a key invalidated on one instance is gone from the other within a second', async () => {
    const key = `user:${randomUUID()}`;
    fill(a, [{ key }, { key: 'kept' }]);
    fill(b, [{ key }, { key: 'kept' }]);

    expect(await a.invalidation.invalidate({ kind: 'key', key })).toEqual({ removed: 1 });
    expect(a.cache.get(key)).toBeUndefined();
    await waitUntil(() => b.cache.get(key) === undefined, 1_000);

    expect(b.cache.get('kept')).toBe('kept');
    // A's own notification came back and was skipped, not applied twice.
    await waitUntil(() => a.invalidation.stats().ownSkipped === 1, 1_000);
    expect(b.invalidation.stats()).toMatchObject({ received: 1, unreadable: 0 });
  });

  it('a tag invalidated on one instance removes its entries on the other within a second', async () => {
    const tag = `org:${randomUUID()}`;
    const entries = [{ key: `${tag}:1`, tags: [tag] }, { key: `${tag}:2`, tags: [tag] }, { key: 'untagged' }];
    fill(a, entries);
    fill(b, entries);

    expect(await b.invalidation.invalidate({ kind: 'tag', tag })).toEqual({ removed: 2 });
    await waitUntil(
      () => a.cache.get(`${tag}:1`) === undefined && a.cache.get(`${tag}:2`) === undefined,
      1_000,
    );
    expect(a.cache.get('untagged')).toBe('untagged');
  });

  it('clearing everything on one instance clears the other within a second', async () => {
    fill(a, [{ key: 'x' }, { key: 'y' }]);
    fill(b, [{ key: 'x' }, { key: 'y' }]);
    await a.invalidation.invalidate({ kind: 'all' });
    expect(a.cache.stats().entries).toBe(0);
    await waitUntil(() => b.cache.stats().entries === 0, 1_000);
  });

  it('clears the cache when the feed reconnects, since notifications may have been missed', async () => {
    fill(b, [{ key: 'before-loss' }]);
    const { rows } = await sql<{ pid: number }>`
      select pid from pg_stat_activity where application_name = ${b.applicationName}
    `.execute(a.database.db);
    expect(rows).toHaveLength(1);

    await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(a.database.db);
    await waitUntil(() => b.invalidation.stats().reconnectClears === 1 && b.feed.connected, 10_000);

    expect(b.cache.get('before-loss')).toBeUndefined();
    // Listening again: an invalidation from A reaches B as before.
    fill(b, [{ key: 'after-reconnect' }]);
    await a.invalidation.invalidate({ kind: 'key', key: 'after-reconnect' });
    await waitUntil(() => b.cache.get('after-reconnect') === undefined, 1_000);
  });

  it('clears the cache on a payload it cannot read, rather than keep what it may have meant to remove', async () => {
    fill(b, [{ key: 'doubtful' }]);
    await a.feed.publish(a.database.db, 'cache_invalidations', '{"v":2,"kind":"shard","shard":7}');
    await waitUntil(() => b.cache.get('doubtful') === undefined, 1_000);
    expect(b.invalidation.stats().unreadable).toBeGreaterThanOrEqual(1);
  });
});

describe('database settings warmer', () => {
  it('loads the server settings into the cache, where status reads them without a query', async () => {
    const [result] = await a.warmers.warmAll();
    expect(result).toMatchObject({ name: 'database-settings', entries: 1, error: null });
    const cached = a.cache.get<{ serverVersion: string; maxConnections: number }>(DATABASE_SETTINGS_KEY);
    expect(cached?.maxConnections).toBeGreaterThan(0);
    expect(cached?.serverVersion).toMatch(/^\d+/);

    const loadsBefore = a.cache.stats().loads;
    expect(await readDatabaseSettings(a.cache, a.database)).toBe(cached);
    expect(a.cache.stats().loads).toBe(loadsBefore);
  });
});

describe('performance.cache procedures', () => {
  afterAll(closeRouterDeps);

  function callerAs(role: UserPrincipal['role']) {
    const principal: UserPrincipal = {
      kind: 'user',
      userId: randomUUID(),
      organizationId: randomUUID(),
      role,
      // The cache is the platform's: its callers hold the platform role of the same rank.
      platformRole: role === 'viewer' ? null : role,
      sessionId: randomUUID(),
    };
    // The app's router over its own dependencies, with instance a's cache, warmers and invalidation in place.
    const deps = routerDeps({ cache: a.cache, cacheWarmers: a.warmers, cacheInvalidation: a.invalidation });
    return createCallerFactory(appRouter)(routerContext(principal, deps, 'cache-test')).performance;
  }

  it('invalidate reaches the other instance; stats show it and the registered sources', async () => {
    const operator = callerAs('operator');
    a.cache.registerStatsSource('apiKeys', () => ({ hits: 3, misses: 1 }));
    fill(b, [{ key: 'via-router' }]);

    await operator.cache.invalidate({ key: 'via-router' });
    await waitUntil(() => b.cache.get('via-router') === undefined, 1_000);

    const stats = await operator.cache.stats();
    expect(stats.sources).toEqual({ apiKeys: { hits: 3, misses: 1 } });
    expect(stats.warmers.registered).toEqual(['database-settings']);
    expect(stats.invalidation.instanceId).toBe(a.invalidation.instanceId);
    expect(stats.invalidation.published).toBeGreaterThan(0);
    expect((await operator.cache.warm({ warmers: ['database-settings'] })).results).toMatchObject([
      { name: 'database-settings', entries: 1, error: null },
    ]);
  });

  it('refuses a viewer and an invalidation naming two targets', async () => {
    const viewer = await callerAs('viewer')
      .cache.stats()
      .catch((e: unknown) => e);
    expect(viewer).toBeInstanceOf(TRPCError);
    expect((viewer as TRPCError).code).toBe('FORBIDDEN');

    const ambiguous = await callerAs('operator')
      .cache.invalidate({ key: 'a', tag: 'b' })
      .catch((e: unknown) => e);
    expect((ambiguous as TRPCError).code).toBe('BAD_REQUEST');
  });
});
