import { type Insertable, type Kysely, sql, type UpdateObject } from 'kysely';
import type {
  BadVersionRow,
  Database,
  DeploymentEventRow,
  DeploymentRow,
  DeploymentsTable,
} from '../../../db/database';
import type { DeploymentEventType, DeploymentStatus } from '../../../shared/devops-deployments';

/** SQL of the deployment tables; every function takes the connection or transaction to run on. */

export interface NewDeploymentEvent {
  type: DeploymentEventType;
  /** With `to`: the event records a status change. */
  from?: DeploymentStatus;
  to?: DeploymentStatus;
  step?: number | null;
  details?: Record<string, unknown>;
}

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

/** A deployment's events in order; the latest `limit` of them. */
export async function listDeploymentEvents(
  db: Kysely<Database>,
  deploymentId: string,
  limit: number,
): Promise<DeploymentEventRow[]> {
  const rows = await db
    .selectFrom('deployment_events')
    .selectAll()
    .where('deployment_id', '=', deploymentId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.reverse();
}

export async function insertDeploymentEvents(
  db: Kysely<Database>,
  deploymentId: string,
  events: NewDeploymentEvent[],
): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('deployment_events')
    .values(
      events.map((event) => ({
        deployment_id: deploymentId,
        type: event.type,
        from_status: event.from ?? null,
        to_status: event.to ?? null,
        step: event.step ?? null,
        details: JSON.stringify(event.details ?? {}),
      })),
    )
    .execute();
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

export interface VersionKey {
  organizationId: string;
  service: string;
  environment: string;
  version: string;
}

export async function findBadVersion(
  db: Kysely<Database>,
  key: VersionKey,
): Promise<BadVersionRow | undefined> {
  return db
    .selectFrom('bad_versions')
    .selectAll()
    .where('organization_id', '=', key.organizationId)
    .where('service', '=', key.service)
    .where('environment', '=', key.environment)
    .where('version', '=', key.version)
    .executeTakeFirst();
}

/** Marks a version bad; the first reason stays if it already was. Returns whether it is newly bad. */
export async function markVersionBad(
  db: Kysely<Database>,
  key: VersionKey & { reason: string; deploymentId: string },
): Promise<boolean> {
  const inserted = await db
    .insertInto('bad_versions')
    .values({
      organization_id: key.organizationId,
      service: key.service,
      environment: key.environment,
      version: key.version,
      reason: key.reason,
      deployment_id: key.deploymentId,
    })
    .onConflict((oc) => oc.columns(['organization_id', 'service', 'environment', 'version']).doNothing())
    .returning('version')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** The database's clock, which every instance shares: leases and pauses are measured by it. */
export async function databaseNow(db: Kysely<Database>): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`select now() as now`.execute(db);
  return (rows[0] as { now: Date }).now;
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
