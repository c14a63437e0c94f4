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
