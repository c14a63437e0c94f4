import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { ConfigError } from '../../server/base/config';
import { createRateLimitStore } from '../../server/base/rate-limit/create-store';
import type { RateLimitDecision, RateLimitPolicy } from '../../server/base/rate-limit/gcra';
import { MemoryRateLimitStore } from '../../server/base/rate-limit/memory-store';
import { PostgresRateLimitStore } from '../../server/base/rate-limit/postgres-store';
import { createRateLimitRedisClient, RedisRateLimitStore } from '../../server/base/rate-limit/redis-store';
import type { RateLimitStore } from '../../server/base/rate-limit/store';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';
import { hammer, offer } from '../helpers/rate-limit-load';
import { redisSkipReason, startTestRedis, type TestRedis } from '../helpers/redis';
import { mustRun, ROOT } from '../helpers/server-process';

const skipReason = redisSkipReason();

let redis: TestRedis | undefined;
/** Three "app instances": each its own connection and its own store over the one Redis. */
let clients: Redis[] = [];
let stores: RedisRateLimitStore[] = [];
let testDb: OpenedTestDatabase | undefined;
let database: PlatformDatabase | undefined;

beforeAll(async () => {
  if (skipReason) return;
  redis = await startTestRedis();
  clients = [0, 1, 2].map(() => createRateLimitRedisClient(redis!.url));
  stores = clients.map((client) => new RedisRateLimitStore(client));
  testDb = await openTestDatabase();
  database = testDb.database;
});

afterAll(async () => {
  for (const client of clients) await client.quit().catch(() => client.disconnect());
  await redis?.stop();
  await testDb?.close();
});

beforeEach((ctx) => {
  if (skipReason) ctx.skip(skipReason);
});

describe('RedisRateLimitStore', () => {
  it('lets three instances hammering one key together admit exactly the burst at one instant', async () => {
    const policy = { limit: 50, periodMs: 60_000 };
    const decisions = await hammer(stores, 'login:same-instant', policy, () => 1_800_000_000_000);
    expect(decisions).toHaveLength(600);
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
    for (const refused of decisions.filter((d) => !d.allowed))
      expect(refused.retryAfterMs).toBeGreaterThan(0);
  });

  it('admits no more than the burst plus the refill when instances run on the Redis clock', async () => {
    const policy = { limit: 50, periodMs: 60_000 };
    const started = performance.now();
    const decisions = await hammer(stores, 'login:redis-clock', policy, () => undefined);
    const elapsedMs = performance.now() - started;
    const admitted = decisions.filter((d) => d.allowed).length;
    // One request's worth of refill per 1.2 s of wall time, counted generously.
    expect(admitted).toBeGreaterThanOrEqual(50);
    expect(admitted).toBeLessThanOrEqual(50 + Math.ceil(elapsedMs / 1_200) + 1);
  });

  it('stays within 0.95–1.0 of the theoretical maximum at 0.9x, 1x and 10x the limit', async () => {
    const policy = { limit: 20, periodMs: 1_000 };
    for (const load of [0.9, 1, 10]) {
      const result = await offer((i) => stores[i % 3]!, `accuracy:${load}`, policy, load);
      console.log(
        `rate-limit accuracy (redis, 3 instances) at ${load}x: offered ${result.offered}, ` +
          `admitted ${result.admitted}, theoretical max ${result.theoreticalMax}, ratio ${result.ratio.toFixed(4)}`,
      );
      if (load < 1) expect(result.admitted).toBe(result.offered);
      expect(result.ratio).toBeGreaterThanOrEqual(0.95);
      expect(result.ratio).toBeLessThanOrEqual(1);
    }
  });

  it('lets a key expire once its theoretical arrival time has passed, and not before', async () => {
    const policy = { limit: 10, periodMs: 2_000 };
    // The store's expiry runs on Redis's own timer, relative to the `now` of the request.
    const first = await stores[0]!.consume('expiry', policy, 5, Date.now());
    expect(first).toMatchObject({ allowed: true, remaining: 5, resetMs: 1_000 });
    const ttl = await clients[0]!.pttl('rate-limit:expiry');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_000);
    // A refusal writes nothing: the key keeps the expiry of the last admission.
    expect((await stores[1]!.consume('expiry', policy, 6, Date.now())).allowed).toBe(false);
    expect(await clients[0]!.pttl('rate-limit:expiry')).toBeLessThanOrEqual(ttl);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await clients[0]!.exists('rate-limit:expiry')).toBe(0);
    // Forgotten, it behaves like a key never seen: a full burst fits.
    expect((await stores[2]!.consume('expiry', policy, 10, Date.now())).allowed).toBe(true);
  });

  it('runs the script again with EVAL after Redis lost it (NOSCRIPT), keeping the state', async () => {
    const policy = { limit: 4, periodMs: 60_000 };
    const now = 1_800_000_000_000;
    await stores[0]!.consume('noscript', policy, 3, now);
    await clients[0]!.script('FLUSH');
    expect(await clients[0]!.info('memory')).toContain('number_of_cached_scripts:0');
    expect(await stores[1]!.consume('noscript', policy, 1, now)).toMatchObject({
      allowed: true,
      remaining: 0,
    });
    expect((await stores[2]!.consume('noscript', policy, 1, now)).allowed).toBe(false);
    // EVAL cached it again, so the next EVALSHA finds it.
    expect(await clients[0]!.info('memory')).toContain('number_of_cached_scripts:1');
  });
});

