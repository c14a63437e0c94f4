import type { Insertable, Kysely } from 'kysely';
import type { AuditEventType } from '../../shared/auth';
import type { Database } from '../database';
import type { AuditEventRow, AuditEventsTable } from './audit-events.table';

/**
 * A page of the audit log: newest first, `before` an id to continue below; the filters narrow it
 * to one type, one actor (a user or an API key) and a time range (`since` included, `until` not).
 */
export interface AuditEventPage {
  limit: number;
  before?: string;
  type?: AuditEventType;
  actorUserId?: string;
  actorApiKeyId?: string;
  since?: Date;
  until?: Date;
}

/**
 * An event with the names of who did it and what it was done to, as they are now (null when the
 * user, key or object is gone, or is not the organization's).
 */
export interface NamedAuditEventRow extends AuditEventRow {
  actor_name: string | null;
  actor_email: string | null;
  actor_api_key_name: string | null;
  target_user_name: string | null;
  target_user_email: string | null;
  target_api_key_name: string | null;
  target_environment_name: string | null;
  target_deployment_service: string | null;
  target_deployment_version: string | null;
  target_organization_name: string | null;
}

/** Writes one event; through the transaction that makes the change, it commits (or not) with it. */
export async function insertAuditEvent(
  db: Kysely<Database>,
  row: Insertable<AuditEventsTable>,
): Promise<void> {
  await db.insertInto('audit_events').values(row).execute();
}

/** An organization's events, newest first, one page at a time (`before`: ids below it). */
export function listAuditEvents(
  db: Kysely<Database>,
  organizationId: string,
  page: AuditEventPage,
): Promise<NamedAuditEventRow[]> {
  return namedEvents(db, organizationId, page)
    .where('audit_events.organization_id', '=', organizationId)
    .where('audit_events.scope', '=', 'organization')
    .execute();
}

/** The platform's own events (actions on the installation), newest first, one page at a time. */
export function listPlatformAuditEvents(
  db: Kysely<Database>,
  page: AuditEventPage,
): Promise<NamedAuditEventRow[]> {
  return namedEvents(db, null, page).where('audit_events.scope', '=', 'platform').execute();
}

/**
 * The page's events with names joined in. `organizationId` bounds every name to that
 * organization's rows, so an organization's log never shows another one's names even if an id
 * of theirs were recorded in it; null (the platform's log) names rows of every organization.
 * Target ids are text (some are not UUIDs, such as a signing key's kid), so the joined table's
 * id is compared as text.
 */
function namedEvents(db: Kysely<Database>, organizationId: string | null, page: AuditEventPage) {
  // Each join is bounded to the organization's rows, unless this is the platform's log.
  const bound = organizationId !== null;
  const organization = organizationId ?? '';
  let query = db
    .selectFrom('audit_events')
    .leftJoin('users as actor', (join) =>
      join
        .onRef('actor.id', '=', 'audit_events.actor_user_id')
        .$call((on) => (bound ? on.on('actor.organization_id', '=', organization) : on)),
    )
    .leftJoin('api_keys as actor_key', (join) =>
      join
        .onRef('actor_key.id', '=', 'audit_events.actor_api_key_id')
        .$call((on) => (bound ? on.on('actor_key.organization_id', '=', organization) : on)),
    )
    .leftJoin('users as target_user', (join) =>
      join
        .on('audit_events.target_type', '=', 'user')
        .on((eb) => eb(eb.cast('target_user.id', 'text'), '=', eb.ref('audit_events.target_id')))
        .$call((on) => (bound ? on.on('target_user.organization_id', '=', organization) : on)),
    )
    .leftJoin('api_keys as target_key', (join) =>
      join
        .on('audit_events.target_type', '=', 'api_key')
        .on((eb) => eb(eb.cast('target_key.id', 'text'), '=', eb.ref('audit_events.target_id')))
        .$call((on) => (bound ? on.on('target_key.organization_id', '=', organization) : on)),
    )
    .leftJoin('environments as target_environment', (join) =>
      join
        .on('audit_events.target_type', '=', 'environment')
        .on((eb) => eb(eb.cast('target_environment.id', 'text'), '=', eb.ref('audit_events.target_id')))
        .$call((on) => (bound ? on.on('target_environment.organization_id', '=', organization) : on)),
    )
    .leftJoin('deployments as target_deployment', (join) =>
      join
        .on('audit_events.target_type', '=', 'deployment')
        .on((eb) => eb(eb.cast('target_deployment.id', 'text'), '=', eb.ref('audit_events.target_id')))
        .$call((on) => (bound ? on.on('target_deployment.organization_id', '=', organization) : on)),
    )
    .leftJoin('organizations as target_organization', (join) =>
      join
        .on('audit_events.target_type', '=', 'organization')
        .on((eb) => eb(eb.cast('target_organization.id', 'text'), '=', eb.ref('audit_events.target_id')))
        .$call((on) => (bound ? on.on('target_organization.id', '=', organization) : on)),
    )
    .selectAll('audit_events')
    .select([
      'actor.name as actor_name',
      'actor.email as actor_email',
      'actor_key.name as actor_api_key_name',
      'target_user.name as target_user_name',
      'target_user.email as target_user_email',
      'target_key.name as target_api_key_name',
      'target_environment.name as target_environment_name',
      'target_deployment.service as target_deployment_service',
      'target_deployment.version as target_deployment_version',
      'target_organization.name as target_organization_name',
    ])
    .orderBy('audit_events.id', 'desc')
    .limit(page.limit);
  if (page.before) query = query.where('audit_events.id', '<', page.before);
  if (page.type) query = query.where('audit_events.type', '=', page.type);
  if (page.actorUserId) query = query.where('audit_events.actor_user_id', '=', page.actorUserId);
  if (page.actorApiKeyId) query = query.where('audit_events.actor_api_key_id', '=', page.actorApiKeyId);
  if (page.since) query = query.where('audit_events.created_at', '>=', page.since);
  if (page.until) query = query.where('audit_events.created_at', '<', page.until);
  return query;
}
