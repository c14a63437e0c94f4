import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'info' });
});
afterAll(() => t.close());

/** Access lines of one event-loop turn are written together when the turn ends. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

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
});
