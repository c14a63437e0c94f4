import { randomUUID } from 'node:crypto';
import type { Component } from '../../runtime/initializer';
import type { MemoryCache } from './memory-cache';

/** The in-process cache. Not critical: without it the platform is slower, not wrong. */
export function cacheComponent(cache: MemoryCache): Component {
  return {
    name: 'cache',
    phase: 'cache',
    critical: false,
    async start() {
      cache.clear();
    },
    async health() {
      const stats = cache.stats();
      const lookups = stats.hits + stats.misses;
      return {
        'cache:hitRatio': [
          {
            componentId: 'memory',
            componentType: 'component',
            status: 'pass',
            observedValue: lookups === 0 ? 0 : Math.round((stats.hits / lookups) * 1000) / 1000,
            time: new Date().toISOString(),
          },
        ],
      };
    },
    selfTests: [
      {
        name: 'set, get and delete an entry',
        async run() {
          const key = `self-test:${randomUUID()}`;
          cache.set(key, key, 10_000);
          const read = cache.get(key);
          cache.delete(key);
          if (read !== key) throw new Error('the value read back differs from the value set');
          if (cache.get(key) !== undefined) throw new Error('a deleted entry is still returned');
        },
      },
    ],
  };
}
