import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import {
  LoadRecorder,
  loops,
  mutationUrl,
  type Outcome,
  queryUrl,
  resultData,
  sleep,
  tally,
} from '../helpers/fault-load';
import { redisSkipReason, startTestRedis, type TestRedis } from '../helpers/redis';
import { adminHeaders, mustRun, PROCESS_ADMIN, startServer, stopAllServers } from '../helpers/server-process';

/**
 * The Redis rate-limit store goes away under load, twice: killed (connections refused) and frozen
 * with SIGSTOP (connections open, no answers). The written policy (README, "Rate limits": "When
 * the store fails, login and refresh are refused (they fail closed) and everything else is
 * admitted (fails open)"; server/base/rate-limit/limiter.ts) must hold throughout:
 * - calls without credentials (policy `ip`), signed-in users (`user`) and API keys with limits of
 *   their own are admitted, promptly, and carry no `RateLimit` field (no store decided);
 * - sign-in is refused with a JSON 503 SERVICE_UNAVAILABLE and a Retry-After;
 * - nothing else answers 5xx; and once Redis is back, the store decides again by itself.
 */

const STEADY_MS = 2_000;
const OUTAGE_MS = 3_000;
/** In-flight calls when the store goes away may still see it; judge outage windows after this. */
const SETTLE_MS = 300;
/** How soon the store must decide again after Redis is back (the client reconnects within ~1 s). */
const RECOVERY_BOUND_MS = 5_000;
/** A fail-open call may wait for the store's timeout (250 ms) or the client's command timeout (1 s). */
const FAIL_OPEN_BOUND_MS = 2_000;

const skipReason = redisSkipReason();
let redis: TestRedis | undefined;
let testDb: TestDatabase | undefined;

afterAll(async () => {
  await stopAllServers();
  await redis?.stop();
  await testDb?.drop();
});

