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

/** One query shape's figures since the server started; durations in milliseconds. */
export const queryShapeFigures = z.object({
  fingerprint: z.string(),
  /** The normalised text: values as `?`, lists as one element. */
  text: z.string(),
  /** Leading keyword of the statement (`select`, `insert`…). */
  operation: z.string(),
  count: z.number(),
  errors: z.number(),
  totalMs: z.number(),
  meanMs: z.number(),
  /** Within ~9 % above the true value, never above `maxMs`. */
  p95Ms: z.number(),
  maxMs: z.number(),
  /** Rows returned or affected, summed over the successful runs. */
  rows: z.number(),
  /** Null when no successful run reported its rows. */
  meanRows: z.number().nullable(),
  firstSeen: z.string(),
  lastSeen: z.string(),
});

/** A query that took at least the slow-query threshold. */
export const slowQuery = z.object({
  fingerprint: z.string(),
  text: z.string(),
  durationMs: z.number(),
  at: z.string(),
  /** Null when it failed or did not report its rows. */
  rows: z.number().nullable(),
  error: z.boolean(),
});

/** One statement as PostgreSQL's pg_stat_statements counts it (this database, all users). */
export const pgStatement = z.object({
  /** PostgreSQL's own query id (a bigint, as text). */
  queryId: z.string(),
  /** PostgreSQL's normalised text (`$n` where values were). */
  query: z.string(),
  calls: z.number(),
  totalMs: z.number(),
  meanMs: z.number(),
  maxMs: z.number(),
  rows: z.number(),
  sharedBlocksHit: z.number(),
  sharedBlocksRead: z.number(),
});

/** Output of `performance.queries`. */
export const performanceQueries = z.object({
  /** Queries taking at least this long enter the slow-query log. */
  slowQueryMs: z.number(),
  totals: z.object({
    shapes: z.number(),
    count: z.number(),
    errors: z.number(),
    totalMs: z.number(),
    /** Queries counted in the `other` shape because the shape limit was reached. */
    otherCount: z.number(),
  }),
  shapes: z.array(queryShapeFigures),
  /** Newest first; null when `includeSlow` is false. */
  slow: z.array(slowQuery).nullable(),
  pgStatStatements: z.discriminatedUnion('available', [
    z.object({ available: z.literal(true), statements: z.array(pgStatement) }),
    z.object({ available: z.literal(false), reason: z.string() }),
  ]),
});

/** Output of `performance.explain`. */
export const queryPlan = z.object({
  fingerprint: z.string(),
  /** The normalised text of the shape. */
  text: z.string(),
  /** PostgreSQL's EXPLAIN (FORMAT JSON) output: an array holding one `{ Plan: … }`. */
  plan: z.unknown(),
});
