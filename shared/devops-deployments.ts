import { z } from 'zod';
import { type Page, pageSchema } from './pagination';

/**
 * Deployments as the client sees them: the spec an operator submits (Argo Rollouts' canary,
 * blue-green and rolling strategies, in a smaller vocabulary), the procedures' inputs, and what
 * they answer. https://argo-rollouts.readthedocs.io/en/stable/features/specification/
 */

// PostgreSQL text and jsonb cannot hold NUL (U+0000): refused here with a 400, not by the database.
const noNul = (value: string) => !value.includes('\u0000');
const NO_NUL = 'must not contain NUL (U+0000) characters';
const text = (max: number) => z.string().max(max).refine(noNul, NO_NUL);
const id = z.uuid({ message: 'must be an id (a UUID)' });

/** Service and environment names: DNS-label friendly, so Kubernetes objects and URLs can carry them. */
const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be 1-63 lower-case letters, digits and -, starting with a letter');
/** Image tags, digests (`sha256:…`) and semantic versions with build metadata. */
const version = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._+:@/-]{0,199}$/,
    'must be 1-200 letters, digits and . _ + : @ / -, starting with a letter or digit',
  );
/** Durations are seconds and may be fractional: short pauses make the engine testable in seconds. */
const seconds = (max: number) => z.number().min(0).max(max);

export const DEPLOYMENT_STATUSES = [
  'pending',
  'progressing',
  'paused',
  'promoted',
  'aborted',
  'rolled_back',
  'failed',
] as const;
export const deploymentStatus = z.enum(DEPLOYMENT_STATUSES);
export type DeploymentStatus = z.infer<typeof deploymentStatus>;
/** The statuses of a deployment still under way: at most one per service and environment. */
export const ACTIVE_DEPLOYMENT_STATUSES = ['pending', 'progressing', 'paused'] as const;

export const DEPLOYMENT_STRATEGIES = ['canary', 'blueGreen', 'rolling'] as const;
export type DeploymentStrategyName = (typeof DEPLOYMENT_STRATEGIES)[number];

// --- Analysis ----------------------------------------------------------------------------------------

const condition = z.object({
  op: z.enum(['<', '<=', '>', '>=', '==']),
  value: z.number(),
});

export const analysisMetric = z.object({
  name: z
    .string()
    .regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,62}$/, 'a metric name: a letter, then letters, digits, _ . or -'),
  /** PromQL, or an expression over a target's /metrics, depending on the metric source. */
  query: text(4_000).refine((value) => value.trim() !== '', 'must not be empty'),
  successCondition: condition,
  /** Without it, any value that misses the success condition is a failure. */
  failureCondition: condition.optional(),
});

/** Argo Rollouts' AnalysisTemplate, inline: `count` measurements `intervalSeconds` apart. */
export const analysisSpec = z
  .object({
    metrics: z.array(analysisMetric).min(1).max(10),
    intervalSeconds: z.number().min(0.05).max(3_600),
    // Each measurement is kept in the deployment's step state to resume after a restart: bounded.
    count: z.number().int().min(1).max(100),
    failureLimit: z.number().int().min(0).max(100).default(0),
    inconclusiveLimit: z.number().int().min(0).max(100).default(0),
  })
  .refine((spec) => new Set(spec.metrics.map((m) => m.name)).size === spec.metrics.length, {
    message: 'metric names must be unique',
    path: ['metrics'],
  });
export type AnalysisSpec = z.infer<typeof analysisSpec>;
export type AnalysisMetric = z.infer<typeof analysisMetric>;

// --- Strategies --------------------------------------------------------------------------------------

/** `gate: true` on a step: once it is done, the deployment waits for an operator to approve (or abort). */
const gateAfter = z.boolean().optional();

const setWeightStep = z.strictObject({ setWeight: z.number().int().min(0).max(100), gate: gateAfter });
/** Without a duration, a pause waits for an operator (Argo's indefinite pause). */
const pauseStep = z.strictObject({
  pause: z.strictObject({ durationSeconds: seconds(7 * 86_400).optional() }),
  gate: gateAfter,
});
const analysisStep = z.strictObject({ analysis: analysisSpec, gate: gateAfter });
const gateStep = z.strictObject({ gate: z.strictObject({ name: text(100).pipe(z.string().min(1)) }) });

export const canaryStep = z.union([setWeightStep, pauseStep, analysisStep, gateStep]);
export type CanaryStep = z.infer<typeof canaryStep>;

export const canarySpec = z.strictObject({
  strategy: z.literal('canary'),
  steps: z.array(canaryStep).min(1).max(50),
});

export const blueGreenSpec = z.strictObject({
  strategy: z.literal('blueGreen'),
  /** Run against the preview before any traffic moves; a failure rolls back. */
  previewAnalysis: analysisSpec.optional(),
  /** Argo's autoPromotionEnabled (default true); false waits for an operator before the cut-over. */
  autoPromote: z.boolean().default(true),
  /** After the cut-over the old version stays up this long, so an abort is instant (Argo's default 30). */
  scaleDownDelaySeconds: seconds(86_400).default(30),
});

