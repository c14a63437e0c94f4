import { randomUUID } from 'node:crypto';
import type { HealthCheckResult } from '../../../shared/system';
import type { Component } from '../../base/initializer';
import type { Cache } from './cache';
import type { WarmerRegistry, WarmResult } from './warmers';

export interface CacheComponentOptions {
  /** Run at start; without it, the cache starts cold. */
  warmers?: WarmerRegistry;
  logger?: { info(object: object, message: string): void; warn(object: object, message: string): void };
  /** How often entries past their stale period are removed, so they stop counting against the bounds. */
  pruneIntervalMs?: number;
}

const DEFAULT_PRUNE_INTERVAL_MS = 30_000;

/**
 * The in-process cache and its warmers, in the cache phase. Not critical: without it the platform
 * is slower, not wrong, so a failed warmer is logged and shown in health, never fatal.
 */
export function cacheComponent(cache: Cache, options: CacheComponentOptions = {}): Component {
  let pruning: ReturnType<typeof setInterval> | null = null;

  return {
    name: 'cache',
    phase: 'cache',
    critical: false,
    async start() {
      if (!pruning) {
        pruning = setInterval(() => cache.prune(), options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS);
        pruning.unref?.();
      }
      if (!options.warmers) return;
      for (const result of await options.warmers.warmAll()) logWarmResult(result, options.logger);
    },
    async stop() {
      if (pruning) clearInterval(pruning);
      pruning = null;
    },
    async health() {
      const stats = cache.stats();
      const time = new Date().toISOString();
      const checks: Record<string, HealthCheckResult[]> = {
        'cache:hitRatio': [
          {
            componentId: 'memory',
            componentType: 'component',
            status: 'pass',
            observedValue: Math.round(stats.hitRatio * 1000) / 1000,
            time,
          },
        ],
      };
      const warmed = options.warmers?.lastResults() ?? [];
      if (warmed.length > 0) {
        checks['cache:warmers'] = warmed.map((result) => ({
          componentId: result.name,
          componentType: 'component',
          status: result.error ? 'warn' : 'pass',
          observedValue: result.entries,
          observedUnit: 'entries',
          time,
          ...(result.error ? { output: result.error } : {}),
        }));
      }
      return checks;
    },
    selfTests: [
      {
        name: 'set, get and delete an entry',
        async run() {
          const key = `self-test:${randomUUID()}`;
          cache.set(key, key, { ttlMs: 10_000 });
          const read = cache.get(key);
          cache.delete(key);
          if (read !== key) throw new Error('the value read back differs from the value set');
          if (cache.get(key) !== undefined) throw new Error('a deleted entry is still returned');
        },
      },
      {
        name: 'concurrent misses of one key share one load',
        async run() {
          const key = `self-test:${randomUUID()}`;
          let calls = 0;
          const loader = async () => {
            calls++;
            // A real asynchronous wait, so that every caller misses before the load settles.
            await new Promise((resolve) => setTimeout(resolve, 5));
            return key;
          };
          try {
            const values = await Promise.all(
              Array.from({ length: 20 }, () => cache.getOrLoad(key, loader, { ttlMs: 10_000 })),
            );
            if (calls !== 1) throw new Error(`20 concurrent misses called the loader ${calls} times`);
            if (values.some((value) => value !== key)) throw new Error('a caller got another value');
            if (cache.get(key) !== key) throw new Error('the loaded value was not stored');
          } finally {
            cache.delete(key);
          }
        },
      },
      {
        name: 'a tag invalidation removes its entries only',
        async run() {
          const tag = `self-test:${randomUUID()}`;
          const [first, second, untagged] = [`${tag}:1`, `${tag}:2`, `${tag}:3`];
          try {
            cache.set(first, 1, { ttlMs: 10_000, tags: [tag] });
            cache.set(second, 2, { ttlMs: 10_000, tags: [tag] });
            cache.set(untagged, 3, { ttlMs: 10_000 });
            const removed = cache.invalidateTag(tag);
            if (removed !== 2) throw new Error(`the invalidation removed ${removed} entries, not 2`);
            if (cache.get(first) !== undefined || cache.get(second) !== undefined)
              throw new Error('a tagged entry survived its invalidation');
            if (cache.get(untagged) !== 3) throw new Error('an untagged entry was removed');
          } finally {
            cache.delete(untagged);
          }
        },
      },
    ],
  };
}

function logWarmResult(result: WarmResult, logger: CacheComponentOptions['logger']): void {
  if (result.error) logger?.warn({ warmer: result.name, error: result.error }, 'cache warmer failed');
  else
    logger?.info(
      { warmer: result.name, entries: result.entries, durationMs: result.durationMs },
      'cache warmed',
    );
}
