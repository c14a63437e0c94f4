import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import { findBadVersion, markVersionBad } from '../../../db/repositories/bad-versions';
import {
  insertDeploymentEvents,
  listDeploymentEvents,
  type NewDeploymentEvent,
} from '../../../db/repositories/deployment-events';
import {
  type DeploymentChanges,
  databaseTime,
  findActiveDeployment,
  findDeployment,
  insertDeployment,
  lastPromotedVersion,
  listDeployments,
  updateDeploymentIfUnchanged,
} from '../../../db/repositories/deployments';
import type { DeploymentRow } from '../../../db/repositories/deployments.table';
import { sqlState } from '../../../db/retry';
import type {
  Deployment,
  DeploymentActionInput,
  DeploymentApproveInput,
  DeploymentCreateInput,
  DeploymentListInput,
  DeploymentPage,
  DeploymentRollbackInput,
  DeploymentWithEvents,
} from '../../../shared/devops-deployments';
import { pageOf } from '../../../shared/pagination';
import type { AuditEventType, AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import type { ProviderFor } from './engine-seams';
import { compilePlan, promotionTarget } from './plan';
import { sealConfig } from './sealed-config';
import { MisplacedReferenceError, referencedSecrets, withSecrets } from './secret-references';
import { toDeployment, toDeploymentEvent } from './views';

/** Who acts: every query is confined to their organization, and the audit log names them. */
export interface DeploymentActor {
  organizationId: string;
  userId: string;
  apiKeyId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

export interface DeploymentServiceOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  /** Builds providers: a deployment whose provider it refuses (kind, configuration) is refused. */
  providerFor: ProviderFor;
  /** Seals the secrets of provider configurations at rest. */
  kek: Uint8Array;
  /**
   * The secrets of an organization's environment, opened, for provider configurations that refer
   * to them (`{ "environmentSecret": "NAME" }`). Absent: such references are refused.
   */
  environmentSecrets?: (organizationId: string, environment: string) => Promise<Record<string, string>>;
  /** The most events `get` returns, latest first kept (default 1000). */
  eventsLimit?: number;
}

/**
 * Deployments as operators create and steer them. The service only records decisions (status,
 * step, a requested abort or rollback) with their events and audit entries; the engine, holding
 * the deployment's lease, makes every provider call. A deployment of another organization is
 * NOT_FOUND, like one that does not exist.
 */
export class DeploymentService {
  constructor(private readonly options: DeploymentServiceOptions) {}

  async create(actor: DeploymentActor, input: DeploymentCreateInput): Promise<Deployment> {
    const secretOf = await this.environmentSecretsFor(actor, input);
    try {
      this.options.providerFor(input.provider.kind, withSecrets(input.provider.config, secretOf));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new PlatformError('BAD_REQUEST', `provider: ${message}`);
    }
    // Chosen here, not by the database: the sealed secrets are bound to it.
    const id = randomUUID();
    const key = {
      organizationId: actor.organizationId,
      service: input.service,
      environment: input.environment,
    };
    const row = await this.options.database
      .transaction(async (trx) => {
        const bad = await findBadVersion(trx, { ...key, version: input.version });
        if (bad) throw badVersion('BAD_REQUEST', input.version, bad, 'deploy a fixed version instead');
        const promoted = await lastPromotedVersion(trx, key);
        if (promoted && input.stableVersion && input.stableVersion !== promoted.version) {
          throw new PlatformError(
            'BAD_REQUEST',
            `${input.service} runs ${promoted.version} in ${input.environment} (its last promoted deployment), not ${input.stableVersion}`,
          );
        }
        const created = await insertDeployment(trx, {
          id,
          organization_id: actor.organizationId,
          service: input.service,
          environment: input.environment,
          version: input.version,
          stable_version: promoted?.version ?? input.stableVersion ?? null,
          strategy: input.spec.strategy,
          spec: JSON.stringify(input.spec),
          provider: JSON.stringify({
            ...input.provider,
            config: sealConfig(input.provider.config, this.options.kek, id, secretOf),
          }),
          created_by: actor.userId,
        });
        await insertDeploymentEvents(trx, created.id, [
          { type: 'created', to: 'pending', details: { by: actor.userId, version: created.version } },
        ]);
        await this.audit(trx, actor, 'deployment_created', created, {
          stableVersion: created.stable_version,
        });
        return created;
      })
      .catch((error) => this.conflictOnActive(error, key));
    return toDeployment(row);
  }

  /**
   * How the secrets a provider configuration refers to are found: in the deployment's
   * environment, of the caller's organization. Every name must be there (BAD_REQUEST naming the
   * missing ones otherwise), so nothing fails half-way later.
   */
  private async environmentSecretsFor(
    actor: DeploymentActor,
    input: DeploymentCreateInput,
  ): Promise<(name: string) => string> {
    let names: string[];
    try {
      names = referencedSecrets(input.provider.config);
    } catch (error) {
      if (error instanceof MisplacedReferenceError)
        throw new PlatformError('BAD_REQUEST', `provider.config.${error.message}`);
      throw error;
    }
    if (names.length === 0)
      return (name) => {
        throw new Error(`no environment secret ${name}`);
      };
    if (!this.options.environmentSecrets) {
      throw new PlatformError('BAD_REQUEST', 'provider: environment secrets cannot be referred to here');
    }
    const secrets = await this.options
      .environmentSecrets(actor.organizationId, input.environment)
      .catch((error) => {
        // Not the deployment that is missing: the environment its provider takes secrets from.
        if (error instanceof PlatformError && error.code === 'NOT_FOUND') {
          throw new PlatformError('BAD_REQUEST', `provider: ${error.message} to take secrets from`);
        }
        throw error;
      });
    const missing = names.filter((name) => !Object.hasOwn(secrets, name));
    if (missing.length > 0) {
      throw new PlatformError(
        'BAD_REQUEST',
        `provider: the environment ${input.environment} has no secret ${missing.join(', ')}`,
      );
    }
    return (name) => secrets[name]!;
  }

  async list(actor: DeploymentActor, input: DeploymentListInput): Promise<DeploymentPage> {
    const rows = await this.options.database.read((db) =>
      listDeployments(db, {
        organizationId: actor.organizationId,
        ...input,
        limit: input.limit + 1,
        after: input.cursor,
      }),
    );
    return pageOf(rows, input.limit, toDeployment, (row) => row.id);
  }

  async get(actor: DeploymentActor, id: string): Promise<DeploymentWithEvents> {
    return this.options.database.read(async (db) => {
      const row = await findDeployment(db, actor.organizationId, id);
      if (!row) throw notFound();
      const events = await listDeploymentEvents(db, id, this.options.eventsLimit ?? 1_000);
      return { ...toDeployment(row), events: events.map(toDeploymentEvent) };
    });
  }

  /** Lets a paused deployment go on: past a gate, a pause or an inconclusive analysis; or retries a failed step. */
  async approve(actor: DeploymentActor, input: DeploymentApproveInput): Promise<Deployment> {
    return this.change(actor, input.id, async (trx, row) => {
      if (row.status !== 'paused' || row.requested_action !== null)
        throw new PlatformError(
          'CONFLICT',
          `the deployment is ${describeStatus(row)}: nothing waits for approval`,
        );
      if (input.step !== undefined && input.step !== row.current_step)
        throw new PlatformError(
          'CONFLICT',
          `the deployment waits at step ${row.current_step}, not ${input.step}`,
        );
      const awaiting = row.step_state.awaiting ?? { kind: 'gate', resume: 'next' };
      const next = awaiting.resume === 'next' ? row.current_step + 1 : row.current_step;
      const updated = await this.update(
        trx,
        row,
        { status: 'progressing', current_step: next, step_state: '{}', paused_reason: null },
        {
          type: 'approved',
          from: 'paused',
          to: 'progressing',
          details: { by: actor.userId, comment: input.comment, awaiting },
        },
      );
      await this.audit(trx, actor, 'deployment_approved', row, {
        step: row.current_step,
        awaiting: awaiting.kind,
      });
      return updated;
    });
  }

  /** Argo's "promote --full": skips the remaining steps and promotes now. */
  async promote(actor: DeploymentActor, input: DeploymentActionInput): Promise<Deployment> {
    return this.change(actor, input.id, async (trx, row) => {
      if ((row.status !== 'progressing' && row.status !== 'paused') || row.requested_action !== null)
        throw new PlatformError(
          'CONFLICT',
          `the deployment is ${describeStatus(row)}: there is nothing to promote`,
        );
      if (row.current_step === 0)
        throw new PlatformError('CONFLICT', 'the new version is still being prepared: promote once it is up');
      const target = promotionTarget(compilePlan(row.spec), row.current_step);
      const updated = await this.update(
        trx,
        row,
        { status: 'progressing', current_step: target, step_state: '{}', paused_reason: null },
        {
          type: 'promote_requested',
          from: row.status,
          to: 'progressing',
          details: { by: actor.userId, reason: input.reason, fromStep: row.current_step, toStep: target },
        },
      );
      await this.audit(trx, actor, 'deployment_promoted', row, {
        fromStep: row.current_step,
        reason: input.reason,
      });
      return updated;
    });
  }

  /** Stops a deployment under way and returns traffic to the stable version; rejecting a gate is an abort. */
  async abort(actor: DeploymentActor, input: DeploymentActionInput): Promise<Deployment> {
    const reason = input.reason ?? 'aborted by an operator';
    return this.change(actor, input.id, async (trx, row) => {
      if (row.requested_action === 'abort') return row;
      if (row.requested_action === 'rollback' || !['pending', 'progressing', 'paused'].includes(row.status))
        throw new PlatformError('CONFLICT', `the deployment is ${describeStatus(row)}: it cannot be aborted`);
      // Nothing has moved yet: there is no traffic to return.
      const updated =
        row.status === 'pending'
          ? await this.update(
              trx,
              row,
              { status: 'aborted', finished_at: databaseTime(), lease_owner: null, lease_expires_at: null },
              { type: 'aborted', from: 'pending', to: 'aborted', details: { by: actor.userId, reason } },
            )
          : await this.update(
              trx,
              row,
              { requested_action: 'abort', requested_reason: reason },
              { type: 'abort_requested', details: { by: actor.userId, reason } },
            );
      await this.audit(trx, actor, 'deployment_aborted', row, { reason });
      return updated;
    });
  }

  /**
   * Returns a promoted deployment's traffic to the version it replaced (refused if that version is
   * marked bad, or if a later deployment replaced this one), or retries the rollback of a failed one.
   */
  async rollback(actor: DeploymentActor, input: DeploymentRollbackInput): Promise<Deployment> {
    const reason = input.reason ?? 'rolled back by an operator';
    return this.change(actor, input.id, async (trx, row) => {
      if (row.requested_action !== null || (row.status !== 'promoted' && row.status !== 'failed')) {
        const hint = ['pending', 'progressing', 'paused'].includes(row.status) ? '; abort it instead' : '';
        throw new PlatformError(
          'CONFLICT',
          `the deployment is ${describeStatus(row)}: it cannot be rolled back${hint}`,
        );
      }
      if (row.status === 'promoted') await this.checkRollbackTarget(trx, row);
      const events: NewDeploymentEvent[] = [
        { type: 'rollback_requested', details: { by: actor.userId, reason } },
      ];
      const updated = await this.update(
        trx,
        row,
        { requested_action: 'rollback', requested_reason: reason },
        ...events,
      );
      if (input.markBad) {
        const key = {
          organizationId: row.organization_id,
          service: row.service,
          environment: row.environment,
        };
        await markVersionBad(trx, { ...key, version: row.version, reason, deploymentId: row.id });
        await insertDeploymentEvents(trx, row.id, [
          {
            type: 'version_marked_bad',
            step: row.current_step,
            details: { version: row.version, reason, by: actor.userId },
          },
        ]);
      }
      await this.audit(trx, actor, 'deployment_rolled_back', row, { reason, markBad: input.markBad });
      return updated;
    });
  }

  private async checkRollbackTarget(trx: Kysely<Database>, row: DeploymentRow): Promise<void> {
    if (row.stable_version === null)
      throw new PlatformError(
        'BAD_REQUEST',
        'this was the first deployment of the service: there is no earlier version',
      );
    const key = { organizationId: row.organization_id, service: row.service, environment: row.environment };
    const latest = await lastPromotedVersion(trx, key);
    if (latest && latest.id !== row.id)
      throw new PlatformError(
        'CONFLICT',
        `a later deployment (${latest.id}, version ${latest.version}) replaced this one`,
      );
    const bad = await findBadVersion(trx, { ...key, version: row.stable_version });
    if (bad)
      throw badVersion('CONFLICT', row.stable_version, bad, 'deploy a fixed version instead of rolling back');
  }

  /** Runs `work` on the organization's deployment, locked, in one transaction. */
  private async change(
    actor: DeploymentActor,
    id: string,
    work: (trx: Kysely<Database>, row: DeploymentRow) => Promise<DeploymentRow>,
  ): Promise<Deployment> {
    const row = await this.options.database
      .transaction(async (trx) => {
        const locked = await findDeployment(trx, actor.organizationId, id, { forUpdate: true });
        if (!locked) throw notFound();
        return work(trx, locked);
      })
      .catch((error) => this.conflictOnActive(error));
    return toDeployment(row);
  }

  private async update(
    trx: Kysely<Database>,
    row: DeploymentRow,
    changes: DeploymentChanges,
    ...events: NewDeploymentEvent[]
  ): Promise<DeploymentRow> {
    const guard = {
      id: row.id,
      status: row.status,
      currentStep: row.current_step,
      requestedAction: row.requested_action,
    };
    // The row is locked: the guard cannot miss, unless the caller's own checks were wrong.
    const updated = await updateDeploymentIfUnchanged(trx, guard, changes);
    if (!updated) throw new Error(`deployment ${row.id} changed under its row lock`);
    await insertDeploymentEvents(
      trx,
      row.id,
      events.map((event) => ({ step: row.current_step, ...event })),
    );
    return updated;
  }

  private audit(
    trx: Kysely<Database>,
    actor: DeploymentActor,
    type: AuditEventType,
    row: DeploymentRow,
    details: Record<string, unknown>,
  ): Promise<void> {
    return this.options.audit.record(trx, {
      type,
      result: 'success',
      actor,
      target: { type: 'deployment', id: row.id },
      details: { service: row.service, environment: row.environment, version: row.version, ...details },
    });
  }

  /** The partial unique index refused a second active deployment: say which one is active. */
  private async conflictOnActive(
    error: unknown,
    key?: { organizationId: string; service: string; environment: string },
  ): Promise<never> {
    if (sqlState(error) !== '23505') throw error;
    const active = key
      ? await this.options.database.read((db) => findActiveDeployment(db, key)).catch(() => undefined)
      : undefined;
    const which = active ? ` (${active.id}, version ${active.version})` : '';
    throw new PlatformError(
      'CONFLICT',
      `another deployment of this service to this environment is under way${which}: wait for it to finish, or abort it`,
    );
  }
}

function notFound(): PlatformError {
  return new PlatformError('NOT_FOUND', 'no such deployment');
}

function badVersion(
  code: 'BAD_REQUEST' | 'CONFLICT',
  version: string,
  bad: { reason: string; marked_at: Date | string },
  advice: string,
): PlatformError {
  const when = new Date(bad.marked_at).toISOString();
  return new PlatformError(code, `version ${version} is marked bad (${bad.reason}, ${when}): ${advice}`);
}

function describeStatus(row: DeploymentRow): string {
  if (row.requested_action === 'abort') return `${row.status}, being aborted`;
  if (row.requested_action === 'rollback') return `${row.status}, being rolled back`;
  return row.status.replace('_', ' ');
}
