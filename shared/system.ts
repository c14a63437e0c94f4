import { z } from 'zod';
import { pageSchema } from './pagination';
import { bottleneckFinding, performanceOverview } from './performance';
import { cacheStats } from './performance-cache';

/** Lifecycle states of a platform component, in the order a healthy one passes through them. */
export const componentStatus = z.enum(['pending', 'initializing', 'ready', 'degraded', 'failed']);
export type ComponentStatus = z.infer<typeof componentStatus>;

export const componentState = z.object({
  name: z.string(),
  phase: z.string(),
  critical: z.boolean(),
  status: componentStatus,
  startedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  attempts: z.number(),
  lastError: z.string().nullable(),
});
export type ComponentState = z.infer<typeof componentState>;

/** One IETF health-check measurement (draft-inadarei-api-health-check). */
export const healthCheckResult = z.object({
  componentId: z.string().optional(),
  componentType: z.string().optional(),
  status: z.enum(['pass', 'warn', 'fail']),
  observedValue: z.union([z.number(), z.string(), z.boolean()]).optional(),
  observedUnit: z.string().optional(),
  time: z.string(),
  output: z.string().optional(),
});
export type HealthCheckResult = z.infer<typeof healthCheckResult>;

export const healthReport = z.object({
  status: z.enum(['pass', 'warn', 'fail']),
  version: z.string(),
  releaseId: z.string(),
  serviceId: z.string(),
  description: z.string(),
  checks: z.record(z.string(), z.array(healthCheckResult)),
});
export type HealthReport = z.infer<typeof healthReport>;

export const systemInfo = z.object({
  name: z.string(),
  version: z.string(),
  commit: z.string(),
  runtime: z.object({ name: z.enum(['bun', 'node', 'workerd']), version: z.string() }),
  startedAt: z.string(),
  uptimeSeconds: z.number(),
});
export type SystemInfo = z.infer<typeof systemInfo>;

export const selfTestCheck = z.object({
  component: z.string(),
  name: z.string(),
  status: z.enum(['pass', 'fail']),
  durationMs: z.number(),
  error: z.string().nullable(),
});

export const selfTestReport = z.object({
  status: z.enum(['pass', 'fail']),
  startedAt: z.string(),
  durationMs: z.number(),
  checks: z.array(selfTestCheck),
});
export type SelfTestReport = z.infer<typeof selfTestReport>;

/** Input of `system.selfTest`: optionally limited to some components. */
export const selfTestInput = z
  .object({ components: z.array(z.string().min(1).max(64)).max(32).optional() })
  .strict()
  .optional();

/**
 * PostgreSQL cannot store U+0000 in text (SQLSTATE 22021): a string holding one would fail in the
 * database as a 500, so it is refused here as bad input.
 */
const noNul = (value: string) => !value.includes('\u0000');
const NO_NUL_MESSAGE = 'must not contain NUL (U+0000) characters';

/**
 * Operator annotations: timestamped notes on the timeline ("deploy started", "failover"),
 * as Grafana keeps them. The idempotency key makes a retried create safe: the same key
 * never makes a second row, so a client that lost the answer can simply send it again.
 */
export const annotationCreateInput = z
  .object({
    text: z.string().trim().min(1).max(2000).refine(noNul, NO_NUL_MESSAGE),
    tags: z
      .array(
        z.string().regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, 'tags are lowercase letters, digits and . _ : -'),
      )
      .max(16)
      .default([]),
    idempotencyKey: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{8,128}$/, '8 to 128 characters of A-Z a-z 0-9 . _ : -')
      .optional(),
  })
  .strict();
export type AnnotationCreateInput = z.input<typeof annotationCreateInput>;

export const annotationListInput = z
  .object({
    tag: z.string().max(64).refine(noNul, NO_NUL_MESSAGE).optional(),
    limit: z.number().int().min(1).max(500).default(100),
    /** The `nextCursor` of the previous page. */
    cursor: z
      .string()
      .regex(/^[1-9]\d{0,15}$/, 'must be the nextCursor of a previous page')
      .optional(),
  })
  .strict()
  .default({ limit: 100 });

export const annotation = z.object({
  id: z.number(),
  text: z.string(),
  tags: z.array(z.string()),
  createdAt: z.string(),
});
export type Annotation = z.infer<typeof annotation>;

// What the system procedures answer beyond the schemas above (the REST reference's response
// schemas, server/http/rest/). Dates travel as ISO 8601 strings.

/** `system.annotations.list`: one page, newest first. */
export const annotationPage = pageSchema(annotation);

/** The process's share of the database pool, and the server behind it. */
const databaseStatus = z.object({
  /** Connections open now, idle or in use. */
  total: z.number(),
  idle: z.number(),
  /** Callers queued for a connection. */
  waiting: z.number(),
  max: z.number(),
  /** Connections handed out since start. */
  acquired: z.number(),
  /** Connections opened since start. */
  connects: z.number(),
  /** Connection-level failures since start. */
  errors: z.number(),
  /** Connections opened again after a connection-level failure. */
  reconnects: z.number(),
  lastError: z.object({ message: z.string(), code: z.string().nullable(), at: z.string() }).nullable(),
  healthy: z.boolean(),
  lastHealthyAt: z.string().nullable(),
  /** True when the platform runs its own embedded PostgreSQL (no DATABASE_URL). */
  embedded: z.boolean(),
  /** The server's settings; null while the database is unreachable. */
  server: z.object({ serverVersion: z.string(), maxConnections: z.number() }).nullable(),
});

/** The process cache's figures (those of `performance.cache.stats` without its sources, warmers and invalidations). */
const cacheStatus = cacheStats.omit({ sources: true, warmers: true, invalidation: true });

/** `system.status`: what an operator wants on one page; at most two seconds old. */
export const systemStatus = z.object({
  status: z.enum(['ready', 'degraded', 'failed', 'initializing']),
  /** Ready for traffic: every critical component ready and not draining. */
  ready: z.boolean(),
  draining: z.boolean(),
  instance: z.object({
    name: z.string(),
    version: z.string(),
    commit: z.string(),
    runtime: z.enum(['bun', 'node', 'workerd']),
    runtimeVersion: z.string(),
    pid: z.number(),
    startedAt: z.string(),
    uptimeSeconds: z.number(),
  }),
  components: z.array(componentState),
  resources: z.object({
    memory: z.object({ rss: z.number(), heapUsed: z.number(), heapTotal: z.number(), external: z.number() }),
    cpu: z.object({
      userSeconds: z.number(),
      systemSeconds: z.number(),
      /** Share of one core used on average since start. */
      utilization: z.number(),
    }),
    eventLoopLagMs: z.number(),
  }),
  database: databaseStatus,
  cache: cacheStatus,
  performance: z.object({
    requests: z.number(),
    serverErrors: z.number(),
    errorRate: z.number(),
    meanLatencyMs: z.number(),
    requestsPerSecond: z.number(),
    inFlight: z.number(),
    /** The live analytics' view: the last minutes, not the average since start. */
    live: performanceOverview,
    slowestQuery: z.object({ fingerprint: z.string(), p95Ms: z.number(), count: z.number() }).nullable(),
    slowQueries: z.number(),
    bottlenecks: z.array(bottleneckFinding.pick({ rule: true, severity: true, summary: true })),
  }),
  /** The configuration in force, secrets and passwords in URLs redacted. */
  configuration: z.record(z.string(), z.unknown()),
});
