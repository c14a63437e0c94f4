import { describe, expect, it } from 'vitest';
import { Cache } from './cache';
import { WarmerRegistry } from './warmers';

function registry(timeoutMs = 1_000) {
  const cache = new Cache({ maxEntries: 100, defaultTtlMs: 60_000 });
  return { cache, warmers: new WarmerRegistry({ cache, timeoutMs }) };
}

describe('WarmerRegistry', () => {
  it('runs every warmer and reports each one, a failure and a timeout among them, without throwing', async () => {
    const { cache, warmers } = registry(50);
    let abortedAtTimeout = false;
    warmers.register({
      name: 'settings',
      async run(target) {
        target.set('settings:a', 1);
        target.set('settings:b', 2);
        return 2;
      },
    });
    warmers.register({
      name: 'broken',
      async run() {
        throw new Error('upstream refused');
      },
    });
    warmers.register({
      name: 'hung',
      run: (_, signal) =>
        new Promise<number>(() => {
          signal.addEventListener('abort', () => {
            abortedAtTimeout = true;
          });
        }),
    });

    const results = await warmers.warmAll();

    expect(results.map(({ name, entries, error }) => ({ name, entries, error }))).toEqual([
      { name: 'settings', entries: 2, error: null },
      { name: 'broken', entries: 0, error: 'upstream refused' },
      { name: 'hung', entries: 0, error: 'timed out after 50 ms' },
    ]);
    expect(abortedAtTimeout).toBe(true);
    expect(cache.get('settings:b')).toBe(2);
    expect(warmers.lastResults().map((r) => r.name)).toEqual(['settings', 'broken', 'hung']);
  });

  it('runs only the warmers named, and answers an unknown name with an error result', async () => {
    const { warmers } = registry();
    const ran: string[] = [];
    for (const name of ['one', 'two']) {
      warmers.register({
        name,
        async run() {
          ran.push(name);
          return 1;
        },
      });
    }
    const results = await warmers.warm(['two', 'nope', 'two']);
    expect(ran).toEqual(['two']);
    expect(results.map((r) => [r.name, r.error])).toEqual([
      ['two', null],
      ['nope', 'no warmer of this name'],
    ]);
    expect(() => warmers.register({ name: 'one', run: async () => 0 })).toThrow(/twice/);
  });

  it('reports a warmer that returns something other than a count', async () => {
    const { warmers } = registry();
    warmers.register({ name: 'odd', run: async () => -1 });
    const [result] = await warmers.warm();
    expect(result).toMatchObject({ entries: 0, error: 'returned -1 instead of a count of entries' });
  });
});
