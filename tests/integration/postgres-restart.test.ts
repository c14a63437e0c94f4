import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../../client';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../db/embedded-postgres';
import {
  adminHeaders,
  mustRun,
  type Runtime,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process';

/**
 * PostgreSQL goes away under load and comes back on the same port. The real server process,
 * writing through it the whole time, must survive, say so on its readiness probe, recover by
 * itself, never lose an acknowledged write and never answer a 500.
 */

const OUTAGE_MS = 2_000;
const WRITERS = 4;
/** The spec's bound on readiness after PostgreSQL is back. */
const READY_BOUND_MS = 10_000;

let root: string | undefined;
let postgres: EmbeddedPostgres | undefined;

afterEach(async () => {
  await stopAllServers();
  await postgres?.stop();
  postgres = undefined;
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});
afterAll(() => stopAllServers());

interface Probe {
  at: number;
  /** How long the probe took to answer. */
  ms: number;
  status: number | 'error';
}

interface WriteOutcome {
  key: string;
  at: number;
  ok: boolean;
  id?: number;
  code?: string;
  httpStatus?: number;
  message?: string;
}

// Bun is the primary runtime; Node runs the same scenario, the suite stays within its budget.
describe.each((['bun', 'node'] as Runtime[]).filter(mustRun))('PostgreSQL restart under %s', (runtime) => {
  it('survives, reports the outage on readiness, recovers, and loses no acknowledged write', async () => {
    root = await mkdtemp(join(tmpdir(), 'bc-restart-pg-'));
    // PostgreSQL runs as the `postgres` user when we are root: it must reach its folder.
    await chmod(root, 0o755);
    postgres = await startEmbeddedPostgres({ dataDir: join(root, 'data') });
    const pgServer = postgres;

    const server: ServerProcess = await startServer({
      runtime,
      env: {
        DATABASE_URL: pgServer.url,
        // Quick reconnection attempts; the health interval stays at its production default, so
        // recovery must not depend on it.
        DB_RETRY_BASE_MS: '50',
        DB_RETRY_MAX_MS: '500',
      },
    });
    const t0 = performance.now();
    const now = () => Math.round(performance.now() - t0);

    // Readiness, every ~100 ms, for the whole run.
    const probes: Probe[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const at = now();
        try {
          const response = await fetch(`${server.url}/api/health/ready`, {
            signal: AbortSignal.timeout(5_000),
          });
          await response.body?.cancel();
          probes.push({ at, ms: now() - at, status: response.status });
        } catch {
          probes.push({ at, ms: now() - at, status: 'error' });
        }
        await sleep(100);
      }
    })();

    // Writers: each its own HTTP request (no batching), each with a unique idempotency key.
    const outcomes: WriteOutcome[] = [];
    let writing = true;
    const client = createClient({
      url: server.url,
      headers: await adminHeaders(server),
      maxBatchSize: 1,
    });
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const key = `restart-${runtime}-${w}-${i}`;
        try {
          const row = await client.system.annotations.create.mutate({
            text: `write ${w}/${i} through a PostgreSQL restart`,
            tags: ['restart'],
            idempotencyKey: key,
          });
          outcomes.push({ key, at: now(), ok: true, id: row.id });
        } catch (error) {
          const data = (error as { data?: { code?: string; httpStatus?: number } }).data;
          outcomes.push({
            key,
            at: now(),
            ok: false,
            code: data?.code,
            httpStatus: data?.httpStatus,
            message: error instanceof Error ? error.message : String(error),
          });
          // A failed write is answered quickly; do not spin while the database is away.
          await sleep(20);
        }
      }
    });

    await sleep(1_000);
    const stopping = now();
    await pgServer.stop();
    const stopped = now();
    await sleep(OUTAGE_MS);
    await pgServer.start();
    const back = now();

    // Wait (bounded) for readiness to come back, then keep writing a little longer.
    const readyDeadline = performance.now() + READY_BOUND_MS + 2_000;
    while (!probes.some((p) => p.at >= back && p.status === 200) && performance.now() < readyDeadline) {
      await sleep(50);
    }
    await sleep(1_000);
    writing = false;
    await Promise.all(writers);
    probing = false;
    await prober;

    // Every acknowledged write is in the database, read directly.
    const acknowledged = outcomes.filter((o) => o.ok);
    const failed = outcomes.filter((o) => !o.ok);
    const direct = new pg.Client({ connectionString: pgServer.url });
    await direct.connect();
    let stored: Map<string, number>;
    try {
      const { rows } = await direct.query<{ id: string; idempotency_key: string }>(
        'select id, idempotency_key from annotations where idempotency_key = any($1::text[])',
        [acknowledged.map((o) => o.key)],
      );
      stored = new Map(rows.map((r) => [r.idempotency_key, Number(r.id)]));
    } finally {
      await direct.end();
    }

    const firstReadyAfterBack = probes.find((p) => p.at >= back && p.status === 200);
    const outage503 = probes.filter((p) => p.at >= stopped && p.at < back && p.status === 503);
    const figures = {
      runtime,
      writesAcknowledged: acknowledged.length,
      writesFailed: failed.length,
      failedWith: countBy(failed.map((f) => `${f.httpStatus} ${f.code}: ${f.message}`)),
      acknowledgedDuringOutage: acknowledged.filter((o) => o.at >= stopped && o.at < back).length,
      postgresStopTookMs: stopped - stopping,
      postgresAwayMs: back - stopped,
      readinessProbes: probes.length,
      readiness503DuringOutage: outage503.length,
      firstReady503AfterStopMs:
        (probes.find((p) => p.at >= stopping && p.status === 503)?.at ?? Number.NaN) - stopping,
      readyAfterPostgresBackMs: firstReadyAfterBack ? firstReadyAfterBack.at - back : null,
      slowestProbeMs: Math.max(...probes.map((p) => p.ms)),
      probeErrors: probes.filter((p) => p.status === 'error').length,
    };
    console.log(`PostgreSQL restart figures: ${JSON.stringify(figures)}`);

    // The process never exited, and never logged a 500.
    expect(server.exited()).toBeNull();
    const serverErrors = server.logs.filter(
      (l) => typeof l.status === 'number' && l.status >= 500 && l.status !== 503,
    );
    expect(serverErrors).toEqual([]);
    expect(server.logs.filter((l) => l.msg === 'unhandled error')).toEqual([]);
    // Every probe was answered (liveness of the process), 503 during the outage, 200 again in time.
    expect(figures.probeErrors).toBe(0);
    expect(outage503.length).toBeGreaterThan(0);
    expect(firstReadyAfterBack).toBeDefined();
    expect(figures.readyAfterPostgresBackMs).toBeLessThanOrEqual(READY_BOUND_MS);
    // No acknowledged write is missing, and each is the row the server said it wrote.
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(acknowledged.filter((o) => stored.get(o.key) !== o.id)).toEqual([]);
    // Failures were clean "retry later" answers, never a 500 or a network error.
    expect(failed.filter((f) => f.code !== 'SERVICE_UNAVAILABLE' || f.httpStatus !== 503)).toEqual([]);
    // Writes succeed again once it is back.
    expect(acknowledged.some((o) => o.at > back)).toBe(true);

    expect(await server.stop()).toEqual({ code: 0, signal: null });
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
