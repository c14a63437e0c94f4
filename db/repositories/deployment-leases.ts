import { type Kysely, sql } from 'kysely';
import type { DeploymentStatus } from '../../shared/devops-deployments';
import type { Database } from '../database';
import type { DeploymentRow } from './deployments.table';

/**
 * Leases on deployments: the one engine instance that may drive a deployment, until when. Times
 * are the database's, so instances' clocks do not matter; a lease that is not renewed expires and
 * any instance may take it.
 */

const expiresIn = (leaseMs: number) => sql<Date>`now() + make_interval(secs => ${leaseMs / 1000}::float8)`;

/**
 * Takes up to `limit` deployments that need driving (pending, progressing, or with an abort or
 * rollback to carry out) and whose lease is free, expired or already `owner`'s. SKIP LOCKED: two
 * instances claiming at once take different rows instead of queueing behind each other, and the
 * lease condition is checked again on the locked row, so a row is never claimed by two.
 */
export async function claimDeployments(
  db: Kysely<Database>,
  { owner, leaseMs, limit, exclude }: { owner: string; leaseMs: number; limit: number; exclude: string[] },
): Promise<DeploymentRow[]> {
  if (limit <= 0) return [];
  const claimable = sql<boolean>`(lease_owner is null or lease_owner = ${owner} or lease_expires_at < now())`;
  const drivable = sql<boolean>`(status in ('pending', 'progressing') or requested_action is not null)`;
  let candidates = db
    .selectFrom('deployments')
    .select('id')
    .where(drivable)
    .where(claimable)
    .orderBy('created_at')
    .limit(limit)
    .forUpdate()
    .skipLocked();
  if (exclude.length > 0) candidates = candidates.where('id', 'not in', exclude);
  return db
    .updateTable('deployments')
    .set({ lease_owner: owner, lease_expires_at: expiresIn(leaseMs) })
    .where('id', 'in', candidates)
    .where(drivable)
    .where(claimable)
    .returningAll()
    .execute();
}

/** What a renewal reports of each deployment still leased: enough to notice an operator's change. */
export interface LeasedState {
  id: string;
  status: DeploymentStatus;
  current_step: number;
  requested_action: 'abort' | 'rollback' | null;
}

/** Extends `owner`'s leases on `ids`; a deployment missing from the answer is no longer `owner`'s. */
export async function renewLeases(
  db: Kysely<Database>,
  { owner, ids, leaseMs }: { owner: string; ids: string[]; leaseMs: number },
): Promise<LeasedState[]> {
  if (ids.length === 0) return [];
  return db
    .updateTable('deployments')
    .set({ lease_expires_at: expiresIn(leaseMs) })
    .where('id', 'in', ids)
    .where('lease_owner', '=', owner)
    .returning(['id', 'status', 'current_step', 'requested_action'])
    .execute();
}

/** Gives up `owner`'s leases (all of them, or those on `ids`), so another instance takes over at once. */
export async function releaseLeases(db: Kysely<Database>, owner: string, ids?: string[]): Promise<void> {
  if (ids?.length === 0) return;
  let update = db
    .updateTable('deployments')
    .set({ lease_owner: null, lease_expires_at: null })
    .where('lease_owner', '=', owner);
  if (ids) update = update.where('id', 'in', ids);
  await update.execute();
}
