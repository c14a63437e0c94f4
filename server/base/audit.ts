import type { Kysely } from 'kysely';
import type { Database } from '../../db/database';
import {
  type AuditEventPage,
  insertAuditEvent,
  listAuditEvents,
  listPlatformAuditEvents,
  type NamedAuditEventRow,
} from '../../db/repositories/audit-events';
import type { AuditEventType } from '../../shared/auth';
import type { Metrics } from './metrics/metrics';

export type { AuditEventType };

/** Who did something, from where. Every field may be unknown (a failed login has no actor). */
export interface AuditActor {
  organizationId?: string | null;
  userId?: string | null;
  apiKeyId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

export interface AuditEvent {
  /**
   * 'platform' for actions on the installation (drain, maintenance, backups, key rotation,
   * organizations): kept in the platform's log, which platform roles read, and not with the
   * actor's organization (whose admins must not see them, and whose deletion must not erase them).
   * 'organization' by default.
   */
  scope?: 'organization' | 'platform';
  type: AuditEventType;
  result: 'success' | 'failure';
  actor: AuditActor;
  target?: { type: string; id: string };
  /** Extra facts (a reason, a changed role). Never secrets: no tokens, keys or passwords. */
  details?: Record<string, unknown>;
}

/**
 * Writes security events to the audit_events table and counts them in `auth_events_total`.
 * Pass the transaction that makes the change, so the event commits (or not) with it.
 */
export class AuditLog {
  constructor(private readonly metrics: Metrics) {}

  async record(db: Kysely<Database>, event: AuditEvent): Promise<void> {
    const platform = event.scope === 'platform';
    const details = platform
      ? { ...event.details, actorOrganizationId: event.actor.organizationId ?? null }
      : (event.details ?? {});
    await insertAuditEvent(db, {
      scope: platform ? 'platform' : 'organization',
      organization_id: platform ? null : (event.actor.organizationId ?? null),
      actor_user_id: event.actor.userId ?? null,
      actor_api_key_id: event.actor.apiKeyId ?? null,
      type: event.type,
      result: event.result,
      target_type: event.target?.type ?? null,
      target_id: event.target?.id ?? null,
      ip: event.actor.ip ?? null,
      // Bounded: the header is the caller's to choose.
      user_agent: event.actor.userAgent?.slice(0, 512) ?? null,
      details: JSON.stringify(details),
    });
    this.metrics.auth.events.inc({ type: event.type, result: event.result });
  }

  /**
   * An organization's events with the names of their actors and targets, newest first, one page
   * at a time (`before`: ids below it).
   */
  list(db: Kysely<Database>, organizationId: string, page: AuditEventPage): Promise<NamedAuditEventRow[]> {
    return listAuditEvents(db, organizationId, page);
  }

  /** The platform's own events (actions on the installation), newest first, one page at a time. */
  listPlatform(db: Kysely<Database>, page: AuditEventPage): Promise<NamedAuditEventRow[]> {
    return listPlatformAuditEvents(db, page);
  }
}
