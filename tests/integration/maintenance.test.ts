import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBuildInfo } from '../../server/base/build-info';
import { loadConfig } from '../../server/base/config';
import { createLogger } from '../../server/base/logger';
import { buildDependencies } from '../../server/composition/dependencies';
import { createApp } from '../../server/http/app';
import type { AppDeps } from '../../server/http/deps';
import { startTestApp, TEST_KEK, type TestApp } from '../helpers/app';
import { createUser, login } from '../helpers/auth';

/** Maintenance mode across instances, and drain, over HTTP. */
describe('maintenance and drain', () => {
  let t: TestApp;
  let second: { app: ReturnType<typeof createApp>; deps: AppDeps };
  let viewer: { authorization: string };

  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'warn' });
    viewer = (await login(t, await createUser(t, 'viewer'))).headers;
    // A second instance on the same database, as a second replica would be.
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: t.database.url,
      LOG_LEVEL: 'warn',
      AUTH_PASSWORD_COST: '10',
    });
    const deps = buildDependencies({
      config,
      logger: createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) }),
      build: readBuildInfo(),
      databaseUrl: t.database.url,
      kek: TEST_KEK,
    });
    await deps.initializer.start();
    second = { app: createApp(deps), deps };
  });
  afterAll(async () => {
    await second?.deps.initializer.stop();
    await second?.deps.database.close();
    await t?.close();
  });

  const mutate = (
    app: { request: TestApp['app']['request'] },
    procedure: string,
    body: unknown,
    headers = t.admin,
  ) =>
    app.request(`/api/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('refuses mutations with 503, Retry-After and the message on every instance, while reads and health go on', async () => {
    const on = await mutate(t.app, 'devops.maintenance.set', {
      enabled: true,
      message: 'upgrading the database',
      retryAfterSeconds: 120,
    });
    expect(on.status).toBe(200);

    const refused = await mutate(t.app, 'system.annotations.create', { text: 'during maintenance' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('120');
    const body = (await refused.json()) as { error: { data: { code: string }; message: string } };
    expect(body.error.data.code).toBe('SERVICE_UNAVAILABLE');
    expect(body.error.message).toBe('in maintenance: upgrading the database');

    // Reads, sign-in and health are untouched; health says why writes are paused.
    expect((await t.app.request('/api/trpc/system.annotations.list', { headers: t.admin })).status).toBe(200);
    expect((await t.app.request('/api/health/ready')).status).toBe(200);
    const health = (await (await t.app.request('/api/health')).json()) as {
      status: string;
      checks: Record<string, { status: string; output?: string }[]>;
    };
    expect(health.checks['maintenance:enabled']?.[0]).toMatchObject({
      status: 'warn',
      output: 'mutations paused: upgrading the database',
    });
    expect(health.status).toBe('warn');

    // The other instance learns it through the change feed.
    await expect
      .poll(async () => (await mutate(second.app, 'system.annotations.create', { text: 'x' })).status, {
        timeout: 1_000,
        interval: 50,
      })
      .toBe(503);

    const off = await mutate(t.app, 'devops.maintenance.set', { enabled: false });
    expect(off.status).toBe(200);
    expect((await mutate(t.app, 'system.annotations.create', { text: 'after maintenance' })).status).toBe(
      200,
    );
    await expect
      .poll(async () => (await mutate(second.app, 'system.annotations.create', { text: 'y' })).status, {
        timeout: 1_000,
        interval: 50,
      })
      .toBe(200);

    const audit = await t.deps.database.db
      .selectFrom('audit_events')
      .select(['details'])
      .where('type', '=', 'maintenance_changed')
      .orderBy('id')
      .execute();
    expect(audit.map((row) => (row.details as { enabled: boolean }).enabled)).toEqual([true, false]);
  });

  it('lets only admins switch maintenance', async () => {
    const refused = await mutate(t.app, 'devops.maintenance.set', { enabled: true }, viewer);
    expect(refused.status).toBe(403);
    expect(t.deps.maintenance.current().enabled).toBe(false);
  });

  it('drains: readiness 503 at once, and the answer waits for the requests in flight', async () => {
    // A request held in flight for 400 ms.
    const slow = t.deps.lifecycle;
    slow.requestStarted();
    const finished = new Promise<void>((resolve) =>
      setTimeout(() => {
        slow.requestFinished();
        resolve();
      }, 400),
    );
    const started = performance.now();
    const drain = await mutate(t.app, 'devops.instance.drain', { draining: true, waitSeconds: 5 });
    const waitedMs = performance.now() - started;
    await finished;
    expect(drain.status).toBe(200);
    const result = (await drain.json()) as {
      result: { data: { draining: boolean; drained: boolean; inFlight: number } };
    };
    expect(result.result.data).toEqual({ draining: true, drained: true, inFlight: 0 });
    expect(waitedMs).toBeGreaterThanOrEqual(350);
    expect((await t.app.request('/api/health/ready')).status).toBe(503);
    // Still serving while draining.
    expect((await t.app.request('/api/trpc/system.info')).status).toBe(200);

    await mutate(t.app, 'devops.instance.drain', { draining: false });
    expect((await t.app.request('/api/health/ready')).status).toBe(200);
  });
});
