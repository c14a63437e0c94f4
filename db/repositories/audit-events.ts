import type { Insertable, Kysely } from 'kysely';
import type { AuditEventType } from '../../shared/auth';
import type { Database } from '../database';
import type { AuditEventRow, AuditEventsTable } from './audit-events.table';

/** A page of the audit log: newest first, `before` an id to continue below, `type` to filter on. */
export interface AuditEventPage {
  limit: number;
  before?: string;
  type?: AuditEventType;
}

/** Writes one event; through the transaction that makes the change, it commits (or not) with it. */
export async function insertAuditEvent(
  db: Kysely<Database>,
  row: Insertable<AuditEventsTable>,
): Promise<void> {
  await db.insertInto('audit_events').values(row).execute();
}

/** An organization's events, newest first, one page at a time (`before`: ids below it). */
export async function listAuditEvents(
  db: Kysely<Database>,
  organizationId: string,
  { limit, before, type }: AuditEventPage,
): Promise<AuditEventRow[]> {
  let query = db
    .selectFrom('audit_events')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .where('scope', '=', 'organization')
    .orderBy('id', 'desc')
    .limit(limit);
  if (before) query = query.where('id', '<', before);
  if (type) query = query.where('type', '=', type);
  return query.execute();
}

/** The platform's own events (actions on the installation), newest first, one page at a time. */
export async function listPlatformAuditEvents(
  db: Kysely<Database>,
  { limit, before, type }: AuditEventPage,
): Promise<AuditEventRow[]> {
  let query = db
    .selectFrom('audit_events')
    .selectAll()
    .where('scope', '=', 'platform')
    .orderBy('id', 'desc')
    .limit(limit);
  if (before) query = query.where('id', '<', before);
  if (type) query = query.where('type', '=', type);
  return query.execute();
}
