import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../db/embedded-postgres';
import {
  LoadRecorder,
  loops,
  median,
  mutationUrl,
  type Outcome,
  queryUrl,
  sleep,
  tally,
} from '../helpers/fault-load';
import { adminHeaders, mustRun, startServer, stopAllServers } from '../helpers/server-process';

/**
 * PostgreSQL restarted ten times under continuous reads and writes, with the real server process
 * on Bun in front of it. What a user would notice is asserted: the process never dies, no write
 * it acknowledged is lost, readiness is back within 10 s of each restart, and every request made
 * while the database is away gets a clean JSON 503 with a stable code, within the client's
 * timeout.
 */

const RESTARTS = 10;
/**
 * How long PostgreSQL stays down each time. Most outages are short, which the server's own
 * retries (DB_CONNECT_ATTEMPTS with backoff, ~2-3 s in all) mostly hide; every fifth outlasts
 * them, so that requests really fail and the shape of those failures is checked on real ones.
 */
const outageMs = (restart: number) => (restart % 5 === 4 ? 4_000 : 1_000);
/** Load after readiness is back, before the next restart: writes must succeed again in between. */
const STEADY_MS = 800;
/** The bound on readiness after PostgreSQL is back. */
const READY_BOUND_MS = 10_000;
/** The client gives up after this long; an answer later than that is a hang. */
const CLIENT_TIMEOUT_MS = 15_000;

let root: string | undefined;
let postgres: EmbeddedPostgres | undefined;

