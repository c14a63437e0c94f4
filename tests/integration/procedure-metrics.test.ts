import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

async function callsTotal(): Promise<Map<string, number>> {
  const text = await (await t.app.request('/metrics')).text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('trpc_procedure_calls_total{')) {
      const [name, value] = line.split(' ');
      series.set(name!, Number(value));
    }
  }
  return series;
}

const key = (procedure: string, type: string, code: string) =>
  `trpc_procedure_calls_total{procedure="${procedure}",type="${type}",code="${code}"}`;

describe('procedure metrics', () => {
  it('counts each call of a batch with its own result code', async () => {
    const before = await callsTotal();
    const res = await t.app.request('/api/trpc/system.info,system.status,system.info?batch=1&input={}');
    expect(res.status).toBe(207);
    const after = await callsTotal();
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    expect(delta(key('system.info', 'query', 'OK'))).toBe(2);
    expect(delta(key('system.status', 'query', 'UNAUTHORIZED'))).toBe(1);
  });

  it('counts a recoded failure with the code the caller received', async () => {
    const before = await callsTotal();
    const res = await t.app.request('/api/trpc/system.selfTest', {
      method: 'POST',
      headers: { ...t.admin, 'content-type': 'application/json' },
      body: JSON.stringify({ components: ['no-such-component'] }),
    });
    expect(res.status).toBe(400);
    const after = await callsTotal();
    expect(
      (after.get(key('system.selfTest', 'mutation', 'BAD_REQUEST')) ?? 0) -
        (before.get(key('system.selfTest', 'mutation', 'BAD_REQUEST')) ?? 0),
    ).toBe(1);
  });

  it('adds no series for procedure paths that do not exist', async () => {
    const before = await callsTotal();
    for (let i = 0; i < 500; i++) {
      const res = await t.app.request(`/api/trpc/nope${i}.x${Math.random().toString(36).slice(2)}`);
      expect(res.status).toBe(404);
    }
    const after = await callsTotal();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  });
});
