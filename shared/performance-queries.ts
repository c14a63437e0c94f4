import { z } from 'zod';

/** What `performance.queries` ranks query shapes by. */
export const QUERY_SORTS = ['total', 'mean', 'p95', 'max', 'count'] as const;
export const querySort = z.enum(QUERY_SORTS);
export type QuerySort = z.infer<typeof querySort>;

/** A query shape's name: 16 hex digits, or `other` for the bucket beyond the shape limit. */
export const queryFingerprint = z
  .string()
  .regex(
    /^(?:[0-9a-f]{16}|other)$/,
    'a fingerprint is 16 lowercase hex digits, as performance.queries lists them',
  );

/** Input of `performance.queries`. */
export const performanceQueriesInput = z
  .object({
    sort: querySort.default('total'),
    limit: z.number().int().min(1).max(200).default(20),
    /** Include the slow-query log (newest first, at most `limit` entries). */
    includeSlow: z.boolean().default(true),
  })
  .strict()
  .prefault({});
export type PerformanceQueriesInput = z.input<typeof performanceQueriesInput>;

/** Input of `performance.explain`: a shape `performance.queries` listed. */
export const performanceExplainInput = z.object({ fingerprint: queryFingerprint }).strict();
export type PerformanceExplainInput = z.input<typeof performanceExplainInput>;
