import { z } from 'zod';
import { analyticsKind } from './performance';

/** The time ranges the history answers for, in minutes: one point a minute. */
export const HISTORY_RANGE_MINUTES = { '15m': 15, '1h': 60, '6h': 360, '24h': 1440 } as const;
export const historyRange = z.enum(['15m', '1h', '6h', '24h']);
export type HistoryRange = z.infer<typeof historyRange>;

/** How long the history keeps minutes: the longest range. */
export const HISTORY_RETENTION_HOURS = 24;

// PostgreSQL text cannot hold NUL (U+0000): refused here with a 400, not by the database with a 500.
const seriesName = z
  .string()
  .min(1)
  .max(200)
  .refine((value) => !value.includes('\u0000'), 'must not contain NUL (U+0000) characters');

/**
 * Input of `performance.history`: a range, and at most one of a route template (e.g.
 * `/api/health`) or a procedure path (e.g. `system.info`); neither charts every route together.
 */
export const performanceHistoryInput = z
  .object({
    range: historyRange.default('1h'),
    route: seriesName.optional(),
    procedure: seriesName.optional(),
  })
  .strict()
  .refine((input) => input.route === undefined || input.procedure === undefined, {
    message: 'give a route or a procedure, not both',
    path: ['procedure'],
  })
  .default({ range: '1h' });
export type PerformanceHistoryInput = z.infer<typeof performanceHistoryInput>;

/** Per second over the minute; null when the minute had no request (no traffic, or no instance up). */
const perSecond = z.number().nullable();
/** Milliseconds; null when the minute had no request. */
const milliseconds = z.number().nullable();

/** One minute of every instance together. */
export const historyPoint = z.object({
  /** The minute's start, ISO 8601. */
  at: z.string(),
  requests: z.number(),
  /** Requests answered 4xx (refused or invalid). */
  clientErrors: z.number(),
  /** Requests answered 5xx (the server failed). */
  serverErrors: z.number(),
  requestsPerSecond: perSecond,
  clientErrorsPerSecond: perSecond,
  serverErrorsPerSecond: perSecond,
  p50Ms: milliseconds,
  p95Ms: milliseconds,
  p99Ms: milliseconds,
  /** True for the minute still running: only this instance's requests so far, rates over its elapsed seconds. */
  partial: z.boolean(),
});
export type HistoryPoint = z.infer<typeof historyPoint>;

/** Output of `performance.history`: one point per minute of the range, oldest first, gaps included. */
export const performanceHistory = z.object({
  range: historyRange,
  kind: analyticsKind,
  /** The route or procedure asked for; null for every route together. */
  name: z.string().nullable(),
  stepSeconds: z.number(),
  from: z.string(),
  to: z.string(),
  /** Instances whose minutes the points sum. */
  instances: z.number(),
  /** The whole range: counts summed, percentiles from the merged histograms (null without requests). */
  totals: z.object({
    requests: z.number(),
    clientErrors: z.number(),
    serverErrors: z.number(),
    p50Ms: milliseconds,
    p95Ms: milliseconds,
    p99Ms: milliseconds,
  }),
  points: z.array(historyPoint),
});
export type PerformanceHistory = z.infer<typeof performanceHistory>;
