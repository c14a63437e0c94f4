/**
 * The seams between the deployment control plane (state machine, steps, leases) and the outside
 * world it drives and measures. The engine depends only on these; providers and metric sources
 * implement them.
 */

/** The deployment a provider acts on. */
export interface DeploymentTarget {
  deploymentId: string;
  service: string;
  environment: string;
  /** The version being rolled out. */
  version: string;
  /** The version serving before this deployment (null for a first deployment). */
  stableVersion: string | null;
  strategy: 'rolling' | 'blueGreen' | 'canary';
  /** Provider-specific settings from the deployment (webhook URL id, Kubernetes namespace/name...). */
  providerConfig: Record<string, unknown>;
}

/**
 * Moves versions and traffic. Every call is idempotent (the engine may repeat a step after a
 * restart) and throws on failure; the engine retries with backoff and records each attempt.
 */
export interface DeploymentProvider {
  readonly kind: string;
  /** Starts the new version without traffic (canary replicas, blue-green preview, first rolling batch). */
  prepare(target: DeploymentTarget): Promise<void>;
  /** Canary: sends `weight` percent (0-100) of traffic to the new version. */
  setWeight(target: DeploymentTarget, weight: number): Promise<void>;
  /** Rolling: `updated` of `total` replicas run the new version (within maxSurge/maxUnavailable). */
  scale(target: DeploymentTarget, progress: { updated: number; total: number }): Promise<void>;
  /** Makes the new version the stable one and gives it all traffic (blue-green cut-over, canary end). */
  promote(target: DeploymentTarget): Promise<void>;
  /** Returns all traffic to the stable version and removes the new one. */
  rollback(target: DeploymentTarget): Promise<void>;
}

/** One measurement of an analysis metric. */
export interface Measurement {
  metric: string;
  at: string;
  /** The measured value; null when the query returned nothing (counts as inconclusive). */
  value: number | null;
  phase: 'successful' | 'failed' | 'inconclusive' | 'error';
  message?: string;
}

/** Answers a query with one number (a PromQL instant query, or an expression over a target's /metrics). */
export interface MetricQuerier {
  readonly kind: 'prometheus' | 'targetMetrics';
  query(expression: string, context: { deploymentId: string; version: string }): Promise<number | null>;
}
