import type { NewDeploymentEvent } from '../../../db/repositories/deployment-events';
import type { DeploymentRow } from '../../../db/repositories/deployments.table';
import { sleep } from '../../../db/retry';
import type { AwaitingOperator, PlanStep } from '../../../shared/devops-deployments';
import { Interrupted, ProviderCallFailed } from './call-with-retry';
import type { DeploymentProvider, DeploymentTarget, Measurement } from './contracts';
import type { QuerierFor, RunAnalysis } from './engine-seams';

/** What running one step came to; the driver commits it together with its events. */
export type StepOutcome =
  | { kind: 'completed'; events: NewDeploymentEvent[] }
  | { kind: 'awaitOperator'; awaiting: AwaitingOperator; reason: string; events: NewDeploymentEvent[] }
  | { kind: 'analysisFailed'; reason: string; events: NewDeploymentEvent[] };

/** What a step may use; the driver provides it, bound to the deployment and its lease. */
export interface StepContext {
  row: DeploymentRow;
  /** With the provider configuration redacted: for the metric source, which needs no credentials. */
  target: DeploymentTarget;
  /** Aborted by shutdown, a lost lease, or an operator's change to the deployment. */
  signal: AbortSignal;
  /** Calls the provider with retries, recording each failed try; throws ProviderCallFailed at the end. */
  callProvider(
    call: string,
    work: (provider: DeploymentProvider, target: DeploymentTarget) => Promise<void>,
  ): Promise<void>;
  /** Persists a measurement (for a resumed analysis) and its event; throws Interrupted if the deployment moved on. */
  recordMeasurement(measurement: Measurement): Promise<void>;
  /** The database's clock. */
  now(): Promise<Date>;
  runAnalysis: RunAnalysis;
  querierFor: QuerierFor;
}

/** What a provider is told of the deployment; `providerConfig` opened for a provider, redacted otherwise. */
export function targetOf(row: DeploymentRow, providerConfig: Record<string, unknown>): DeploymentTarget {
  return {
    deploymentId: row.id,
    service: row.service,
    environment: row.environment,
    version: row.version,
    stableVersion: row.stable_version,
    strategy: row.strategy,
    providerConfig,
  };
}

/** Runs the step to its outcome; throws Interrupted when told to stop before it is done. */
export async function runStep(step: PlanStep, context: StepContext): Promise<StepOutcome> {
  switch (step.kind) {
    case 'prepare':
      return providerStep(context, 'prepare', (p, t) => p.prepare(t));
    case 'setWeight':
      return providerStep(context, `setWeight(${step.weight})`, (p, t) => p.setWeight(t, step.weight));
    case 'scale':
      return providerStep(context, `scale(${step.updated}/${step.total})`, (p, t) =>
        p.scale(t, { updated: step.updated, total: step.total }),
      );
    case 'promote':
      return providerStep(context, 'promote', (p, t) => p.promote(t));
    case 'pause':
      if (step.durationSeconds === null) {
        return awaitOperator({ kind: 'pause', resume: 'next' }, 'paused until an operator approves');
      }
      return timedPause(context);
    case 'gate':
      return awaitOperator({ kind: 'gate', resume: 'next' }, `waiting for approval at gate "${step.name}"`);
    case 'analysis':
      return analysisStep(context, step.analysis);
  }
}

/**
 * A provider call. Once it has succeeded the step is done, whatever the signal says since: the
 * driver's guarded commit decides whether it still counts, and calling again would repeat it.
 */
async function providerStep(
  context: StepContext,
  call: string,
  work: (provider: DeploymentProvider, target: DeploymentTarget) => Promise<void>,
): Promise<StepOutcome> {
  try {
    await context.callProvider(call, work);
  } catch (error) {
    if (!(error instanceof ProviderCallFailed)) throw error;
    return awaitOperator(
      { kind: 'providerError', resume: 'same' },
      `${error.message}; approve to try again, or abort`,
    );
  }
  return { kind: 'completed', events: [] };
}

/** Waits until the deadline set when the step began, so a resumed pause lasts only what was left. */
async function timedPause(context: StepContext): Promise<StepOutcome> {
  const until = Date.parse(context.row.step_state.until ?? '');
  const remainingMs = Number.isNaN(until) ? 0 : until - (await context.now()).getTime();
  if (remainingMs > 0) await sleep(remainingMs, context.signal);
  if (context.signal.aborted) throw new Interrupted();
  return { kind: 'completed', events: [] };
}

async function analysisStep(
  context: StepContext,
  analysis: Extract<PlanStep, { kind: 'analysis' }>['analysis'],
): Promise<StepOutcome> {
  const { row, signal } = context;
  let result: Awaited<ReturnType<RunAnalysis>>;
  try {
    result = await context.runAnalysis(analysis, context.querierFor(context.target), {
      context: { deploymentId: row.id, version: row.version },
      signal,
      previous: row.step_state.measurements ?? [],
      onMeasurement: (measurement) => context.recordMeasurement(measurement),
    });
  } catch (error) {
    if (signal.aborted || error instanceof Interrupted) throw new Interrupted();
    const message = error instanceof Error ? error.message : String(error);
    return awaitOperator(
      { kind: 'analysisError', resume: 'same' },
      `the analysis could not run: ${message.slice(0, 500)}; approve to run it again, or abort`,
    );
  }
  // An analysis cut short by the signal may report any outcome: only a finished one counts.
  if (signal.aborted) throw new Interrupted();
  const completed: NewDeploymentEvent = {
    type: 'analysis_completed',
    details: { outcome: result.outcome, metrics: summarize(result.measurements) },
  };
  switch (result.outcome) {
    case 'successful':
      return { kind: 'completed', events: [completed] };
    case 'inconclusive':
      return {
        ...awaitOperator(
          { kind: 'inconclusive', resume: 'next' },
          'the analysis was inconclusive: approve to go on, promote to finish now, or abort to roll back',
        ),
        events: [completed],
      };
    case 'failed':
      return { kind: 'analysisFailed', reason: 'the analysis failed', events: [completed] };
  }
}

/** Each metric's measured values and phases, in order: what the history shows of an analysis. */
function summarize(
  measurements: Measurement[],
): Record<string, { values: (number | null)[]; phases: string[] }> {
  const metrics: Record<string, { values: (number | null)[]; phases: string[] }> = {};
  for (const m of measurements) {
    const entry = metrics[m.metric] ?? { values: [], phases: [] };
    metrics[m.metric] = entry;
    entry.values.push(m.value);
    entry.phases.push(m.phase);
  }
  return metrics;
}

function awaitOperator(awaiting: AwaitingOperator, reason: string): StepOutcome {
  return { kind: 'awaitOperator', awaiting, reason, events: [] };
}