export const rollingSpec = z
  .strictObject({
    strategy: z.literal('rolling'),
    replicas: z.number().int().min(1).max(1_000),
    /** Replicas above `replicas` during the update. */
    maxSurge: z.number().int().min(0).max(1_000).default(1),
    /** Replicas below `replicas` during the update. */
    maxUnavailable: z.number().int().min(0).max(1_000).default(0),
    analysisPerBatch: analysisSpec.optional(),
    pauseBetweenBatchesSeconds: seconds(86_400).default(0),
    /** Wait for an operator after every batch but the last. */
    gateEachBatch: z.boolean().default(false),
  })
  // Kubernetes refuses both zero too: no replica could ever be replaced.
  .refine((spec) => spec.maxSurge + spec.maxUnavailable >= 1, {
    message: 'maxSurge and maxUnavailable cannot both be 0',
    path: ['maxSurge'],
  });

export const deploymentSpec = z.discriminatedUnion('strategy', [canarySpec, blueGreenSpec, rollingSpec]);
export type DeploymentSpec = z.infer<typeof deploymentSpec>;
export type CanarySpec = z.infer<typeof canarySpec>;
export type BlueGreenSpec = z.infer<typeof blueGreenSpec>;
export type RollingSpec = z.infer<typeof rollingSpec>;

/** Which registered provider moves traffic, and its settings (never secrets: they are shown back). */
export const deploymentProviderRef = z.object({
  kind: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be a provider kind such as webhook or kubernetes'),
  config: z
    .record(z.string().max(100), z.json())
    .default({})
    .refine((config) => JSON.stringify(config).length <= 16_384, 'must be at most 16 KiB as JSON')
    .refine((config) => noNul(JSON.stringify(config)), NO_NUL),
});
export type DeploymentProviderRef = z.infer<typeof deploymentProviderRef>;

// --- Inputs ------------------------------------------------------------------------------------------

export const deploymentCreateInput = z.object({
  service: name,
  environment: name,
  version,
  spec: deploymentSpec,
  provider: deploymentProviderRef,
  /**
   * The version serving now, for a service's first deployment through the platform. Later ones take
   * the last promoted version, and a different value here is refused.
   */
  stableVersion: version.optional(),
});
export type DeploymentCreateInput = z.infer<typeof deploymentCreateInput>;

export const deploymentListInput = z
  .object({
    service: name.optional(),
    environment: name.optional(),
    status: z.array(deploymentStatus).min(1).max(DEPLOYMENT_STATUSES.length).optional(),
    limit: z.number().int().min(1).max(100).default(50),
    /** The id of the last deployment of the previous page. */
    cursor: id.optional(),
  })
  .default({ limit: 50 });
export type DeploymentListInput = z.infer<typeof deploymentListInput>;

export const deploymentIdInput = z.object({ id });

export const deploymentApproveInput = z.object({
  id,
  /** The step the operator saw waiting: refused if the deployment has moved on since. */
  step: z.number().int().min(0).optional(),
  comment: text(500).optional(),
});
export type DeploymentApproveInput = z.infer<typeof deploymentApproveInput>;

/** Promote (skip the remaining steps) and abort (return to the stable version; a gate's "reject"). */
export const deploymentActionInput = z.object({ id, reason: text(500).optional() });
export type DeploymentActionInput = z.infer<typeof deploymentActionInput>;

export const deploymentRollbackInput = z.object({
  id,
  reason: text(500).optional(),
  /** Also mark the rolled-back version bad, so it can never be deployed again. */
  markBad: z.boolean().default(false),
});
export type DeploymentRollbackInput = z.infer<typeof deploymentRollbackInput>;

// --- Outputs -----------------------------------------------------------------------------------------

/** One step of the plan a spec compiles to; `currentStep` indexes this list. */
export type PlanStep =
  | { kind: 'prepare' }
  | { kind: 'setWeight'; weight: number }
  | { kind: 'scale'; updated: number; total: number }
  | { kind: 'pause'; durationSeconds: number | null; purpose: 'pause' | 'betweenBatches' | 'scaleDownDelay' }
  | { kind: 'analysis'; analysis: AnalysisSpec; purpose: 'canary' | 'preview' | 'batch' }
  | { kind: 'gate'; name: string }
  | { kind: 'promote' };

export const DEPLOYMENT_EVENT_TYPES = [
  'created',
  'started',
  'step_started',
  'step_completed',
  'resumed',
  'measurement',
  'analysis_completed',
  'provider_error',
  'paused',
  'approved',
  'promote_requested',
  'abort_requested',
  'rollback_requested',
  'version_marked_bad',
  'promoted',
  'aborted',
  'rolled_back',
  'failed',
] as const;
export type DeploymentEventType = (typeof DEPLOYMENT_EVENT_TYPES)[number];

