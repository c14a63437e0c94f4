import { describe, expect, it } from 'vitest';
import { Cache } from './cache';
import { cacheComponent } from './component';
import { WarmerRegistry } from './warmers';

describe('cache component', () => {
  it('warms at start, shows the results in health, and passes its self-tests on a real cache', async () => {
    const cache = new Cache({ maxEntries: 100, defaultTtlMs: 60_000 });
    const warmers = new WarmerRegistry({ cache, timeoutMs: 1_000 });
    warmers.register({ name: 'good', run: async (target) => Number(target.set('warm', true)) });
    warmers.register({
      name: 'bad',
      run: async () => {
        throw new Error('no database');
      },
    });
    const component = cacheComponent(cache, { warmers });

    await component.start(new AbortController().signal);
    const health = await component.health!();
    await component.stop!();

    expect(cache.get('warm')).toBe(true);
    expect(health['cache:warmers']).toMatchObject([
      { componentId: 'good', status: 'pass', observedValue: 1 },
      { componentId: 'bad', status: 'warn', output: 'no database' },
    ]);
    const outcomes = await Promise.allSettled(component.selfTests!.map((test) => test.run()));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    // Self-tests clean up after themselves: only the warmed entry is left.
    expect(cache.stats().entries).toBe(1);
  });
});
