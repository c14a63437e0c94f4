import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlatformDatabase } from '../../../db/connect';
import { migrateToLatest } from '../../../db/migrate';
import { createTestDatabase } from '../../../tests/helpers/database';
import { redisSkipReason, startTestRedis, type TestRedis } from '../../../tests/helpers/redis';
import { readBuildInfo } from '../build-info';
import { createLogger } from '../logger';
import { createMetrics, type Metrics } from '../metrics/metrics';
import {
  DEFAULT_RATE_LIMIT_POLICIES,
  type LimiterPolicy,
  RateLimiter,
  type RateLimitOutcome,
  rateLimitHeaders,
} from './limiter';
import { MemoryRateLimitStore } from './memory-store';
import { PostgresRateLimitStore } from './postgres-store';
import { createRateLimitRedisClient, RedisRateLimitStore } from './redis-store';
import type { RateLimitStore } from './store';

const build = readBuildInfo();

function setup(store: RateLimitStore, policies: Record<string, LimiterPolicy> = DEFAULT_RATE_LIMIT_POLICIES) {
  const metrics = createMetrics({ build, defaultMetrics: false });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'warn',
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const limiter = new RateLimiter({ store, metrics, policies, logger });
  return { limiter, metrics, lines };
}

/** The rate_limit_decisions_total sample for one policy and decision (0 when absent). */
async function counted(metrics: Metrics, policy: string, decision: string): Promise<number> {
  const { values } = await metrics.auth.rateLimitDecisions.get();
  return values.find((v) => v.labels.policy === policy && v.labels.decision === decision)?.value ?? 0;
}

async function checkTimes(limiter: RateLimiter, policy: string, key: string, times: number) {
  const outcomes: RateLimitOutcome[] = [];
  for (let i = 0; i < times; i++) outcomes.push(await limiter.check(policy, key));
  return outcomes;
}

describe('rateLimitHeaders', () => {
  it('describes the policy and what is left in IETF RateLimit structured fields', async () => {
    const { limiter } = setup(new MemoryRateLimitStore());
    const outcome = await limiter.check('ip', '203.0.113.7');
    // 600 a minute is one every 100 ms: 599 left, the next one refilled within a second.
    expect(rateLimitHeaders(outcome, DEFAULT_RATE_LIMIT_POLICIES.ip)).toEqual({
      'RateLimit-Policy': '"ip";q=600;w=60',
      RateLimit: '"ip";r=599;t=1',
    });
  });

  it('adds Retry-After to a refusal, never earlier than the RateLimit reset', async () => {
    const { limiter } = setup(new MemoryRateLimitStore());
    const outcomes = await checkTimes(limiter, 'login', 'account:ada@example.com', 11);
    expect(outcomes.map((o) => o.allowed)).toEqual([...Array(10).fill(true), false]);
    expect(rateLimitHeaders(outcomes[8]!, DEFAULT_RATE_LIMIT_POLICIES.login)).toEqual({
      'RateLimit-Policy': '"login";q=10;w=60',
      RateLimit: '"login";r=1;t=6',
    });
    // Ten a minute refill one every 6 s: the refused client may come back in 6 s, not in 60.
    expect(rateLimitHeaders(outcomes[10]!, DEFAULT_RATE_LIMIT_POLICIES.login)).toEqual({
      'RateLimit-Policy': '"login";q=10;w=60',
      RateLimit: '"login";r=0;t=6',
      'Retry-After': '6',
    });
  });

  it('rounds a window of a fraction of a second up to whole seconds', async () => {
    const policy: LimiterPolicy = { limit: 3, periodMs: 1_500, onStoreFailure: 'open' };
    const { limiter } = setup(new MemoryRateLimitStore(), { burst: policy });
    const headers = rateLimitHeaders(await limiter.check('burst', 'k'), policy);
    expect(headers['RateLimit-Policy']).toBe('"burst";q=3;w=2');
    expect(headers.RateLimit).toBe('"burst";r=2;t=1');
  });
});

