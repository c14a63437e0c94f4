import { z } from 'zod';

// NUL cannot travel in a pg_notify payload (PostgreSQL text): refused here with a 400.
const noNul = (value: string) => !value.includes('\u0000');
const NO_NUL = 'must not contain NUL (U+0000) characters';
// Room for the instance id and JSON around it inside pg_notify's 8000-byte payload.
const cacheKey = z.string().min(1).max(2_000).refine(noNul, NO_NUL);
const warmerName = z.string().min(1).max(200).refine(noNul, NO_NUL);

/** `performance.cache.invalidate`: exactly one of a key, a tag, or everything (`all: true`). */
export const cacheInvalidateInput = z
  .object({ key: cacheKey.optional(), tag: cacheKey.optional(), all: z.boolean().optional() })
  .refine(
    (input) =>
      [input.key !== undefined, input.tag !== undefined, input.all === true].filter(Boolean).length === 1,
    'give exactly one of key, tag or all: true',
  );
export type CacheInvalidateInput = z.infer<typeof cacheInvalidateInput>;

/** `performance.cache.warm`: the warmers to run, all of them when none are named. */
export const cacheWarmInput = z
  .object({ warmers: z.array(warmerName).min(1).max(100).optional() })
  .optional();
export type CacheWarmInput = z.infer<typeof cacheWarmInput>;

/** One warmer's run: entries it loaded, how long it took, and why it failed (null when it did not). */
export const cacheWarmResult = z.object({
  name: z.string(),
  entries: z.number(),
  durationMs: z.number(),
  error: z.string().nullable(),
});

/**
 * Output of `performance.cache.stats`: this instance's cache, the figures other caches report by
 * name (`sources`), the warmers and their last results, and the invalidations sent and received.
 */
export const cacheStats = z.object({
  entries: z.number(),
  /** Estimated bytes held. */
  bytes: z.number(),
  maxEntries: z.number(),
  maxBytes: z.number(),
  /** Lookups answered with a fresh entry. */
  hits: z.number(),
  misses: z.number(),
  /** Lookups answered with an expired entry while it reloads. */
  staleHits: z.number(),
  /** (hits + staleHits) / all lookups; 0 before the first lookup. */
  hitRatio: z.number(),
  loads: z.number(),
  loadErrors: z.number(),
  loadTimeMs: z.object({ total: z.number(), mean: z.number(), max: z.number() }),
  evictions: z.number(),
  evictionsByReason: z.object({ size: z.number(), entries: z.number(), expired: z.number() }),
  sources: z.record(z.string(), z.record(z.string(), z.number())),
  warmers: z.object({ registered: z.array(z.string()), last: z.array(cacheWarmResult) }),
  invalidation: z.object({
    instanceId: z.string(),
    published: z.number(),
    publishFailures: z.number(),
    received: z.number(),
    ownSkipped: z.number(),
    unreadable: z.number(),
    reconnectClears: z.number(),
  }),
});

/** Output of `performance.cache.warm`: a result per warmer asked for; an unknown name is a failed result. */
export const cacheWarmResults = z.object({ results: z.array(cacheWarmResult) });

/** Output of `performance.cache.invalidate`: entries this instance dropped. */
export const cacheInvalidated = z.object({ removed: z.number() });
