import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { deleteExpiredRateLimits } from '../../db/repositories/rate-limits';
import type { RateLimitPolicy } from '../../server/base/rate-limit/gcra';
import { MemoryRateLimitStore } from '../../server/base/rate-limit/memory-store';
import { PostgresRateLimitStore } from '../../server/base/rate-limit/postgres-store';
import type { RateLimitStore } from '../../server/base/rate-limit/store';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';
import { hammer, offer } from '../helpers/rate-limit-load';

let testDb: OpenedTestDatabase;
/** Three "app instances": each its own pool and its own store over the one database. */
let instances: PlatformDatabase[] = [];
let stores: PostgresRateLimitStore[] = [];

beforeAll(async () => {
  testDb = await openTestDatabase();
  instances = [testDb.database, testDb.open(), testDb.open()];
  stores = instances.map((instance) => new PostgresRateLimitStore(instance.db));
});

afterAll(async () => {
  await testDb?.close();
});

/**
 * Offers 0.9x, 1x and 10x the limit to three PostgreSQL instances and to the in-memory store,
 * printing each outcome: all is admitted up to the limit, and 0.95–1.0 of the theoretical
 * maximum in every case.
 */
async function expectAccurate(policy: RateLimitPolicy, keyPrefix: string, label: string) {
  const memory = new MemoryRateLimitStore();
  const candidates: [string, (i: number) => RateLimitStore][] = [
    ['postgres, 3 instances', (i) => stores[i % 3]!],
    ['memory', () => memory],
  ];
  for (const [name, store] of candidates) {
    for (const load of [0.9, 1, 10]) {
      const result = await offer(store, `${keyPrefix}:${load}`, policy, load);
      console.log(
        `rate-limit accuracy (${name}${label}) at ${load}x: offered ${result.offered}, admitted ${result.admitted}, ` +
          `theoretical max ${result.theoreticalMax}, ratio ${result.ratio.toFixed(4)}`,
      );
      if (load <= 1) expect(result.admitted).toBe(result.offered);
      expect(result.ratio).toBeGreaterThanOrEqual(0.95);
      expect(result.ratio).toBeLessThanOrEqual(1);
    }
  }
}

describe('PostgresRateLimitStore', () => {
  it('lets three instances hammering one key together admit exactly the burst at one instant', async () => {
    const policy = { limit: 50, periodMs: 60_000 };
    const decisions = await hammer(stores, 'login:same-instant', policy, () => 1_800_000_000_000);
    expect(decisions).toHaveLength(600);
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
    // Every refusal says how long to wait; none is told to come back immediately.
    for (const refused of decisions.filter((d) => !d.allowed))
      expect(refused.retryAfterMs).toBeGreaterThan(0);
  });

  it('admits no more than the burst plus the refill when instances run on the database clock', async () => {
    const policy = { limit: 50, periodMs: 60_000 };
    const started = performance.now();
    const decisions = await hammer(stores, 'login:database-clock', policy, () => undefined);
    const elapsedMs = performance.now() - started;
    const admitted = decisions.filter((d) => d.allowed).length;
    // One request's worth of refill per 1.2 s of wall time, counted generously.
    expect(admitted).toBeGreaterThanOrEqual(50);
    expect(admitted).toBeLessThanOrEqual(50 + Math.ceil(elapsedMs / 1_200) + 1);
  });

  it('stays within 0.95–1.0 of the theoretical maximum at 0.9x, 1x and 10x the limit', async () => {
    await expectAccurate({ limit: 20, periodMs: 1_000 }, 'accuracy', '');
  });

  it('stays as accurate with an emission interval that is not a whole number of ms', async () => {
    // 1000/7 ms at epoch-scale times, where absolute arithmetic once rounded requests away.
    await expectAccurate(
      { limit: 7, periodMs: 1_000, burst: 3 },
      'accuracy-fractional',
      ', 7 per second, burst 3',
    );
  });

  it('decides exactly as the in-memory store for the same sequence of requests', async () => {
    const memory = new MemoryRateLimitStore();
    // A period that does not divide evenly by the limit, so the emission interval is fractional.
    const policies: RateLimitPolicy[] = [
      { limit: 7, periodMs: 1_000, burst: 3 },
      { limit: 3, periodMs: 10_000 },
    ];
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    let now = 1_800_000_000_000;
    for (let i = 0; i < 600; i++) {
      now += Math.floor(random() * 400);
      const key = `same:${Math.floor(random() * 3)}`;
      const policy = policies[Math.floor(random() * 2)]!;
      const cost = 1 + Math.floor(random() * 3);
      const fromPostgres = await stores[i % 3]!.consume(key, policy, cost, now);
      const fromMemory = await memory.consume(key, policy, cost, now);
      expect({ i, ...fromPostgres }).toEqual({ i, ...fromMemory });
    }
  });

  it('deletes only rows whose theoretical arrival time has passed, changing no decision', async () => {
    const policy = { limit: 10, periodMs: 1_000 };
    const now = 1_900_000_000_000;
    await stores[0]!.consume('expiry:spent', policy, 1, now - 5_000);
    await stores[0]!.consume('expiry:busy', policy, 5, now);
    const deleted = await deleteExpiredRateLimits(instances[0]!.db, now);
    expect(deleted).toBeGreaterThanOrEqual(1);
    const keys = await instances[0]!.db
      .selectFrom('rate_limits')
      .select('key')
      .where('key', 'like', 'expiry:%')
      .execute();
    expect(keys.map((k) => k.key)).toEqual(['expiry:busy']);
    const next = await stores[1]!.consume('expiry:busy', policy, 1, now);
    expect(next).toMatchObject({ allowed: true, remaining: 4 });
  });
});
