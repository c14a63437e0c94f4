import type { Tracer } from '@opentelemetry/api';
import { type Attributes, context, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import { markVersionBad } from '../../../db/repositories/bad-versions';
import { insertDeploymentEvents, type NewDeploymentEvent } from '../../../db/repositories/deployment-events';
import { type LeasedState, releaseLeases } from '../../../db/repositories/deployment-leases';
import {
  appendMeasurement,
  type DeploymentChanges,
  databaseTime,
  loadDeployment,
  mergedStepState,
  updateDeploymentIfUnchanged,
} from '../../../db/repositories/deployments';
import type { DeploymentRow } from '../../../db/repositories/deployments.table';
import { backoffDelay, sleep } from '../../../db/retry';
import { databaseNow } from '../../../db/server-clock';
import type { PlanStep, StepState } from '../../../shared/devops-deployments';
import type { AuditLog } from '../../base/audit';
import type { Logger } from '../../base/logger';
import {
  type CallRetryPolicy,
  callWithRetry,
  type FailedAttempt,
  Interrupted,
  ProviderCallFailed,
} from './call-with-retry';
import type { DeploymentProvider, DeploymentTarget, Measurement } from './contracts';
import type { ProviderFor, QuerierFor, RunAnalysis } from './engine-seams';
import { compilePlan, describeStep } from './plan';
import { openConfig, redactConfig } from './sealed-config';
import { runStep, type StepContext, type StepOutcome, targetOf } from './step-runner';

export interface DriverOptions {
  database: PlatformDatabase;
  /** This engine instance: the lease owner. */
  owner: string;
  leaseMs: number;
  providerFor: ProviderFor;
  /** Opens the sealed secrets of provider configurations. */
  kek: Uint8Array | readonly Uint8Array[];
  querierFor: QuerierFor;
  runAnalysis: RunAnalysis;
  audit: AuditLog;
  logger: Logger;
  retry: CallRetryPolicy;
  /** Steps and rollbacks in spans of their own, when the platform traces. */
  tracer?: Tracer | null;
}

/** The fields an operator's change alters: when a renewal sees them move, the current step stops. */
interface Watched {
  status: DeploymentRow['status'];
  currentStep: number;
  requestedAction: DeploymentRow['requested_action'];
}

const TERMINAL = {
  requested_action: null,
  requested_reason: null,
  paused_reason: null,
  finished_at: databaseTime(),
  lease_owner: null,
  lease_expires_at: null,
} satisfies DeploymentChanges;

/**
 * Drives one deployment while this instance holds its lease: runs the current step, commits what
 * came of it (status, step, step state and events in one transaction, applied only if nobody
 * changed the deployment meanwhile), and goes on until the deployment is paused, finished, or the
 * lease is gone. Everything it needs to resume is in the row, so any instance can take over.
 */
export class DeploymentDriver {
  private readonly halted = new AbortController();
  private stepController = new AbortController();
  private watched: Watched | null = null;
  private leaseValidUntil: number;
  private writes = 0;
  /** Steps this driver has begun or announced as resumed, as `index@startedAt`. */
  private readonly knownSteps = new Set<string>();
  lastError: string | null = null;

  constructor(
    readonly deploymentId: string,
    private readonly options: DriverOptions,
    leaseTakenAt: number,
  ) {
    this.leaseValidUntil = leaseTakenAt + options.leaseMs;
  }

  /** Drives until the deployment needs nothing more from this instance, the lease is lost, or `halt`. */
  async run(): Promise<void> {
    let failures = 0;
    while (!this.halted.signal.aborted && this.leaseValid()) {
      try {
        if (!(await this.advance())) return;
        failures = 0;
      } catch (error) {
        if (error instanceof Interrupted) continue;
        failures++;
        this.lastError = error instanceof Error ? error.message : String(error);
        this.options.logger.warn(
          { err: error, deploymentId: this.deploymentId },
          'driving a deployment failed',
        );
        await sleep(Math.max(100, backoffDelay(failures, { baseMs: 200, maxMs: 5_000 })), this.halted.signal);
      }
    }
  }

  /** Stops at the next safe point: waits end at once, a provider call under way finishes first. */
  halt(): void {
    this.halted.abort();
    this.stepController.abort();
  }

  /** Counts this driver's commits (twice each: before and after); a renewal compares it, see `observe`. */
  get writeCount(): number {
    return this.writes;
  }

  /**
   * What a lease renewal found. A deployment missing from it is no longer ours: stop. One whose
   * status, step or requested action moved was changed by an operator: stop the current step and
   * reload. Ignored when this driver committed since the renewal was sent (it knows better).
   */
  observe(state: LeasedState | undefined, writesAtRequest: number, validUntil: number): void {
    if (state) this.leaseValidUntil = Math.max(this.leaseValidUntil, validUntil);
    if (writesAtRequest !== this.writes) return;
    if (!state) {
      this.halt();
      return;
    }
    const watched = this.watched;
    if (
      watched &&
      (state.status !== watched.status ||
        state.current_step !== watched.currentStep ||
        state.requested_action !== watched.requestedAction)
    ) {
      this.stepController.abort();
    }
  }

  /** One move; false once there is nothing more for this instance to do. */
  private async advance(): Promise<boolean> {
    const { database, owner } = this.options;
    const row = await database.read((db) => loadDeployment(db, this.deploymentId));
    if (!row || row.lease_owner !== owner) return false;
    this.watch(row);
    if (row.requested_action !== null) {
      await this.rollBack(row);
      return true;
    }
    if (row.status === 'pending') {
      await this.commit(row, { status: 'progressing' }, [
        { type: 'started', from: 'pending', to: 'progressing' },
      ]);
      return true;
    }
    if (row.status !== 'progressing') {
      await releaseLeases(database.db, owner, [row.id]);
      return false;
    }
    const plan = compilePlan(row.spec);
    const step = plan[row.current_step];
    if (!step) {
      await this.finish(row, []);
      return true;
    }
    const begun = await this.beginStep(row, step);
    // The step and the commit of its outcome, in one span when the platform traces.
    await this.traced(
      `deployment step ${step.kind}`,
      begun,
      { 'deployment.step.kind': step.kind },
      async () => {
        const outcome = await runStep(step, this.stepContext(begun));
        await this.apply(begun, plan, step, outcome);
        return outcome;
      },
      (outcome) => outcome.kind,
    );
    return true;
  }

  /**
   * `work` inside a span of its own: the root of a trace (the engine works on its own time), under
   * which the provider's calls (webhooks, Kubernetes), the metric queries and the database queries
   * of the step are children. Without a tracer, `work` alone.
   */
  private async traced<T>(
    name: string,
    row: DeploymentRow,
    attributes: Attributes,
    work: () => Promise<T>,
    outcomeOf: (result: T) => string,
  ): Promise<T> {
    const tracer = this.options.tracer;
    if (!tracer) return work();
    const span = tracer.startSpan(name, {
      root: true,
      attributes: {
        ...attributes,
        'deployment.id': row.id,
        'deployment.step.index': row.current_step,
        'deployment.version': row.version,
        'deployment.provider': row.provider.kind,
      },
    });
    try {
      const result = await context.with(trace.setSpan(ROOT_CONTEXT, span), work);
      span.setAttribute('deployment.step.outcome', outcomeOf(result));
      return result;
    } catch (error) {
      span.setAttribute('error.type', error instanceof Error ? error.name : 'error');
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  }

  /** Marks the step begun (and a pause's deadline), or, for a step begun before, records the resumption. */
  private async beginStep(row: DeploymentRow, step: PlanStep): Promise<DeploymentRow> {
    const startedAt = row.step_state.startedAt;
    if (startedAt && this.knownSteps.has(`${row.current_step}@${startedAt}`)) return row;
    const now = await this.options.database.read((db) => databaseNow(db));
    if (startedAt) {
      this.knownSteps.add(`${row.current_step}@${startedAt}`);
      const until = row.step_state.until ? Date.parse(row.step_state.until) : null;
      return this.commit(row, {}, [
        {
          type: 'resumed',
          details: {
            step: describeStep(step),
            ...(until !== null ? { remainingMs: Math.max(0, until - now.getTime()) } : {}),
            ...(row.step_state.measurements ? { measurements: row.step_state.measurements.length } : {}),
          },
        },
      ]);
    }
    const state: StepState = { startedAt: now.toISOString() };
    if (step.kind === 'pause' && step.durationSeconds !== null)
      state.until = new Date(now.getTime() + step.durationSeconds * 1000).toISOString();
    this.knownSteps.add(`${row.current_step}@${state.startedAt}`);
    return this.commit(row, { step_state: JSON.stringify(state) }, [
      { type: 'step_started', details: { kind: step.kind, step: describeStep(step), ...state } },
    ]);
  }

  private async apply(
    row: DeploymentRow,
    plan: PlanStep[],
    step: PlanStep,
    outcome: StepOutcome,
  ): Promise<void> {
    switch (outcome.kind) {
      case 'completed': {
        const events: NewDeploymentEvent[] = [
          ...outcome.events,
          { type: 'step_completed', details: { kind: step.kind, step: describeStep(step) } },
        ];
        const next = row.current_step + 1;
        if (next >= plan.length) await this.finish(row, events, next);
        else await this.commit(row, { current_step: next, step_state: '{}' }, events);
        return;
      }
      case 'awaitOperator':
        await this.commit(
          row,
          {
            status: 'paused',
            paused_reason: outcome.reason,
            // Merged in SQL: the measurements appended during the step are not in `row`.
            step_state: mergedStepState({ awaiting: outcome.awaiting }),
            lease_owner: null,
            lease_expires_at: null,
          },
          [
            ...outcome.events,
            {
              type: 'paused',
              from: 'progressing',
              to: 'paused',
              details: { reason: outcome.reason, awaiting: outcome.awaiting },
            },
          ],
        );
        return;
      case 'analysisFailed':
        // Decided and recorded together: the version is bad and must be rolled back. The rollback
        // itself is the next move (and any instance's, should this one stop first).
        await this.commit(
          row,
          { requested_action: 'rollback', requested_reason: outcome.reason },
          [
            ...outcome.events,
            { type: 'version_marked_bad', details: { version: row.version, reason: outcome.reason } },
          ],
          async (trx) => {
            await markVersionBad(trx, {
              organizationId: row.organization_id,
              service: row.service,
              environment: row.environment,
              version: row.version,
              reason: outcome.reason,
              deploymentId: row.id,
            });
            await this.options.audit.record(trx, {
              type: 'deployment_rolled_back',
              result: 'success',
              actor: { organizationId: row.organization_id },
              target: { type: 'deployment', id: row.id },
              details: { automatic: true, reason: outcome.reason, version: row.version },
            });
          },
        );
        return;
    }
  }

  private finish(row: DeploymentRow, events: NewDeploymentEvent[], currentStep = row.current_step) {
    return this.commit(
      row,
      { ...TERMINAL, status: 'promoted', current_step: currentStep, step_state: '{}' },
      [
        ...events,
        { type: 'promoted', from: 'progressing', to: 'promoted', details: { version: row.version } },
      ],
    );
  }

  /** Carries out a requested abort or rollback: traffic back to the stable version, then the final status. */
  private async rollBack(row: DeploymentRow): Promise<void> {
    const final = row.requested_action === 'abort' ? 'aborted' : 'rolled_back';
    try {
      await this.traced(
        'deployment rollback',
        row,
        { 'deployment.requested_action': row.requested_action ?? '' },
        () => this.callProvider(row, 'rollback', (provider, target) => provider.rollback(target)),
        () => final,
      );
    } catch (error) {
      if (!(error instanceof ProviderCallFailed)) throw error;
      // Never silently lost: the deployment says it failed, and why; `rollback` may be asked again.
      await this.commit(row, { ...TERMINAL, status: 'failed' }, [
        { type: 'failed', from: row.status, to: 'failed', details: { during: final, error: error.message } },
      ]);
      return;
    }
    await this.commit(row, { ...TERMINAL, status: final }, [
      {
        type: final,
        from: row.status,
        to: final,
        details: { reason: row.requested_reason, stableVersion: row.stable_version },
      },
    ]);
  }

  private stepContext(row: DeploymentRow): StepContext {
    const { database } = this.options;
    return {
      row,
      target: targetOf(row, redactConfig(row.provider.config)),
      signal: this.stepController.signal,
      callProvider: (call, work) => this.callProvider(row, call, work),
      recordMeasurement: (measurement) => this.recordMeasurement(row, measurement),
      now: () => database.read((db) => databaseNow(db)),
      runAnalysis: this.options.runAnalysis,
      querierFor: this.options.querierFor,
    };
  }

  private async callProvider(
    row: DeploymentRow,
    call: string,
    work: (provider: DeploymentProvider, target: DeploymentTarget) => Promise<void>,
  ): Promise<void> {
    let provider: DeploymentProvider;
    let target: DeploymentTarget;
    try {
      const config = openConfig(row.provider.config, this.options.kek, row.id);
      provider = this.options.providerFor(row.provider.kind, config);
      target = targetOf(row, config);
    } catch (error) {
      // An unknown kind, a configuration this release refuses, a secret sealed under another key:
      // no try would go differently, so none is made.
      const message = `the ${row.provider.kind} provider could not be set up: ${error instanceof Error ? error.message : String(error)}`;
      await this.recordFailedAttempt(row, { call, attempt: 1, error: message, retryInMs: null });
      throw new ProviderCallFailed(call, 1, message);
    }
    await callWithRetry(
      call,
      async () => {
        // Another instance may take an expired lease: never move traffic without one.
        if (!this.leaseValid()) throw new Interrupted();
        await work(provider, target);
      },
      {
        policy: this.options.retry,
        signal: this.stepController.signal,
        onFailedAttempt: (failure) => this.recordFailedAttempt(row, failure),
      },
    );
  }

  private async recordFailedAttempt(row: DeploymentRow, failure: FailedAttempt): Promise<void> {
    const event: NewDeploymentEvent = {
      type: 'provider_error',
      step: row.current_step,
      details: { instance: this.options.owner, ...failure },
    };
    await insertDeploymentEvents(this.options.database.db, row.id, [event]).catch((error) =>
      this.options.logger.warn(
        { err: error, deploymentId: row.id, failure },
        'could not record a provider error',
      ),
    );
  }

  /**
   * Any failure here stops the step rather than reaching the analysis, which would take it for a
   * broken metric: the driver reloads, and the analysis resumes from what was recorded.
   */
  private async recordMeasurement(row: DeploymentRow, measurement: Measurement): Promise<void> {
    const guard = this.guardOf(row);
    let recorded = false;
    try {
      recorded = await this.options.database.transaction(async (trx) => {
        if (!(await appendMeasurement(trx, guard, { ...measurement }))) return false;
        await insertDeploymentEvents(trx, row.id, [
          {
            type: 'measurement',
            step: row.current_step,
            details: { instance: this.options.owner, ...measurement },
          },
        ]);
        return true;
      });
    } catch (error) {
      this.lastError = error instanceof Error ? error.message : String(error);
      this.options.logger.warn({ err: error, deploymentId: row.id }, 'could not record a measurement');
    }
    if (!recorded) {
      this.stepController.abort();
      throw new Interrupted();
    }
  }

  /**
   * Applies `changes` and `events` (and `extra`) in one transaction if the deployment is as `row`
   * shows it and still leased to this instance; otherwise throws Interrupted, and the caller reloads.
   * Running it twice changes nothing the second time (the guard no longer matches), hence idempotent.
   */
  private async commit(
    row: DeploymentRow,
    changes: DeploymentChanges,
    events: NewDeploymentEvent[],
    extra?: (trx: Kysely<Database>) => Promise<void>,
  ): Promise<DeploymentRow> {
    const guard = this.guardOf(row);
    const stamped = events.map((event) => ({
      step: row.current_step,
      ...event,
      details: { instance: this.options.owner, ...event.details },
    }));
    this.writes++;
    let updated: DeploymentRow | undefined;
    try {
      updated = await this.options.database.transaction(
        async (trx) => {
          const changed = await updateDeploymentIfUnchanged(trx, guard, changes);
          if (!changed) return undefined;
          await insertDeploymentEvents(trx, row.id, stamped);
          await extra?.(trx);
          return changed;
        },
        { idempotent: true },
      );
    } finally {
      this.writes++;
    }
    if (!updated) throw new Interrupted();
    this.watched = watchedOf(updated);
    return updated;
  }

  private guardOf(row: DeploymentRow) {
    return {
      id: row.id,
      status: row.status,
      currentStep: row.current_step,
      requestedAction: row.requested_action,
      leaseOwner: this.options.owner,
    };
  }

  private watch(row: DeploymentRow): void {
    this.watched = watchedOf(row);
    this.stepController = new AbortController();
    if (this.halted.signal.aborted) this.stepController.abort();
  }

  /** A margin short of the expiry: the database's clock and ours may disagree by a little. */
  private leaseValid(): boolean {
    return performance.now() < this.leaseValidUntil - Math.min(1_000, this.options.leaseMs / 5);
  }
}

function watchedOf(row: DeploymentRow): Watched {
  return { status: row.status, currentStep: row.current_step, requestedAction: row.requested_action };
}