describe('memory, PostgreSQL and Redis stores', () => {
  it('give identical decisions for one scripted sequence of requests', async () => {
    const memory = new MemoryRateLimitStore();
    const postgres = new PostgresRateLimitStore(database!.db);
    // Fractional emission intervals (1000/7, 10000/3), costs up to 3, several keys.
    const policies: RateLimitPolicy[] = [
      { limit: 7, periodMs: 1_000, burst: 3 },
      { limit: 3, periodMs: 10_000 },
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    let now = 1_800_000_000_000;
    let admitted = 0;
    for (let i = 0; i < 600; i++) {
      now += Math.floor(random() * 400) + random();
      const key = `sequence:${Math.floor(random() * 3)}`;
      const policy = policies[Math.floor(random() * 2)]!;
      const cost = 1 + Math.floor(random() * 3);
      const fromMemory = await memory.consume(key, policy, cost, now);
      const fromPostgres = await postgres.consume(key, policy, cost, now);
      const fromRedis = await stores[i % 3]!.consume(key, policy, cost, now);
      expect({ i, ...fromPostgres }).toEqual({ i, ...fromMemory });
      expect({ i, ...fromRedis }).toEqual({ i, ...fromMemory });
      if (fromMemory.allowed) admitted++;
    }
    // The sequence exercises both outcomes, so agreement means something.
    expect(admitted).toBeGreaterThan(50);
    expect(admitted).toBeLessThan(550);
  });
});

describe('every store at epoch-scale times, with an emission interval that is not a whole number of ms', () => {
  // 1000/7 ms: sums of such intervals added to ~1.8e12 ms round to 2^-12 ms, which once refused
  // every request spending exactly the burst, in all three stores alike, and reported one
  // request too few remaining.
  const policy: RateLimitPolicy = { limit: 7, periodMs: 1_000, burst: 3 };
  const epochTimes = Array.from(
    { length: 200 },
    (_, i) => 1_700_000_000_000 + i * 52_361_071 + (i % 2 === 0 ? 0 : (i % 97) / 97),
  );

  function everyStore(): [string, (i: number) => RateLimitStore][] {
    const memory = new MemoryRateLimitStore();
    const postgres = new PostgresRateLimitStore(database!.db);
    return [
      ['memory', () => memory],
      ['postgres', () => postgres],
      ['redis', (i) => stores[i % 3]!],
    ];
  }

  it('admit a request spending exactly the burst on an idle key, every time, with nothing remaining', async () => {
    for (const [name, store] of everyStore()) {
      const decisions = [];
      for (const [i, now] of epochTimes.entries())
        decisions.push(await store(i).consume(`exact-burst:${i}`, policy, 3, now));
      // On the store's own clock too (Date.now(), statement_timestamp(), Redis TIME).
      for (let i = 0; i < 50; i++)
        decisions.push(await store(i).consume(`exact-burst:own-clock:${i}`, policy, 3));
      const expected = { allowed: true, limit: 7, remaining: 0, resetMs: 429, retryAfterMs: 0 };
      expect({ name, decisions }).toEqual({ name, decisions: decisions.map(() => expected) });
    }
  });

  it('admit a whole burst of single requests at one instant, counting remaining down exactly', async () => {
    for (const [name, store] of everyStore()) {
      for (const [i, now] of epochTimes.entries()) {
        const decisions = [];
        for (let j = 0; j < 4; j++)
          decisions.push(await store(i + j).consume(`exact-singles:${i}`, policy, 1, now));
        expect({
          name,
          now,
          decisions: decisions.map((d) => [d.allowed, d.remaining, d.retryAfterMs]),
        }).toEqual({
          name,
          now,
          decisions: [
            [true, 2, 0],
            [true, 1, 0],
            [true, 0, 0],
            [false, 0, 143],
          ],
        });
      }
    }
  });
});

describe('RedisRateLimitStore on Bun', () => {
  it.runIf(mustRun('bun'))('decides on Bun exactly as in memory on Node', async () => {
    const policy = { limit: 7, periodMs: 1_000, burst: 3 };
    const times = Array.from({ length: 40 }, (_, i) => 1_800_000_000_000 + i * 37.5);
    const script = `
      import { createRateLimitRedisClient, RedisRateLimitStore } from './server/base/rate-limit/redis-store.ts';
      const client = createRateLimitRedisClient(process.env.REDIS_URL);
      const store = new RedisRateLimitStore(client, { keyPrefix: 'bun:' });
      const decisions = [];
      for (const now of ${JSON.stringify(times)}) decisions.push(await store.consume('k', ${JSON.stringify(policy)}, 1, now));
      await client.quit();
      console.log(JSON.stringify({ runtime: typeof Bun, decisions }));
    `;
    const result = spawnSync(join(ROOT, 'node_modules/.bin/bun'), ['-e', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, REDIS_URL: redis!.url },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.stderr).toBe('');
    const fromBun = JSON.parse(result.stdout) as { runtime: string; decisions: RateLimitDecision[] };
    const memory = new MemoryRateLimitStore();
    const fromMemory: RateLimitDecision[] = [];
    for (const now of times) fromMemory.push(await memory.consume('k', policy, 1, now));
    expect(fromBun.runtime).toBe('object');
    expect(fromBun.decisions).toEqual(fromMemory);
    expect(fromMemory.some((d) => !d.allowed)).toBe(true);
  });
});

describe('createRateLimitStore', () => {
  it('builds the store RATE_LIMIT_STORE names, sharing state through PostgreSQL and Redis', async () => {
    const policy = { limit: 2, periodMs: 60_000 };
    for (const kind of ['memory', 'postgres', 'redis'] as const) {
      const config = { RATE_LIMIT_STORE: kind, REDIS_URL: redis!.url };
      const first = createRateLimitStore(config, { db: database!.db });
      const second = createRateLimitStore(config, { db: database!.db });
      try {
        await first.store.consume(`factory:${kind}`, policy, 2);
        const fromSecond = await second.store.consume(`factory:${kind}`, policy, 1);
        // Two instances share one allowance, except in memory, where each has its own.
        expect({ kind, allowed: fromSecond.allowed }).toEqual({ kind, allowed: kind === 'memory' });
      } finally {
        await first.close();
        await second.close();
      }
    }
  });

  it('refuses RATE_LIMIT_STORE=redis without REDIS_URL, naming the variable', () => {
    const create = () =>
      createRateLimitStore({ RATE_LIMIT_STORE: 'redis', REDIS_URL: undefined }, { db: database!.db });
    expect(create).toThrow(ConfigError);
    expect(create).toThrow(/REDIS_URL is required when RATE_LIMIT_STORE is redis/);
  });
});