/** What the deployment waits for while paused, and where approving it resumes. */
export interface AwaitingOperator {
  kind: 'gate' | 'pause' | 'inconclusive' | 'providerError' | 'analysisError';
  /** `next`: approving moves past the step; `same`: approving runs the step again. */
  resume: 'next' | 'same';
}

/** Engine bookkeeping of the current step, kept so a restarted instance resumes it. */
export interface StepState {
  startedAt?: string;
  /** A timed pause ends then (the database's clock). */
  until?: string;
  /** An analysis's measurements so far. */
  measurements?: {
    metric: string;
    at: string;
    value: number | null;
    phase: 'successful' | 'failed' | 'inconclusive' | 'error';
    message?: string;
  }[];
  awaiting?: AwaitingOperator;
}

export interface Deployment {
  id: string;
  service: string;
  environment: string;
  version: string;
  stableVersion: string | null;
  strategy: DeploymentStrategyName;
  spec: DeploymentSpec;
  /** Values under secret-looking names (secret, token, password…) read `[redacted]`. */
  provider: { kind: string; config: Record<string, unknown> };
  status: DeploymentStatus;
  plan: PlanStep[];
  currentStep: number;
  stepState: StepState;
  pausedReason: string | null;
  /** An abort or rollback the engine is carrying out. */
  requestedAction: 'abort' | 'rollback' | null;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface DeploymentEvent {
  id: string;
  at: string;
  type: DeploymentEventType;
  fromStatus: DeploymentStatus | null;
  toStatus: DeploymentStatus | null;
  step: number | null;
  /** Measured values, provider errors, who approved and why. */
  details: Record<string, unknown>;
}

export interface DeploymentWithEvents extends Deployment {
  events: DeploymentEvent[];
}

export type DeploymentPage = Page<Deployment>;

// --- Output schemas (the REST reference; exactly the interfaces above) -----------------------------

const dateTime = z.string().describe('ISO 8601 date-time');

/** One step of the plan a spec compiles to; `currentStep` indexes the list. */
export const planStep = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('prepare') }),
  z.object({ kind: z.literal('setWeight'), weight: z.number() }),
  z.object({ kind: z.literal('scale'), updated: z.number().int(), total: z.number().int() }),
  z.object({
    kind: z.literal('pause'),
    durationSeconds: z.number().nullable(),
    purpose: z.enum(['pause', 'betweenBatches', 'scaleDownDelay']),
  }),
  z.object({
    kind: z.literal('analysis'),
    analysis: analysisSpec,
    purpose: z.enum(['canary', 'preview', 'batch']),
  }),
  z.object({ kind: z.literal('gate'), name: z.string() }),
  z.object({ kind: z.literal('promote') }),
]);

/** Engine bookkeeping of the current step (empty between steps). */
export const stepState = z.object({
  startedAt: dateTime.optional(),
  /** A timed pause ends then (the database's clock). */
  until: dateTime.optional(),
  /** An analysis's measurements so far. */
  measurements: z
    .array(
      z.object({
        metric: z.string(),
        at: dateTime,
        value: z.number().nullable(),
        phase: z.enum(['successful', 'failed', 'inconclusive', 'error']),
        message: z.string().optional(),
      }),
    )
    .optional(),
  /** What the deployment waits for while paused, and where approving it resumes. */
  awaiting: z
    .object({
      kind: z.enum(['gate', 'pause', 'inconclusive', 'providerError', 'analysisError']),
      resume: z.enum(['next', 'same']),
    })
    .optional(),
});

export const deploymentView = z.object({
  id: z.string(),
  service: z.string(),
  environment: z.string(),
  version: z.string(),
  stableVersion: z.string().nullable(),
  strategy: z.enum(DEPLOYMENT_STRATEGIES),
  /** The spec as submitted, its defaults filled in. */
  spec: deploymentSpec,
  /** Values under secret-looking names (secret, token, password…) read `[redacted]`. */
  provider: z.object({ kind: z.string(), config: z.record(z.string(), z.unknown()) }),
  status: deploymentStatus,
  plan: z.array(planStep),
  currentStep: z.number().int(),
  stepState,
  pausedReason: z.string().nullable(),
  /** An abort or rollback the engine is carrying out. */
  requestedAction: z.enum(['abort', 'rollback']).nullable(),
  createdBy: z.string().nullable(),
  createdAt: dateTime,
  updatedAt: dateTime,
  finishedAt: dateTime.nullable(),
});

export const deploymentEventView = z.object({
  id: z.string(),
  at: dateTime,
  type: z.enum(DEPLOYMENT_EVENT_TYPES),
  fromStatus: deploymentStatus.nullable(),
  toStatus: deploymentStatus.nullable(),
  step: z.number().int().nullable(),
  /** Measured values, provider errors, who approved and why. */
  details: z.record(z.string(), z.unknown()),
});

export const deploymentWithEvents = deploymentView.extend({ events: z.array(deploymentEventView) });

export const deploymentPage = pageSchema(deploymentView);
