import type { AnalysisSpec } from '../../../shared/devops-deployments';
import type { DeploymentProvider, DeploymentTarget, Measurement, MetricQuerier } from './contracts';

/**
 * Builds the provider a deployment names from its kind and (opened) configuration; throws on an
 * unknown kind or an invalid configuration, saying what is wrong without repeating values.
 * `createProviderRegistry` in ./provider-registry.ts is the implementation.
 */
export type ProviderFor = (kind: string, config: Record<string, unknown>) => DeploymentProvider;

/**
 * The metric source a deployment's analyses query (Prometheus, or the targets' own /metrics). Its
 * target carries the provider configuration redacted: queriers get no credentials.
 */
export type QuerierFor = (target: DeploymentTarget) => MetricQuerier;

export type AnalysisOutcome = 'successful' | 'failed' | 'inconclusive';

/**
 * Runs (or, given `previous`, resumes) one analysis to its outcome; rejects once `signal` aborts.
 * `runAnalysis` in ./analysis.ts is the implementation.
 */
export type RunAnalysis = (
  spec: AnalysisSpec,
  querier: MetricQuerier,
  options: {
    context: { deploymentId: string; version: string };
    signal: AbortSignal;
    previous?: Measurement[];
    onMeasurement: (m: Measurement) => Promise<void>;
  },
) => Promise<{ outcome: AnalysisOutcome; measurements: Measurement[] }>;
