import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type PlatformClient } from '../../client';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../db/embedded-postgres';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import {
  adminHeaders,
  mustRun,
  RUNTIMES,
  type ServerProcess,
  spawnServer,
  startServer,
  stopAllServers,
} from '../helpers/server-process';

// Whatever a test leaves running (a failed assertion before its own stop) is stopped here.
afterAll(() => stopAllServers());

describe.each(RUNTIMES)('the real server on %s', (runtime) => {
  describe.runIf(mustRun(runtime))('over HTTP', () => {
    let database: TestDatabase;
    let server: ServerProcess;
    let client: PlatformClient;
    let admin: PlatformClient;

    beforeAll(async () => {
      database = await createTestDatabase();
      server = await startServer({ runtime, env: { DATABASE_URL: database.url } });
      client = createClient({ url: server.url });
      await server.waitForReady();
      admin = createClient({ url: server.url, headers: await adminHeaders(server) });
    });
    afterAll(async () => {
      await server?.stop();
      await database?.drop();
    });

    it('says in one line where the dashboard is, once ready', async () => {
      const line = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('ready: '));
      // The admin exists (ADMIN_EMAIL), so the line says to sign in rather than how to make one.
      expect(line.msg).toBe(`ready: the dashboard is at ${server.url}/; sign in there`);
    });

    it('serves the health routes with their content types', async () => {
      for (const path of ['/api/health/live', '/api/health/ready', '/api/health/lightweight']) {
        const response = await fetch(`${server.url}${path}`);
        expect(response.status, path).toBe(200);
        expect(response.headers.get('content-type'), path).toBe('application/health+json');
        expect(response.headers.get('cache-control'), path).toBe('no-store');
        expect(await response.json(), path).toEqual({ status: 'pass' });
      }
      // Readiness needs only the critical components; the others (alerts, deployments...) may
      // still be starting, and the full report says 'warn' until they are up.
      let full = await fetch(`${server.url}/api/health`);
      let report = await full.json();
      for (let waited = 0; report.status !== 'pass' && waited < 10_000; waited += 200) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        full = await fetch(`${server.url}/api/health`);
        report = await full.json();
      }
      expect(full.status).toBe(200);
      expect(full.headers.get('content-type')).toBe('application/health+json');
      expect(report.status, JSON.stringify(report.checks)).toBe('pass');
      expect(report.checks['database:responseTime'][0].observedUnit).toBe('ms');

      const missing = await fetch(`${server.url}/api/no-such-route`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await missing.json()).error.code).toBe('NOT_FOUND');
    });

    it('echoes a sane X-Request-Id and makes one up otherwise', async () => {
      const echoed = await fetch(`${server.url}/api/health/ready`, {
        headers: { 'X-Request-Id': 'process-test-42' },
      });
      expect(echoed.headers.get('x-request-id')).toBe('process-test-42');
      await echoed.body?.cancel();

      const made = await fetch(`${server.url}/api/health/ready`, {
        headers: { 'X-Request-Id': 'not sane; has spaces' },
      });
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      await made.body?.cancel();

      const missing = await fetch(`${server.url}/nowhere`, {
        headers: { 'X-Request-Id': 'process-test-43' },
      });
      expect(missing.headers.get('x-request-id')).toBe('process-test-43');
      expect((await missing.json()).error.requestId).toBe('process-test-43');
    });

    it(`system.info reports the runtime as ${runtime}`, async () => {
      const info = await client.system.info.query();
      expect(info.name).toBe('beauty-crafter-platform');
      expect(info.runtime.name).toBe(runtime);
      expect(info.runtime.version).toMatch(/^v?\d+\.\d+\.\d+/);
      const startLine = server.logs.find((l) => l.msg === 'listening');
      expect(startLine?.runtime).toBe(runtime);
      expect(startLine?.pid).toBe(server.pid);
    });

    it('system.selfTest with the admin token passes every check', async () => {
      const report = await admin.system.selfTest.mutate();
      expect(report.checks.filter((c) => c.status !== 'pass')).toEqual([]);
      expect(report.status).toBe('pass');
      expect(report.checks.length).toBeGreaterThanOrEqual(4);
    });

    it('system.selfTest without the token is refused', async () => {
      const error = await client.system.selfTest.mutate().catch((e) => e);
      expect(error?.data?.code).toBe('UNAUTHORIZED');
    });

    it('annotations are created and listed', async () => {
      const tag = `rt-${runtime}`;
      const created = await admin.system.annotations.create.mutate({
        text: `written through ${runtime}`,
        tags: [tag],
        idempotencyKey: `process-${runtime}-1`,
      });
      expect(created.id).toBeGreaterThan(0);
      const again = await admin.system.annotations.create.mutate({
        text: `written through ${runtime}`,
        tags: [tag],
        idempotencyKey: `process-${runtime}-1`,
      });
      expect(again.id).toBe(created.id);
      const listed = await admin.system.annotations.list.query({ tag });
      expect(listed.items).toEqual([created]);
    });

    it('exits 0 on SIGTERM', async () => {
      const exit = await server.stop('SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
      expect(server.logs.some((l) => l.msg === 'shutdown complete')).toBe(true);
    });
  });

  describe.runIf(mustRun(runtime))('with a bad configuration value', () => {
    it('exits non-zero with one stderr line naming the variable', async () => {
      const spawned = await spawnServer({
        runtime,
        env: { PORT: 'abc', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      });
      const exit = await Promise.race([
        spawned.exit,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('did not exit')), 15_000)),
      ]);
      expect(exit.code).not.toBe(0);
      expect(exit.code).not.toBeNull();
      expect(spawned.stderr).toHaveLength(1);
      expect(spawned.stderr[0]).toMatch(/^invalid configuration: PORT /);
      expect(spawned.stderr[0]).toContain('"abc"');
      expect(spawned.logs.filter((l) => l.msg === 'listening')).toEqual([]);
    });
  });
});

