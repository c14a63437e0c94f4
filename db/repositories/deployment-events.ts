import type { Kysely } from 'kysely';
import type { DeploymentEventType, DeploymentStatus } from '../../shared/devops-deployments';
import type { Database } from '../database';
import type { DeploymentEventRow } from './deployment-events.table';

export interface NewDeploymentEvent {
  type: DeploymentEventType;
  /** With `to`: the event records a status change. */
  from?: DeploymentStatus;
  to?: DeploymentStatus;
  step?: number | null;
  details?: Record<string, unknown>;
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