describe('RateLimiter', () => {
  it('keeps a separate allowance per policy for the same key', async () => {
    const { limiter } = setup(new MemoryRateLimitStore());
    await checkTimes(limiter, 'login', '198.51.100.4', 10);
    expect((await limiter.check('login', '198.51.100.4')).allowed).toBe(false);
    expect((await limiter.check('refresh', '198.51.100.4')).allowed).toBe(true);
    expect((await limiter.check('login', '198.51.100.5')).allowed).toBe(true);
  });

  it('counts allowed and limited decisions by policy', async () => {
    const { limiter, metrics } = setup(new MemoryRateLimitStore());
    await checkTimes(limiter, 'login', 'account:grace@example.com', 12);
    await checkTimes(limiter, 'user', 'user-1', 3);
    expect(await counted(metrics, 'login', 'allowed')).toBe(10);
    expect(await counted(metrics, 'login', 'limited')).toBe(2);
    expect(await counted(metrics, 'user', 'allowed')).toBe(3);
    expect(await counted(metrics, 'login', 'store_error')).toBe(0);
  });

  it('throws for an unknown policy or a cost above the burst, counting no decision', async () => {
    const { limiter, metrics } = setup(new MemoryRateLimitStore());
    await expect(limiter.check('nowhere', 'k')).rejects.toThrow(RangeError);
    await expect(limiter.check('login', 'k', 11)).rejects.toThrow(/exceeds the burst/);
    expect((await metrics.auth.rateLimitDecisions.get()).values).toEqual([]);
  });

  it('rejects at construction a policy that makes no sense or a name unfit for a header', () => {
    const store = new MemoryRateLimitStore();
    const metrics = createMetrics({ build, defaultMetrics: false });
    const bad = { limit: 0, periodMs: 1_000, onStoreFailure: 'open' } as const;
    expect(() => new RateLimiter({ store, metrics, policies: { bad } })).toThrow(RangeError);
    const fine = { limit: 1, periodMs: 1_000, onStoreFailure: 'open' } as const;
    expect(() => new RateLimiter({ store, metrics, policies: { 'a"b': fine } })).toThrow(/not allowed/);
  });

  it('fails closed on the auth routes and open everywhere else', () => {
    const failureModes = Object.fromEntries(
      Object.entries(DEFAULT_RATE_LIMIT_POLICIES).map(([name, policy]) => [name, policy.onStoreFailure]),
    );
    expect(failureModes).toEqual({ ip: 'open', user: 'open', login: 'closed', refresh: 'closed' });
  });
});

describe('RateLimiter over a PostgreSQL store whose database is gone', () => {
  it('refuses logins and admits public traffic, saying why without a RateLimit field', async () => {
    const testDb = await createTestDatabase();
    const database = new PlatformDatabase({
      url: testDb.url,
      poolMax: 2,
      connectTimeoutMs: 2_000,
      statementTimeoutMs: 5_000,
      idleTimeoutMs: 10_000,
      retry: { attempts: 4, baseMs: 5, maxMs: 20 },
    });
    try {
      await database.connect();
      await migrateToLatest(database.db);
      const { limiter, metrics } = setup(new PostgresRateLimitStore(database.db));
      expect(await limiter.check('login', '192.0.2.1')).toMatchObject({ allowed: true, storeFailed: false });

      await testDb.drop();
      const login = await limiter.check('login', '192.0.2.1');
      expect(login).toEqual({ allowed: false, decision: null, policy: 'login', storeFailed: true });
      expect(rateLimitHeaders(login, DEFAULT_RATE_LIMIT_POLICIES.login)).toEqual({
        'RateLimit-Policy': '"login";q=10;w=60',
        'Retry-After': '5',
      });
      expect(await limiter.check('ip', '192.0.2.1')).toEqual({
        allowed: true,
        decision: null,
        policy: 'ip',
        storeFailed: true,
      });
      expect(await counted(metrics, 'login', 'store_error')).toBe(1);
      expect(await counted(metrics, 'ip', 'store_error')).toBe(1);
    } finally {
      await database.close().catch(() => undefined);
      await testDb.drop();
    }
  });
});

