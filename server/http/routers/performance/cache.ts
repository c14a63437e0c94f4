import { cacheInvalidateInput, cacheWarmInput } from '../../../../shared/performance-cache';
import type { CacheInvalidation } from '../../../services/cache/distributed-invalidation';
import { platformProcedure, router } from '../../trpc';

/** `performance.cache`: this instance's cache, its warmers and the invalidations that reach every instance. */
export const cacheRouter = router({
  /** This instance's cache figures, other caches' by name, the last warm results and invalidation traffic. */
  stats: platformProcedure('operator', 'performance:read').query(({ ctx }) => {
    const { cache, cacheWarmers: warmers, cacheInvalidation: invalidation } = ctx.deps;
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
    .mutation(async ({ ctx, input }) => ({ results: await ctx.deps.cacheWarmers.warm(input?.warmers) })),

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
      return ctx.deps.cacheInvalidation.invalidate(target);
    }),
});