afterAll(async () => {
  await stopAllServers();
  await postgres?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe.runIf(mustRun('bun'))('PostgreSQL restarted under load', () => {
  it('ten restarts: no crash, no lost acknowledged write, ready within 10 s, clean 503s meanwhile', async () => {
    root = await mkdtemp(join(tmpdir(), 'bc-fault-restarts-'));
    // PostgreSQL runs as the `postgres` user when we are root: it must reach its folder.
    await chmod(root, 0o755);
    postgres = await startEmbeddedPostgres({ dataDir: join(root, 'data') });
    const database = postgres;

    const server = await startServer({
      runtime: 'bun',
      env: {
        DATABASE_URL: database.url,
        // Reconnection attempts close together, so recovery is measured rather than waited for.
        DB_RETRY_BASE_MS: '50',
        DB_RETRY_MAX_MS: '500',
        // The per-user limit is not under test; at this request rate the default would answer 429s.
        RATE_LIMIT_USER_PER_MINUTE: '1000000',
      },
    });
    const headers = await adminHeaders(server);
    const load = new LoadRecorder();
    let running = true;

    // Writes of two kinds, each row carrying a unique marker to look for afterwards: annotations
    // with an idempotency key (retried by the server even across an ambiguous commit) and
    // environments (no key: an ambiguous commit must answer 503, never a guess).
    const annotationWriters = loops(
      2,
      () => running,
      async (w, i) => {
        const key = `fault-restart-${w}-${i}`;
        const outcome = await load.call('write', mutationUrl(server.url, 'system.annotations.create'), {
          headers,
          body: { text: `write ${w}/${i} through PostgreSQL restarts`, tags: ['fault'], idempotencyKey: key },
          timeoutMs: CLIENT_TIMEOUT_MS,
          marker: key,
        });
        if (outcome.status !== 200) await sleep(50);
      },
    );
    const environmentWriters = loops(
      1,
      () => running,
      async (_, i) => {
        const name = `fr-${i}`;
        const outcome = await load.call('write', mutationUrl(server.url, 'devops.environments.create'), {
          headers,
          body: { name, description: 'made during PostgreSQL restarts' },
          timeoutMs: CLIENT_TIMEOUT_MS,
          marker: name,
        });
        if (outcome.status !== 200) await sleep(50);
      },
    );
    const readers = loops(
      2,
      () => running,
      async () => {
        const outcome = await load.call(
          'read',
          queryUrl(server.url, 'system.annotations.list', { limit: 20 }),
          { headers, timeoutMs: CLIENT_TIMEOUT_MS },
        );
        if (outcome.status !== 200) await sleep(50);
      },
    );
    // Readiness as a load balancer would poll it, for the whole run.
    const prober = loops(
      1,
      () => running,
      async () => {
        await load.call('ready', `${server.url}/api/health/ready`, { timeoutMs: 5_000 });
        await sleep(100);
      },
    );

    const restarts: { stoppedAt: number; backAt: number; readyMs: number | null; exitedMidway: boolean }[] =
      [];
    await sleep(1_000);
    for (let r = 0; r < RESTARTS; r++) {
      await database.stop();
      const stoppedAt = load.now();
      await sleep(outageMs(r));
      await database.start();
      const backAt = load.now();
      // Readiness polled closely from the moment PostgreSQL is back, bounded a little past the
      // limit so a slow recovery is measured rather than cut off.
      let readyMs: number | null = null;
      while (load.now() - backAt < READY_BOUND_MS + 2_000) {
        const probe = await load.call('ready-after-restart', `${server.url}/api/health/ready`, {
          timeoutMs: 5_000,
        });
        if (probe.status === 200) {
          readyMs = probe.at + Math.round(probe.ms) - backAt;
          break;
        }
        await sleep(50);
      }
      restarts.push({ stoppedAt, backAt, readyMs, exitedMidway: server.exited() !== null });
      await sleep(STEADY_MS);
    }
    running = false;
    await Promise.all([annotationWriters, environmentWriters, readers, prober]);

    // Every acknowledged write, looked up directly in PostgreSQL by its marker.
    const writes = load.select('write');
    const acknowledged = writes.filter((o) => o.status !== null && o.status >= 200 && o.status < 300);
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    const stored = new Set<string>();
    try {
      const annotations = await direct.query<{ key: string }>(
        "select idempotency_key as key from annotations where idempotency_key like 'fault-restart-%'",
      );
      const environments = await direct.query<{ key: string }>(
        "select name as key from environments where name like 'fr-%'",
      );
      for (const row of [...annotations.rows, ...environments.rows]) stored.add(row.key);
    } finally {
      await direct.end();
    }
    const missing = acknowledged.filter((o) => !stored.has(o.marker!));

    const everything = load.select().filter((o) => o.kind === 'write' || o.kind === 'read');
    const failed = everything.filter((o) => o.status !== 200);
    const outage = (o: Outcome) => restarts.some((r) => o.at >= r.stoppedAt && o.at < r.backAt);
    const readyTimes = restarts.map((r) => r.readyMs ?? Number.POSITIVE_INFINITY);
    const summary = {
      restarts: restarts.length,
      requestsSent: everything.length,
      ok: everything.length - failed.length,
      failed: failed.length,
      failedAs: tally(failed),
      writesSent: writes.length,
      readinessProbes: load.select('ready').length + load.select('ready-after-restart').length,
      writesAcknowledged: acknowledged.length,
      acknowledgedFoundInDatabase: acknowledged.length - missing.length,
      readinessAfterRestartMs: readyTimes,
      readinessMaxMs: Math.max(...readyTimes),
      readinessMedianMs: median(readyTimes),
      readinessProbesDuringOutages: tally(load.select('ready').filter(outage)),
      // Readiness trusts a query that succeeded within the last second (server/http/health.ts),
      // so it may say 200 for up to that long after PostgreSQL went away.
      readiness503AfterStopMs: restarts.map(
        (r) =>
          (load.select('ready', r.stoppedAt, r.backAt).find((o) => o.status === 503)?.at ?? Number.NaN) -
          r.stoppedAt,
      ),
      slowestRequestMs: Math.round(Math.max(...everything.map((o) => o.ms))),
    };
    console.log(`fault postgres-restarts: ${JSON.stringify(summary)}`);

    // The process never exited, not even for a moment between restarts.
    expect(restarts.filter((r) => r.exitedMidway)).toEqual([]);
    expect(server.exited()).toBeNull();
    expect(server.logs.filter((l) => l.msg === 'unhandled error' || l.level === 'fatal')).toEqual([]);
    // No acknowledged write is missing, and there were acknowledged writes after every restart.
    expect(acknowledged.length).toBeGreaterThan(RESTARTS);
    expect(missing.map((o) => o.marker)).toEqual([]);
    for (const [r, restart] of restarts.entries()) {
      const next = restarts[r + 1]?.stoppedAt ?? Number.POSITIVE_INFINITY;
      expect({
        restart: r,
        acknowledgedAfter: acknowledged.some((o) => o.at >= restart.backAt && o.at < next),
      }).toEqual({ restart: r, acknowledgedAfter: true });
    }
    // Readiness back within the bound after every restart, and it did say 503 during outages.
    expect(readyTimes.filter((ms) => ms > READY_BOUND_MS)).toEqual([]);
    expect(load.select('ready').filter((o) => outage(o) && o.status === 503).length).toBeGreaterThan(0);
    // Every failure is a JSON 503 with the stable code: no 500, no hang, no non-JSON body. The
    // long outages make sure there are failures to judge.
    expect(failed.filter(outage).length).toBeGreaterThan(0);
    expect(
      failed
        .filter((o) => !(o.status === 503 && o.json && o.code === 'SERVICE_UNAVAILABLE'))
        .map((o) => ({
          kind: o.kind,
          status: o.status,
          code: o.code,
          networkError: o.networkError,
          body: o.json ? undefined : o.body,
        })),
    ).toEqual([]);
    // Readiness never went unanswered either: the process stayed responsive throughout.
    expect(load.select('ready').filter((o) => o.status === null)).toEqual([]);

    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });
});
