import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_STATUS_KEY } from '../../server/operations/status';
import { startTestApp, type TestApp } from '../helpers/app';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

const status = () => t.app.request('/api/trpc/system.status', { headers: t.admin });

describe('system status through the cache', () => {
  it('computes the status once for a burst of 50 calls, and again after an invalidation', async () => {
    // A first call caches the database settings the status includes (5 minutes): from here on,
    // every load counted is a status computed.
    await status();
    t.deps.cache.delete(SYSTEM_STATUS_KEY);
    const loadsBefore = t.deps.cache.stats().loads;

    const answers = await Promise.all(Array.from({ length: 50 }, status));
    const bodies = await Promise.all(answers.map((answer) => answer.json()));

    expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(200));
    expect(t.deps.cache.stats().loads - loadsBefore).toBe(1);
    const instances = new Set(bodies.map((body) => JSON.stringify(body.result.data.instance)));
    expect(instances.size).toBe(1);

    t.deps.cache.delete(SYSTEM_STATUS_KEY);
    await status();
    expect(t.deps.cache.stats().loads - loadsBefore).toBe(2);
  });

  it('shows the database server settings, read through the cache', async () => {
    const body = await (await status()).json();
    expect(body.result.data.database.server.maxConnections).toBeGreaterThan(0);
    expect(body.result.data.cache.maxEntries).toBeGreaterThan(0);
  });
});
