import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accessLogOf } from '../../server/http/access-log';
import { startTestApp, type TestApp } from '../helpers/app';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { mustRun, type Runtime, startServer, stopAllServers } from '../helpers/server-process';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'info' });
});
afterAll(() => t.close());

/** Writes the buffered access lines now rather than when their timer fires. */
const nextTurn = async () => accessLogOf(t.deps.logger)?.flush();

describe('access log', () => {
  it('writes one JSON line per request with its id, route template, path, status and duration', async () => {
    const res = await t.app.request('/api/trpc/system.info?secret=not-logged', {
      headers: { 'x-request-id': 'trace-abc.123' },
    });
    expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
    await nextTurn();
    const line = t.logs.find((l) => l.msg === 'request' && l.requestId === 'trace-abc.123');
    expect(line).toMatchObject({
      level: 'info',
      service: 'beauty-crafter-platform',
      method: 'GET',
      route: '/api/trpc/*',
      path: '/api/trpc/system.info',
      status: 200,
    });
    expect(typeof line?.durationMs).toBe('number');
    expect(Date.parse(String(line?.time))).toBeGreaterThan(0);
    expect(JSON.stringify(t.logs)).not.toContain('not-logged');
  });

  it('escapes hostile paths so every line stays valid JSON', async () => {
    await t.app.request('/api/"quoted"\\back%0Anewline');
    await nextTurn();
    const line = t.logs.find((l) => l.msg === 'request' && String(l.path).includes('quoted'));
    expect(line).toMatchObject({ route: 'unmatched', status: 404 });
  });

  it('leaves probes out of the info-level access log', async () => {
    const before = t.logs.length;
    await t.app.request('/api/health/lightweight');
    await nextTurn();
    expect(t.logs.slice(before).filter((l) => l.msg === 'request')).toEqual([]);
  });

  it('writes nothing when the level is above info', async () => {
    t.deps.logger.level = 'warn';
    try {
      const before = t.logs.length;
      await t.app.request('/api/trpc/system.info');
      await nextTurn();
      expect(t.logs.slice(before)).toEqual([]);
    } finally {
      t.deps.logger.level = 'info';
    }
  });

  it('buffers lines until the flush, then writes them in request order with their ids', async () => {
    const ids = ['order-1', 'order-2', 'order-3', 'order-4'];
    for (const id of ids) {
      await t.app.request('/api/trpc/system.info', { headers: { 'x-request-id': id } });
    }
    const written = () => t.logs.filter((l) => l.msg === 'request' && ids.includes(String(l.requestId)));
    // Nothing is written while the requests are served (unless the timer already fired).
    if (accessLogOf(t.deps.logger)!.pending === ids.length) expect(written()).toEqual([]);
    await nextTurn();
    expect(written().map((l) => l.requestId)).toEqual(ids);
  });

  it('exports the dropped-lines counter, at zero while nothing overflowed', async () => {
    const text = await (await t.app.request('/metrics', { headers: t.admin })).text();
    expect(text).toMatch(/^log_access_lines_dropped_total 0$/m);
  });
});

describe.each((['bun', 'node'] as Runtime[]).filter(mustRun))(
  'access log of a server process on %s',
  (runtime) => {
    let database: TestDatabase | undefined;
    afterEach(async () => {
      await stopAllServers();
      await database?.drop();
      database = undefined;
    });

    it('loses no line on SIGTERM: the lines still buffered are written before exit', async () => {
      database = await createTestDatabase();
      const server = await startServer({ runtime, env: { DATABASE_URL: database.url } });
      const ids = Array.from({ length: 40 }, (_, i) => `sigterm-${runtime}-${i}`);
      for (const id of ids) {
        const response = await fetch(`${server.url}/api/trpc/system.info`, {
          headers: { 'x-request-id': id },
        });
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      }
      // At once: the lines are most likely still in the buffer, waiting for their timer.
      const status = await server.stop('SIGTERM', 30_000);
      expect(status).toEqual({ code: 0, signal: null });
      const lines = server.logs.filter((l) => l.msg === 'request' && ids.includes(String(l.requestId)));
      expect(lines.map((l) => l.requestId)).toEqual(ids);
      // Written before the last words of the shutdown.
      const complete = server.logs.findIndex((l) => l.msg === 'shutdown complete');
      expect(complete).toBeGreaterThan(server.logs.indexOf(lines.at(-1)!));
    });
  },
);