describe('RateLimiter over a Redis store that fails', () => {
  const skipReason = redisSkipReason();
  let redis: TestRedis | undefined;
  let closeClient: (() => Promise<void>) | undefined;

  beforeEach((ctx) => {
    if (skipReason) ctx.skip(skipReason);
  });
  afterEach(async () => {
    await closeClient?.();
    await redis?.stop();
  });

  /** A Redis store on a fresh server; the client's own command timeout set far beyond the limiter's. */
  async function redisStore() {
    redis = await startTestRedis();
    const client = createRateLimitRedisClient(redis.url, { commandTimeoutMs: 30_000 });
    client.on('error', () => undefined);
    closeClient = () =>
      client.quit().then(
        () => undefined,
        () => client.disconnect(),
      );
    return new RedisRateLimitStore(client);
  }

  it('refuses login and refresh but admits ip and user traffic once the server is gone', async () => {
    const { limiter, metrics, lines } = setup(await redisStore());
    expect(await limiter.check('login', '192.0.2.9')).toMatchObject({ allowed: true, storeFailed: false });

    await redis!.stop();
    const outcomes = Object.fromEntries(
      await Promise.all(
        ['login', 'refresh', 'ip', 'user'].map(async (name) => [
          name,
          await limiter.check(name, '192.0.2.9'),
        ]),
      ),
    );
    expect(outcomes).toEqual({
      login: { allowed: false, decision: null, policy: 'login', storeFailed: true },
      refresh: { allowed: false, decision: null, policy: 'refresh', storeFailed: true },
      ip: { allowed: true, decision: null, policy: 'ip', storeFailed: true },
      user: { allowed: true, decision: null, policy: 'user', storeFailed: true },
    });
    await checkTimes(limiter, 'ip', '192.0.2.9', 20);
    expect(await counted(metrics, 'ip', 'store_error')).toBe(21);
    expect(await counted(metrics, 'login', 'store_error')).toBe(1);
    expect(await counted(metrics, 'login', 'allowed')).toBe(1);
    // 24 failures within a few seconds: one log line, not 24.
    const failures = lines.filter((line) => String(line.msg).startsWith('rate-limit store failed'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 'warn', err: { message: expect.any(String) } });
  });

  it('answers within its timeout when the server stops answering, and recovers when it resumes', async () => {
    const { limiter, metrics, lines } = setup(await redisStore());
    expect(await limiter.check('refresh', 'session-1')).toMatchObject({ allowed: true, storeFailed: false });

    process.kill(redis!.pid, 'SIGSTOP');
    try {
      const started = performance.now();
      const [refresh, ip] = await Promise.all([
        limiter.check('refresh', 'session-1'),
        limiter.check('ip', 'a'),
      ]);
      // The client would wait 30 s; only the limiter's 250 ms bound can answer this soon.
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(refresh).toMatchObject({ allowed: false, storeFailed: true });
      expect(ip).toMatchObject({ allowed: true, storeFailed: true });
      expect(lines[0]).toMatchObject({ err: { type: 'RateLimitStoreTimeoutError' } });
    } finally {
      process.kill(redis!.pid, 'SIGCONT');
    }
    // The connection survived the pause: the next check reaches Redis again.
    const after = await limiter.check('refresh', 'session-1');
    expect(after).toMatchObject({ allowed: true, storeFailed: false });
    // Three consumes reached Redis in the end, the two timed out ones included.
    expect(after.decision?.remaining).toBe(27);
    expect(await counted(metrics, 'refresh', 'store_error')).toBe(1);
  });
});
