import { cacheInvalidateInput, cacheWarmInput } from '../../../../shared/performance-cache';
import type { Cache } from '../../../services/cache/cache';
import type {
  CacheInvalidation,
  DistributedInvalidation,
} from '../../../services/cache/distributed-invalidation';
import type { WarmerRegistry } from '../../../services/cache/warmers';
import type { Context } from '../../context';
import { platformProcedure, router } from '../../trpc';

export interface CacheProcedureDeps {
  cache: Cache;
  warmers: WarmerRegistry;
  invalidation: DistributedInvalidation;
}

/**
 * The cache procedures of the `performance` router, to be spread into it. They reach the cache
 * through `get` (the router passes `(ctx) => ctx.deps.performance.cache`, or wherever the wiring
 * keeps it), so they can be built and tested on their own.
 */
export function cacheProcedures(get: (ctx: Context) => CacheProcedureDeps) {
  return {
    cache: router({
      /** This instance's cache figures, other caches' by name, the last warm results and invalidation traffic. */
      stats: platformProcedure('operator', 'performance:read').query(({ ctx }) => {
        const { cache, warmers, invalidation } = get(ctx);
        return {
          ...cache.stats(),
          sources: cache.sourceStats(),
          warmers: { registered: warmers.names(), last: warmers.lastResults() },
          invalidation: { instanceId: invalidation.instanceId, ...invalidation.stats() },
        };
      }),

      /** Runs the named warmers (all when none are named) on this instance; failures are results, not errors. */
      warm: platformProcedure('operator', 'performance:write')
        .input(cacheWarmInput)
        .mutation(async ({ ctx, input }) => ({ results: await get(ctx).warmers.warm(input?.warmers) })),

      /** Forgets a key, a tag or everything here, and tells the other instances to do the same. */
      invalidate: platformProcedure('operator', 'performance:write')
        .input(cacheInvalidateInput)
        .mutation(({ ctx, input }) => {
          const target: CacheInvalidation =
            input.key !== undefined
              ? { kind: 'key', key: input.key }
              : input.tag !== undefined
                ? { kind: 'tag', tag: input.tag }
                : { kind: 'all' };
          return get(ctx).invalidation.invalidate(target);
        }),
    }),
  };
}
