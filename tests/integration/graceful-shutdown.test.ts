import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../db/local-processes';
import { adminHeaders, mustRun, type Runtime, startServer, stopAllServers } from '../helpers/server-process';

/**
 * SIGTERM with requests in flight, on the real server with its embedded PostgreSQL. The requests
 * are made slow for real: the test locks the table they write to, so they wait inside PostgreSQL
 * until well after the drain delay, when the listener is already closed.
 */

const IN_FLIGHT = 50;
const DRAIN_DELAY_MS = 1_000;
/** The lock is released this long after the signal: after the drain delay, so requests outlive the listener. */
const HOLD_AFTER_SIGNAL_MS = DRAIN_DELAY_MS + 500;

let root: string | undefined;
let postmasterPid: number | undefined;

afterEach(async () => {
  await stopAllServers();
  // Had the server died without stopping its PostgreSQL, stop it here rather than leak it.
  if (postmasterPid && isAlive(postmasterPid)) {
    process.kill(postmasterPid, 'SIGINT');
    for (let waited = 0; waited < 10_000 && isAlive(postmasterPid); waited += 50) await sleep(50);
  }
  postmasterPid = undefined;
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});
afterAll(() => stopAllServers());

describe.each((['bun', 'node'] as Runtime[]).filter(mustRun))('graceful shutdown on %s', (runtime) => {
  it('drains: readiness 503 at once, every accepted request answered 200, exit 0, PostgreSQL stopped', async () => {
    root = await mkdtemp(join(tmpdir(), 'bc-shutdown-'));
    // The embedded PostgreSQL runs as the `postgres` user when we are root: it must reach its folder.
    await chmod(root, 0o755);
    const server = await startServer({
      runtime,
      env: { DATA_DIR: root, SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS), SHUTDOWN_TIMEOUT_MS: '20000' },
    });

    // The embedded PostgreSQL the server started: its port from the log, its password and PID from DATA_DIR.
    const started = server.logs.find((l) => l.msg === 'embedded PostgreSQL started');
    expect(started).toBeDefined();
    const password = (await readFile(join(root, 'postgres.password'), 'utf8')).trim();
    const databaseUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${started?.port}/postgres`;
    postmasterPid = Number(readFileSync(join(root, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(isAlive(postmasterPid)).toBe(true);

    const admin = await adminHeaders(server);
    // Hold the table the requests write to, so that they stay in flight.
    const locker = new pg.Client({ connectionString: databaseUrl });
    // The server stops this PostgreSQL: a connection still open then must not crash the test.
    locker.on('error', () => undefined);
    await locker.connect();
    let released = false;
    try {
      await locker.query('begin');
      await locker.query('lock table annotations in access exclusive mode');

      const requests = Array.from({ length: IN_FLIGHT }, async (_, i) => {
        const response = await fetch(`${server.url}/api/trpc/system.annotations.create`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...admin },
          body: JSON.stringify({
            text: `in flight ${i}`,
            tags: ['shutdown'],
            idempotencyKey: `shutdown-${runtime}-${i}`,
          }),
        });
        const body = (await response.json()) as { result?: { data?: { id?: number } } };
        return { status: response.status, id: body.result?.data?.id, finishedAt: performance.now() };
      });

      // Wait until the server itself counts every one of them in flight (the scrape is one more).
      let inFlightAtSignal = 0;
      for (let waited = 0; waited < 10_000; waited += 50) {
        inFlightAtSignal = (await activeRequests(server.url)) - 1;
        if (inFlightAtSignal >= IN_FLIGHT) break;
        await sleep(50);
      }
      expect(inFlightAtSignal).toBe(IN_FLIGHT);

      const signalled = performance.now();
      const exit = server.stop('SIGTERM', 30_000);

      // During the drain delay: still listening, readiness already 503, liveness still 200.
      await sleep(100);
      const ready = await fetch(`${server.url}/api/health/ready`);
      const readyBody = await ready.json();
      const readyAfterSignalMs = Math.round(performance.now() - signalled);
      expect(ready.status).toBe(503);
      expect(readyBody.output).toMatch(/draining/);
      const live = await fetch(`${server.url}/api/health/live`);
      expect(live.status).toBe(200);
      await live.body?.cancel();

      // After the drain delay the listener is closed: a new connection is refused, while the
      // requests accepted before the signal are still waiting on the lock.
      await sleep(HOLD_AFTER_SIGNAL_MS - (performance.now() - signalled));
      const refused = await newConnectionRefused(server.port);
      expect(server.exited()).toBeNull();
      await locker.query('commit');
      released = true;
      await locker.end();

      const results = await Promise.all(requests);
      const status = await exit;
      const shutdownMs = Math.round(performance.now() - signalled);
      const ok = results.filter((r) => r.status === 200 && typeof r.id === 'number');
      const figures = {
        runtime,
        inFlightAtSignal,
        completedOk: ok.length,
        otherwise: results.filter((r) => r.status !== 200).map((r) => r.status),
        readinessAfterSignal: `${ready.status} at ${readyAfterSignalMs} ms`,
        newConnectionRefusedAfterDrain: refused,
        exitCode: status.code,
        exitSignal: status.signal,
        shutdownMs,
      };
      console.log(`SIGTERM figures: ${JSON.stringify(figures)}`);

      expect(ok).toHaveLength(IN_FLIGHT);
      expect(status).toEqual({ code: 0, signal: null });
      expect(refused).toBe(true);
      // The drain delay was honoured: nothing finished before it ended.
      expect(Math.min(...results.map((r) => r.finishedAt)) - signalled).toBeGreaterThanOrEqual(
        DRAIN_DELAY_MS,
      );
      expect(server.logs.some((l) => l.msg === 'shutdown complete')).toBe(true);
      expect(server.logs.filter((l) => l.msg === 'shutdown timeout: requests still in flight')).toEqual([]);
      // The embedded PostgreSQL is gone, and its data directory lock released.
      expect(isAlive(postmasterPid)).toBe(false);
      await expect(readFile(join(root, 'postgres.lock'), 'utf8')).rejects.toThrow(/ENOENT/);
    } finally {
      if (!released) {
        await locker.query('rollback').catch(() => undefined);
        await locker.end().catch(() => undefined);
      }
    }
  });
});

/** The server's own count of requests in flight, from its Prometheus gauge. */
async function activeRequests(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^http_server_active_requests(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (match) total += Number(match[1]);
  }
  return total;
}

/** Whether a fresh TCP connection (no pooled keep-alive socket) to the port is refused. */
function newConnectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(
      { host: '127.0.0.1', port, path: '/api/health/live', agent: false, timeout: 2_000 },
      (response) => {
        response.resume();
        resolve(false);
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    request.on('timeout', () => request.destroy());
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
