import { z } from 'zod';

/** What a series measures: an HTTP route template, or a tRPC procedure path. */
export const analyticsKind = z.enum(['route', 'procedure']);
export type AnalyticsKind = z.infer<typeof analyticsKind>;

/** Durations in milliseconds; null when no request fell in the span they cover. */
const milliseconds = z.number().nullable();

export const latencySummary = z.object({
  p50Ms: milliseconds,
  p90Ms: milliseconds,
  p99Ms: milliseconds,
  maxMs: milliseconds,
  meanMs: milliseconds,
});
export type LatencySummary = z.infer<typeof latencySummary>;

/**
 * One route template or procedure. Counts are since the server started; rates are requests per
 * second over the last 1, 5 and 15 minutes; the flat percentiles cover the latency window
 * (`latencyWindowSeconds` of the overview: the last five to six minutes), `allTime` the uptime.
 */
export const analyticsSeries = z.object({
  kind: analyticsKind,
  name: z.string(),
  requests: z.number(),
  /** Requests the server failed: a 5xx status, or for procedures a code answered with one. */
  errors: z.number(),
  /** Requests refused or invalid: a 4xx status (401, 404, 429…), or for procedures a code answered with one. */
  clientErrors: z.number(),
  /** errors / requests since the start; 0 without requests. */
  errorRate: z.number(),
  /** errors / requests over the last five minutes; 0 without requests then. */
  errorRate5m: z.number(),
  rate1m: z.number(),
  rate5m: z.number(),
  rate15m: z.number(),
  /** Requests in the latency window: what the flat percentiles are computed from. */
  recentRequests: z.number(),
  p50Ms: milliseconds,
  p90Ms: milliseconds,
  p99Ms: milliseconds,
  maxMs: milliseconds,
  allTime: latencySummary,
  lastSeenAt: z.string().nullable(),
});
export type AnalyticsSeriesSnapshot = z.infer<typeof analyticsSeries>;

/** Every series of one kind together; percentiles from their merged histograms. */
export const analyticsTotals = analyticsSeries
  .omit({ kind: true, name: true, lastSeenAt: true })
  .extend({ series: z.number() });
export type AnalyticsTotals = z.infer<typeof analyticsTotals>;

/**
 * Output of `performance.overview`. Routes and procedures are totalled apart: every tRPC call is
 * also a request to the `/api/trpc/*` route, so one sum over both would count it twice.
 */
export const performanceOverview = z.object({
  /** False when PERFORMANCE_ANALYTICS is off: nothing is recorded and every figure is 0. */
  enabled: z.boolean(),
  startedAt: z.string(),
  latencyWindowSeconds: z.number(),
  routes: analyticsTotals,
  procedures: analyticsTotals,
  /** The busiest, slowest (p99 of the latency window) and most failing series of both kinds. */
  top: z.object({
    byRequests: z.array(analyticsSeries),
    byP99: z.array(analyticsSeries),
    byErrorRate: z.array(analyticsSeries),
  }),
});
export type PerformanceOverview = z.infer<typeof performanceOverview>;

/** Sort keys of `performance.routes`; p50 to max sort by the `…Ms` fields of the same name. */
export const analyticsSortKey = z.enum([
  'requests',
  'errors',
  'errorRate',
  'p50',
  'p90',
  'p99',
  'max',
  'rate1m',
]);
export type AnalyticsSortKey = z.infer<typeof analyticsSortKey>;

/** Input of `performance.routes`. Series without a figure for the sort key (null) come last either way. */
export const performanceRoutesInput = z
  .object({
    kind: analyticsKind.optional(),
    sort: analyticsSortKey.default('requests'),
    order: z.enum(['asc', 'desc']).default('desc'),
    /** Keeps series whose name contains this text, ignoring case. */
    filter: z.string().max(200).optional(),
    minRequests: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(500).default(100),
  })
  .strict()
  .default({ sort: 'requests', order: 'desc', limit: 100 });
export type PerformanceRoutesInput = z.infer<typeof performanceRoutesInput>;

export const performanceRoutes = z.object({
  /** Series matching the kind, filter and minRequests, before the limit. */
  total: z.number(),
  series: z.array(analyticsSeries),
});
export type PerformanceRoutes = z.infer<typeof performanceRoutes>;

/** Input of `performance.procedure`: a tRPC procedure path such as `system.info`. */
export const performanceProcedureInput = z.object({ path: z.string().min(1).max(200) }).strict();

/** The bottleneck rules, and how bad a finding is. */
export const bottleneckRule = z.enum([
  'event_loop_lag',
  'pool_waiting',
  'pool_saturated',
  'slow_query',
  'cache_hit_rate',
  'latency_regression',
  'error_rate_spike',
  'memory_growth',
]);
export const bottleneckSeverity = z.enum(['info', 'warning', 'critical']);

/** One detected bottleneck: what, how bad, the numbers behind it, and what to do. */
export const bottleneckFinding = z.object({
  rule: bottleneckRule,
  severity: bottleneckSeverity,
  /** What it is about: a route, a query shape, the pool… */
  subject: z.string(),
  summary: z.string(),
  /** The figures the rule looked at, by name (the rule decides which). */
  evidence: z.record(z.string(), z.union([z.number(), z.string()])),
  recommendation: z.string(),
});

/** Output of `performance.bottlenecks`: findings most severe first; none on an idle instance. */
export const performanceBottlenecks = z.object({
  at: z.string(),
  findings: z.array(bottleneckFinding),
});

/** Shares 0–1 and rates per second; null where not measured yet (fewer than two samples, no traffic). */
const share = z.number().nullable();

/** Output of `performance.capacity`: measured costs, utilisation and the headroom before the first resource saturates. */
export const performanceCapacity = z.object({
  at: z.string(),
  /** Seconds the rates were measured over. */
  windowSeconds: z.number().nullable(),
  throughput: z.object({ requestsPerSecond: z.number().nullable() }),
  cpu: z.object({ utilization: share, secondsPerRequest: z.number().nullable() }),
  eventLoop: z.object({ utilization: share }),
  pool: z.object({
    max: z.number(),
    inUse: z.number(),
    waiting: z.number(),
    utilization: z.number(),
    /** Connections busy on average over the window. */
    busyConnections: z.number().nullable(),
  }),
  memory: z.object({
    rssBytes: z.number(),
    heapUsedBytes: z.number(),
    limitBytes: z.number().nullable(),
    utilization: share,
  }),
  resources: z.array(
    z.object({
      resource: z.enum(['cpu', 'database', 'memory']),
      utilization: share,
      /** Requests a second at which this resource is fully used; null if unknown. */
      saturationRequestsPerSecond: z.number().nullable(),
    }),
  ),
  /** The resource that saturates first. */
  bottleneck: z.enum(['cpu', 'database']).nullable(),
  /** How many times today's throughput fits before the bottleneck saturates. */
  headroom: z.number().nullable(),
  /** Null below `minimumRequestsToEstimate` requests in the window: `estimateReason` says so. */
  estimatedMaxRequestsPerSecond: z.number().nullable(),
  requestsInWindow: z.number().nullable(),
  minimumRequestsToEstimate: z.number(),
  /** Why there is no estimate, e.g. `not enough traffic to estimate`; null when there is one. */
  estimateReason: z.string().nullable(),
  notes: z.array(z.string()),
});
