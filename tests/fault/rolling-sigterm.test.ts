import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { LoadRecorder, loops, median, mutationUrl, queryUrl, sleep, tally } from '../helpers/fault-load';
import { type ReadinessProxy, startReadinessProxy } from '../helpers/readiness-proxy';
import {
  adminHeaders,
  type ExitInfo,
  mustRun,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process';

/**
 * A rolling restart, twenty times over: two instances on one database behind a round-robin
 * proxy that routes only to ready instances (tests/helpers/readiness-proxy.ts, which retries only
 * refused connections, as real proxies do). Under continuous reads and writes, one instance at a
 * time is sent SIGTERM, must exit 0, and is replaced; the replacement takes traffic before the
 * other one is touched (maxUnavailable 0). No client may see a failed request: the server's drain
 * (readiness 503 at once, the listener open for SHUTDOWN_DRAIN_DELAY_MS, in-flight requests
 * finished) is what makes that hold.
 */

const ROLLS = 20;
/** Short, to keep the suite quick, yet well above the proxy's readiness polling. */
const DRAIN_DELAY_MS = 400;
const PROXY_POLL_MS = 50;
const SHUTDOWN_TIMEOUT_MS = 5_000;

let testDb: TestDatabase | undefined;
let proxy: ReadinessProxy | undefined;

afterAll(async () => {
  await proxy?.close();
  await stopAllServers();
  await testDb?.drop();
});

describe.runIf(mustRun('bun'))('rolling SIGTERM behind a readiness-gated proxy', () => {
  it('twenty rolling restarts under load: every instance exits 0, no request fails', async () => {
    testDb = await createTestDatabase();
    const database = testDb;
    const start = () =>
      startServer({
        runtime: 'bun',
        env: {
          DATABASE_URL: database.url,
          SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
          SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
          // Each instance counts per-user calls in its own memory; not what is under test.
          RATE_LIMIT_USER_PER_MINUTE: '1000000',
        },
      });
    // The first starts alone, so that the two do not race to migrate the empty database.
    const first = await start();
    const instances: ServerProcess[] = [first, await start()];
    proxy = await startReadinessProxy({ pollMs: PROXY_POLL_MS });
    const front = proxy;
    const ids = ['a', 'b'];
    instances.forEach((instance, i) => {
      front.add(ids[i]!, instance.port);
    });
    await waitFor(() => ids.every((id) => front.inRotation(id)), 10_000, 'both instances in rotation');

    // Access tokens are verified by every instance against the keys in the shared database.
    const headers = await adminHeaders({ url: front.url });
    const load = new LoadRecorder();
    let running = true;
    const writers = loops(
      2,
      () => running,
      async (w, i) => {
        const key = `rolling-${w}-${i}`;
        await load.call('write', mutationUrl(front.url, 'system.annotations.create'), {
          headers,
          body: { text: `rolling restart write ${w}/${i}`, tags: ['fault'], idempotencyKey: key },
          marker: key,
        });
      },
    );
    const readers = loops(
      2,
      () => running,
      async () => {
        await load.call('read', queryUrl(front.url, 'system.annotations.list', { limit: 10 }), { headers });
      },
    );

    const rolls: { instance: string; exit: ExitInfo; shutdownMs: number; replacementReadyMs: number }[] = [];
    let generation = 0;
    await sleep(500);
    for (let r = 0; r < ROLLS; r++) {
      const slot = r % 2;
      const old = instances[slot]!;
      const oldId = ids[slot]!;
      const signalled = performance.now();
      const exit = await old.stop('SIGTERM', SHUTDOWN_TIMEOUT_MS + 5_000);
      const shutdownMs = Math.round(performance.now() - signalled);
      await front.remove(oldId);
      // The replacement, and the proxy seeing it ready, before the other instance is touched.
      const replacement = await start();
      const newId = `${slot === 0 ? 'a' : 'b'}${++generation}`;
      front.add(newId, replacement.port);
      await waitFor(() => front.inRotation(newId), 10_000, `replacement ${newId} in rotation`);
      instances[slot] = replacement;
      ids[slot] = newId;
      rolls.push({
        instance: oldId,
        exit,
        shutdownMs,
        replacementReadyMs: Math.round(performance.now() - signalled) - shutdownMs,
      });
    }
    await sleep(300);
    running = false;
    await Promise.all([writers, readers]);

    const requests = load.select().filter((o) => o.kind === 'write' || o.kind === 'read');
    const failed = requests.filter((o) => o.status !== 200);
    const acknowledged = load.select('write').filter((o) => o.status === 200);
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    let stored: Set<string>;
    try {
      const { rows } = await direct.query<{ key: string }>(
        "select idempotency_key as key from annotations where idempotency_key like 'rolling-%'",
      );
      stored = new Set(rows.map((row) => row.key));
    } finally {
      await direct.end();
    }

    const summary = {
      restarts: rolls.length,
      exitCodes: rolls.map((r) => r.exit.signal ?? r.exit.code).join(','),
      requestsSent: requests.length,
      ok: requests.length - failed.length,
      failed: failed.length,
      failedAs: tally(failed),
      writesAcknowledged: acknowledged.length,
      acknowledgedFoundInDatabase: acknowledged.filter((o) => stored.has(o.marker!)).length,
      proxy: front.stats,
      shutdownMsMedian: median(rolls.map((r) => r.shutdownMs)),
      shutdownMsMax: Math.max(...rolls.map((r) => r.shutdownMs)),
      replacementReadyMsMedian: median(rolls.map((r) => r.replacementReadyMs)),
      slowestRequestMs: Math.round(Math.max(...requests.map((o) => o.ms))),
    };
    console.log(`fault rolling-sigterm: ${JSON.stringify(summary)}`);

    expect(rolls).toHaveLength(ROLLS);
    expect(rolls.filter((r) => r.exit.code !== 0 || r.exit.signal !== null)).toEqual([]);
    // Each SIGTERM drained rather than hit the shutdown timeout.
    expect(rolls.filter((r) => r.shutdownMs >= SHUTDOWN_TIMEOUT_MS)).toEqual([]);
    expect(requests.length).toBeGreaterThan(ROLLS * 10);
    expect(
      failed.map((o) => ({ kind: o.kind, at: o.at, status: o.status, code: o.code, error: o.networkError })),
    ).toEqual([]);
    expect(acknowledged.filter((o) => !stored.has(o.marker!)).map((o) => o.marker)).toEqual([]);
    // No request needed the proxy's own fallbacks to succeed: the drain kept traffic off closing
    // instances.
    expect(front.stats.failedUpstream).toBe(0);
    expect(front.stats.noInstanceReady).toBe(0);

    for (const instance of instances) expect(await instance.stop()).toEqual({ code: 0, signal: null });
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}
