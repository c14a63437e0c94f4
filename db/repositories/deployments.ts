import { type Insertable, type Kysely, type RawBuilder, sql, type UpdateObject } from 'kysely';
import type { DeploymentStatus } from '../../shared/devops-deployments';
import type { Database } from '../database';
import type { DeploymentRow, DeploymentsTable } from './deployments.table';

/** SQL of the deployments table; every function takes the connection or transaction to run on. */

export async function insertDeployment(
  trx: Kysely<Database>,
  values: Insertable<DeploymentsTable>,
): Promise<DeploymentRow> {
  return trx.insertInto('deployments').values(values).returningAll().executeTakeFirstOrThrow();
}

/** An organization's deployment; another organization's is as absent as one that never existed. */
export async function findDeployment(
  db: Kysely<Database>,
  organizationId: string,
  id: string,
  { forUpdate = false }: { forUpdate?: boolean } = {},
): Promise<DeploymentRow | undefined> {
  let query = db
    .selectFrom('deployments')
    .selectAll()
    .where('id', '=', id)
    .where('organization_id', '=', organizationId);
  if (forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** A deployment by id alone: for the engine, which works across organizations. */
export async function loadDeployment(db: Kysely<Database>, id: string): Promise<DeploymentRow | undefined> {
  return db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface DeploymentQuery {
  organizationId: string;
  service?: string;
  environment?: string;
  status?: DeploymentStatus[];
  limit: number;
  /** The id of the last deployment of the previous page. */
  after?: string;
}

/** Newest first. */
export async function listDeployments(
  db: Kysely<Database>,
  query: DeploymentQuery,
): Promise<DeploymentRow[]> {
  let select = db
    .selectFrom('deployments')
    .selectAll()
    .where('organization_id', '=', query.organizationId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit);
  if (query.service) select = select.where('service', '=', query.service);
  if (query.environment) select = select.where('environment', '=', query.environment);
  if (query.status) select = select.where('status', 'in', query.status);
  if (query.after) {
    select = select.where(
      sql<boolean>`(created_at, id) < (select c.created_at, c.id from deployments c
        where c.id = ${query.after} and c.organization_id = ${query.organizationId})`,
    );
  }
  return select.execute();
}

/** Column changes, values or SQL expressions (`now()`, a jsonb merge). */
export type DeploymentChanges = UpdateObject<Database, 'deployments'>;

/** The state a writer last saw: its update applies only if nobody changed the deployment since. */
export interface DeploymentGuard {
  id: string;
  status: DeploymentStatus;
  currentStep: number;
  requestedAction: 'abort' | 'rollback' | null;
  /** The engine instance that must still hold the lease; omitted for operators' changes. */
  leaseOwner?: string;
}

/** Applies `changes` if the deployment is still as `guard` saw it; returns the row, or undefined. */
export async function updateDeploymentIfUnchanged(
  trx: Kysely<Database>,
  guard: DeploymentGuard,
  changes: DeploymentChanges,
): Promise<DeploymentRow | undefined> {
  let update = trx
    .updateTable('deployments')
    .set({ ...changes, updated_at: sql`now()` })
    .where('id', '=', guard.id)
    .where('status', '=', guard.status)
    .where('current_step', '=', guard.currentStep)
    .where((eb) =>
      guard.requestedAction === null
        ? eb('requested_action', 'is', null)
        : eb('requested_action', '=', guard.requestedAction),
    );
  if (guard.leaseOwner !== undefined) update = update.where('lease_owner', '=', guard.leaseOwner);
  return update.returningAll().executeTakeFirst();
}

/**
 * Appends a measurement to the current step's state, if the deployment is still as `guard` saw it.
 * An append in SQL, so the measurements taken so far never travel back and forth.
 */
export async function appendMeasurement(
  trx: Kysely<Database>,
  guard: DeploymentGuard,
  measurement: Record<string, unknown>,
): Promise<boolean> {
  const row = await updateDeploymentIfUnchanged(trx, guard, {
    step_state: sql`jsonb_set(step_state, '{measurements}',
      coalesce(step_state -> 'measurements', '[]'::jsonb) || jsonb_build_array(${JSON.stringify(measurement)}::jsonb))`,
  });
  return row !== undefined;
}

/** The version a service runs in an environment: its last promoted deployment's. */
export async function lastPromotedVersion(
  db: Kysely<Database>,
  where: { organizationId: string; service: string; environment: string },
): Promise<{ id: string; version: string } | undefined> {
  return db
    .selectFrom('deployments')
    .select(['id', 'version'])
    .where('organization_id', '=', where.organizationId)
    .where('service', '=', where.service)
    .where('environment', '=', where.environment)
    .where('status', '=', 'promoted')
    .orderBy('finished_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Deployments of every organization by status, with when the latest of each status finished. */
export async function deploymentStatusFigures(
  db: Kysely<Database>,
): Promise<{ status: DeploymentStatus; count: number; lastFinishedAt: Date | null }[]> {
  const rows = await db
    .selectFrom('deployments')
    .select((eb) => [
      'status',
      eb.fn.countAll<string>().as('count'),
      eb.fn.max('finished_at').as('last_finished_at'),
    ])
    .groupBy('status')
    .execute();
  return rows.map((row) => ({
    status: row.status,
    count: Number(row.count),
    lastFinishedAt: row.last_finished_at ? new Date(row.last_finished_at) : null,
  }));
}

/** The database's `now()` as a column value: a deployment's times are the database's. */
export function databaseTime(): RawBuilder<Date> {
  return sql<Date>`now()`;
}

/** `patch` merged into the row's step state in SQL, so what was appended meanwhile stays. */
export function mergedStepState(patch: Record<string, unknown>): RawBuilder<string> {
  return sql<string>`step_state || ${JSON.stringify(patch)}::jsonb`;
}

/** The deployment under way of a service in an environment (the one the partial unique index keeps alone). */
export async function findActiveDeployment(
  db: Kysely<Database>,
  key: { organizationId: string; service: string; environment: string },
): Promise<{ id: string; version: string } | undefined> {
  return db
    .selectFrom('deployments')
    .select(['id', 'version'])
    .where('organization_id', '=', key.organizationId)
    .where('service', '=', key.service)
    .where('environment', '=', key.environment)
    .where(sql<boolean>`status in ('pending', 'progressing', 'paused') or requested_action is not null`)
    .executeTakeFirst();
}

/** Reads one deployment id: whether the table answers (a self-test). */
export async function probeDeployments(db: Kysely<Database>): Promise<void> {
  await db.selectFrom('deployments').select('id').limit(1).execute();
}