describe.runIf(mustRun('bun') && !skipReason)('Redis rate-limit store down under load', () => {
  it('fails open for calls, closed for sign-in, with no other 5xx, and recovers when Redis returns', async () => {
    redis = await startTestRedis();
    const redisPort = redis.port;
    testDb = await createTestDatabase();
    const server = await startServer({
      runtime: 'bun',
      env: {
        DATABASE_URL: testDb.url,
        RATE_LIMIT_STORE: 'redis',
        REDIS_URL: redis.url,
        // High enough that the load below is never limited while the store is up: what is under
        // test is what happens when it cannot be asked. (The login limit's maximum is 10 000.)
        RATE_LIMIT_IP_PER_MINUTE: '1000000',
        RATE_LIMIT_USER_PER_MINUTE: '1000000',
        RATE_LIMIT_LOGIN_PER_MINUTE: '10000',
      },
    });
    const headers = await adminHeaders(server);
    // An API key with a named limit of its own, which it spends in the same store on every call.
    const created = await fetch(mutationUrl(server.url, 'auth.apiKeys.create'), {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'fault suite key',
        scopes: ['system:read'],
        rateLimits: [{ name: 'steady', limit: 1_000_000, periodMs: 60_000 }],
      }),
    });
    const apiKey = ((await created.json()) as { result: { data: { key: string } } }).result.data.key;

    const load = new LoadRecorder();
    let running = true;
    const anonymous = loops(
      1,
      () => running,
      async () => {
        await load.call('anonymous', queryUrl(server.url, 'system.info'));
      },
    );
    const user = loops(
      1,
      () => running,
      async () => {
        await load.call('user', queryUrl(server.url, 'system.annotations.list', { limit: 5 }), { headers });
      },
    );
    const keyed = loops(
      1,
      () => running,
      async () => {
        await load.call('apiKey', queryUrl(server.url, 'system.annotations.list', { limit: 5 }), {
          headers: { 'x-api-key': apiKey },
        });
      },
    );
    const logins = loops(
      1,
      () => running,
      async () => {
        await load.call('login', mutationUrl(server.url, 'auth.login'), { body: PROCESS_ADMIN });
        await sleep(100);
      },
    );

    /** Waits for the first sign-in sent after `since` that succeeds; its delay from `since`. */
    const recovered = async (since: number): Promise<number | null> => {
      while (load.now() - since < RECOVERY_BOUND_MS * 2) {
        const ok = load.select('login', since).find((o) => o.status === 200);
        if (ok) return ok.at - since;
        await sleep(50);
      }
      return null;
    };

    await sleep(STEADY_MS);
    // Killed: the port refuses connections.
    const killedAt = load.now();
    await redis.stop();
    await sleep(OUTAGE_MS);
    // The outage ends when the new server starts: the client may reconnect before its "ready"
    // line reaches the test.
    const restartingAt = load.now();
    redis = await startTestRedis({ port: redisPort });
    const restartedAt = load.now();
    const afterRestartMs = await recovered(restartedAt);
    const steadyAgainAt = load.now();
    await sleep(STEADY_MS);
    // Frozen: connections stay open and nothing answers, as with a hung or partitioned Redis.
    const frozenAt = load.now();
    process.kill(redis.pid, 'SIGSTOP');
    await sleep(OUTAGE_MS);
    process.kill(redis.pid, 'SIGCONT');
    const thawedAt = load.now();
    const afterThawMs = await recovered(thawedAt);
    const steadyFinallyAt = load.now();
    await sleep(STEADY_MS);
    running = false;
    await Promise.all([anonymous, user, keyed, logins]);
    const end = load.now();

    const outages: [number, number][] = [
      [killedAt + SETTLE_MS, restartingAt],
      [frozenAt + SETTLE_MS, thawedAt],
    ];
    const steady: [number, number][] = [
      [0, killedAt],
      [steadyAgainAt, frozenAt],
      [steadyFinallyAt, end],
    ];
    // A request counts in a window when it was sent and answered inside it: one sent just before
    // Redis came back may fairly get the store's answer.
    const within = (windows: [number, number][], kinds: string[]) =>
      load.outcomes.filter(
        (o) => kinds.includes(o.kind) && windows.some(([a, b]) => o.at >= a && o.at + o.ms < b),
      );
    const admitted = ['anonymous', 'user', 'apiKey'];
    const outageCalls = within(outages, admitted);
    const outageLogins = within(outages, ['login']);
    const steadyAll = within(steady, [...admitted, 'login']);

    const summary = {
      requestsSent: load.outcomes.length,
      ok: load.outcomes.filter((o) => o.status === 200).length,
      answered: tally(load.outcomes),
      byKind: Object.fromEntries([...admitted, 'login'].map((kind) => [kind, tally(load.select(kind))])),
      duringOutages: { calls: tally(outageCalls), logins: tally(outageLogins) },
      outageCallMsMax: Math.round(Math.max(...outageCalls.map((o) => o.ms))),
      loginRetryAfterDuringOutages: [
        ...new Set(outageLogins.map((o) => o.headers?.get('retry-after') ?? null)),
      ],
      timelineMs: { killedAt, restartingAt, restartedAt, frozenAt, thawedAt, end },
      signInBackAfterRestartMs: afterRestartMs,
      signInBackAfterThawMs: afterThawMs,
      storeFailureWarnings: server.logs.filter((l) => String(l.msg).startsWith('rate-limit store failed'))
        .length,
    };
    console.log(`fault rate-limit-store-down: ${JSON.stringify(summary)}`);

    // The store was really in use while up: anonymous and user calls carried its decision.
    const decided = (o: Outcome, policy: string) => o.headers?.get('ratelimit')?.startsWith(`"${policy}";r=`);
    const steadyAnonymous = steadyAll.filter((o) => o.kind === 'anonymous');
    expect(steadyAnonymous.length).toBeGreaterThan(0);
    expect(steadyAnonymous.filter((o) => !decided(o, 'ip'))).toEqual([]);
    expect(steadyAll.filter((o) => o.kind === 'user' && !decided(o, 'user'))).toEqual([]);
    // Up: everything served, sign-in included.
    expect(steadyAll.filter((o) => o.status !== 200).map(brief)).toEqual([]);

    // Down: calls fail open, promptly, without a store decision in their headers.
    expect(outageCalls.length).toBeGreaterThan(0);
    expect(outageCalls.filter((o) => o.status !== 200).map(brief)).toEqual([]);
    expect(outageCalls.filter((o) => o.ms > FAIL_OPEN_BOUND_MS).map(brief)).toEqual([]);
    expect(outageCalls.filter((o) => o.kind !== 'apiKey' && o.headers?.has('ratelimit')).map(brief)).toEqual(
      [],
    );
    // Down: sign-in fails closed, as a JSON 503 with the stable code and a Retry-After.
    expect(outageLogins.length).toBeGreaterThan(0);
    expect(
      outageLogins
        .filter(
          (o) =>
            !(
              o.status === 503 &&
              o.json &&
              o.code === 'SERVICE_UNAVAILABLE' &&
              o.headers?.has('retry-after')
            ),
        )
        .map(brief),
    ).toEqual([]);
    expect(outageLogins.filter((o) => resultData(o) !== undefined)).toEqual([]);

    // Over the whole run, transitions included: no 5xx but sign-in's 503, no unanswered request.
    expect(
      load.outcomes.filter((o) => o.status !== 200 && !(o.kind === 'login' && o.status === 503)).map(brief),
    ).toEqual([]);
    // Recovery by itself, both times.
    expect(afterRestartMs).not.toBeNull();
    expect(afterRestartMs!).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(afterThawMs).not.toBeNull();
    expect(afterThawMs!).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(summary.storeFailureWarnings).toBeGreaterThan(0);
    expect(server.logs.filter((l) => l.msg === 'tRPC error' || l.msg === 'unhandled error')).toEqual([]);
    expect(server.exited()).toBeNull();
  });
});

function brief(o: Outcome) {
  return {
    kind: o.kind,
    at: o.at,
    ms: Math.round(o.ms),
    status: o.status,
    code: o.code,
    error: o.networkError,
  };
}