describe('a server started before its PostgreSQL', () => {
  let root: string;
  let dataDir: string;
  /** The cluster's URL; its port is replaced per test. */
  let clusterUrl: string;
  let postgres: EmbeddedPostgres | undefined;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bc-late-pg-'));
    // PostgreSQL runs as the `postgres` user when we are root: it must reach its folder.
    await chmod(root, 0o755);
    dataDir = join(root, 'data');
    // Initialise the cluster once (its password is chosen then), and stop it again.
    const first = await startEmbeddedPostgres({ dataDir });
    clusterUrl = first.url;
    await first.stop();
  });
  afterEach(async () => {
    await stopAllServers();
    await postgres?.stop();
    postgres = undefined;
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it.each(RUNTIMES.filter(mustRun))(
    'on %s: is live but not ready, and becomes ready once PostgreSQL appears',
    async (runtime) => {
      const port = await freePort();
      const url = new URL(clusterUrl);
      url.port = String(port);
      const server = await startServer({
        runtime,
        ready: false,
        env: { DATABASE_URL: url.toString(), DB_RETRY_BASE_MS: '50', DB_RETRY_MAX_MS: '500' },
      });

      const live = await fetch(`${server.url}/api/health/live`);
      expect(live.status).toBe(200);
      await live.body?.cancel();
      const ready = await fetch(`${server.url}/api/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.headers.get('content-type')).toBe('application/health+json');
      const body = await ready.json();
      expect(body.status).toBe('fail');
      expect(body.output).toMatch(/database/);
      const full = await fetch(`${server.url}/api/health`);
      expect(full.status).toBe(503);
      await full.body?.cancel();
      // Still not ready a moment later: it does not give up and does not exit.
      await new Promise((r) => setTimeout(r, 700));
      expect((await fetch(`${server.url}/api/health/ready`)).status).toBe(503);
      expect(server.exited()).toBeNull();

      postgres = await startEmbeddedPostgres({ dataDir, port });
      const appeared = performance.now();
      await server.waitForReady(10_000);
      const readyAfterMs = Math.round(performance.now() - appeared);
      console.log(`[${runtime}] ready ${readyAfterMs} ms after PostgreSQL appeared`);

      const admin = createClient({ url: server.url, headers: await adminHeaders(server) });
      expect((await admin.system.selfTest.mutate()).status).toBe('pass');
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    },
  );
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}
