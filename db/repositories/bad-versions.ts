import type { Kysely } from 'kysely';
import type { Database } from '../database';
import type { BadVersionRow } from './bad-versions.table';

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
