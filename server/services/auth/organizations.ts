import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import {
  countEnabledPlatformAdmins,
  countPlatformMembers,
  deleteOrganization,
  findOrganization,
  type ListedOrganization,
  listOrganizations,
  listPlatformMembers,
  lockOrganizationRow,
  renameOrganization,
  setOrganizationSuspension,
  setPlatformRole,
} from '../../../db/repositories/organizations';
import { revokeOrganizationSessions, revokeUserSessions } from '../../../db/repositories/sessions';
import { findUserById, insertOrganization, lockPlatformBootstrap } from '../../../db/repositories/users';
import type { PlatformRole } from '../../../shared/auth';
import { type Actor, auditActor } from '../../base/actor';
import type { AuditEventType, AuditLog } from '../../base/audit';
import type { ChangeFeed } from '../../base/change-feed';
import { PlatformError } from '../../base/errors';
import { API_KEY_CHANGES, organizationChange } from './api-key-cache';
import { decodeCursor, encodeCursor, UUID } from './api-key-settings';
import type { InvitationService, IssuedInvitation } from './invitations';
import { checkOrganizationName } from './user-rules';
import { toUserView, type UserView } from './user-views';

const MAX_PAGE = 100;

/** An organization as the platform's roles see it. */
export interface OrganizationSummary {
  id: string;
  name: string;
  createdAt: string;
  suspendedAt: string | null;
  suspendedReason: string | null;
  memberCount: number;
}

/** A holder of a platform role, with the organization they belong to. */
export interface PlatformMemberView {
  userId: string;
  email: string;
  name: string;
  organizationId: string;
  organizationName: string;
  platformRole: PlatformRole;
  disabled: boolean;
}

export interface OrganizationServiceOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  /** Issues the first admin's invitation of a new organization. */
  invitations: Pick<InvitationService, 'issue'>;
  /** Tells every instance's key cache that an owner's keys changed (platform role changes). */
  apiKeys: { notifyOwnerChanged(db: Kysely<Database>, userId: string): Promise<void> };
  /** Where suspensions and deletions are announced to every instance's key cache. */
  changes: Pick<ChangeFeed, 'publish'>;
}

/**
 * The platform's authority over its tenants (Grafana's server admin beside its org admins):
 * creating organizations, renaming, suspending, resuming and deleting them, and granting the
 * platform roles. Every change is recorded in the platform's audit log. Whether the actor holds
 * the platform role is the procedure's check.
 */
export class OrganizationService {
  private readonly database: PlatformDatabase;
  private readonly audit: AuditLog;
  private readonly invitations: OrganizationServiceOptions['invitations'];
  private readonly apiKeys: OrganizationServiceOptions['apiKeys'];
  private readonly changes: OrganizationServiceOptions['changes'];

  constructor(options: OrganizationServiceOptions) {
    this.database = options.database;
    this.audit = options.audit;
    this.invitations = options.invitations;
    this.apiKeys = options.apiKeys;
    this.changes = options.changes;
  }

  /**
   * Creates an organization and the invitation of its first admin, in one transaction: an
   * organization nobody can join is never left behind. The token is in the answer only.
   */
  async create(
    actor: Actor,
    input: { name: string; admin: { email: string; expiresInHours?: number } },
  ): Promise<{ organization: OrganizationSummary } & IssuedInvitation> {
    const name = checkOrganizationName(input.name);
    return this.database.transaction(async (trx) => {
      const row = await insertOrganization(trx, name);
      const issued = await this.invitations.issue(trx, {
        organizationId: row.id,
        email: input.admin.email,
        role: 'admin',
        expiresInHours: input.admin.expiresInHours,
        invitedBy: actor.userId,
        auditActor: auditActor(actor),
      });
      await this.record(trx, actor, 'organization_created', row.id, {
        name,
        adminEmail: issued.invitation.email,
        invitationId: issued.invitation.id,
      });
      const created = await findOrganization(trx, row.id);
      if (!created) throw new Error('an organization vanished as it was created');
      return { organization: toSummary(created), ...issued };
    });
  }

  /** One page of every organization, oldest first; pass `nextCursor` back for the next one. */
  async list({
    limit,
    cursor,
  }: {
    limit: number;
    cursor?: string;
  }): Promise<{ items: OrganizationSummary[]; nextCursor: string | null }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new PlatformError('BAD_REQUEST', `limit must be a whole number from 1 to ${MAX_PAGE}`);
    }
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.database.read((db) => listOrganizations(db, { limit: limit + 1, after }));
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toSummary),
      nextCursor: rows.length > limit && last ? encodeCursor(last.created_at_exact, last.id) : null,
    };
  }

  async get(organizationId: string): Promise<OrganizationSummary> {
    const row = UUID.test(organizationId)
      ? await this.database.read((db) => findOrganization(db, organizationId))
      : undefined;
    if (!row) throw organizationNotFound();
    return toSummary(row);
  }

  async rename(actor: Actor, organizationId: string, newName: string): Promise<OrganizationSummary> {
    const name = checkOrganizationName(newName);
    return this.database.transaction(async (trx) => {
      const before = await this.lock(trx, organizationId);
      if (before.name !== name) {
        await renameOrganization(trx, organizationId, name);
        await this.record(trx, actor, 'organization_renamed', organizationId, { oldName: before.name, name });
      }
      return this.summary(trx, organizationId);
    });
  }

  /**
   * Suspends an organization: in one transaction, marks it suspended (sign-in, refresh and its
   * keys are refused from then on), revokes every session (the revocation trigger tells every
   * instance to refuse their access tokens) and tells every instance's key cache to forget its
   * keys. Suspending a suspended organization changes nothing.
   */
  async suspend(actor: Actor, organizationId: string, reason: string): Promise<OrganizationSummary> {
    return this.database.transaction(async (trx) => {
      const before = await this.lock(trx, organizationId);
      await this.assertNotPlatforms(trx, actor, organizationId, 'suspend');
      if (before.suspended_at !== null) return this.summary(trx, organizationId);
      await setOrganizationSuspension(trx, organizationId, reason);
      const revoked = await revokeOrganizationSessions(trx, {
        organizationId,
        reason: 'organization_suspended',
      });
      await this.changes.publish(trx, API_KEY_CHANGES, organizationChange(organizationId));
      await this.record(trx, actor, 'organization_suspended', organizationId, {
        reason,
        revokedSessions: revoked,
      });
      return this.summary(trx, organizationId);
    });
  }

  /** Lifts a suspension: its users sign in again, its keys work again. */
  async resume(actor: Actor, organizationId: string): Promise<OrganizationSummary> {
    return this.database.transaction(async (trx) => {
      const before = await this.lock(trx, organizationId);
      if (before.suspended_at === null) return this.summary(trx, organizationId);
      await setOrganizationSuspension(trx, organizationId, null);
      // Caches may hold its keys as DISABLED.
      await this.changes.publish(trx, API_KEY_CHANGES, organizationChange(organizationId));
      await this.record(trx, actor, 'organization_resumed', organizationId, {
        suspendedReason: before.suspended_reason,
      });
      return this.summary(trx, organizationId);
    });
  }

  /**
   * Deletes an organization and everything it owns (the foreign keys cascade: users, sessions,
   * keys, invitations, its audit log, annotations, alerts, environments, deployments). Backups
   * are the platform's and stay. Its sessions are revoked first, in the same transaction, so
   * every instance refuses their access tokens; the platform's log keeps the record.
   */
  async delete(
    actor: Actor,
    organizationId: string,
  ): Promise<{ id: string; deleted: true; members: number; revokedSessions: number }> {
    return this.database.transaction(async (trx) => {
      const before = await this.lock(trx, organizationId);
      await this.assertNotPlatforms(trx, actor, organizationId, 'delete');
      const summary = await this.summary(trx, organizationId);
      const revoked = await revokeOrganizationSessions(trx, {
        organizationId,
        reason: 'organization_deleted',
      });
      await this.changes.publish(trx, API_KEY_CHANGES, organizationChange(organizationId));
      await deleteOrganization(trx, organizationId);
      await this.record(trx, actor, 'organization_deleted', organizationId, {
        name: before.name,
        members: summary.memberCount,
        revokedSessions: revoked,
      });
      return {
        id: organizationId,
        deleted: true as const,
        members: summary.memberCount,
        revokedSessions: revoked,
      };
    });
  }

  /** Every holder of a platform role. */
  async listPlatformRoles(): Promise<PlatformMemberView[]> {
    const rows = await this.database.read((db) => listPlatformMembers(db));
    return rows.map((row) => ({
      userId: row.id,
      email: row.email,
      name: row.name,
      organizationId: row.organization_id,
      organizationName: row.organization_name,
      platformRole: row.platform_role,
      disabled: row.disabled,
    }));
  }

  /**
   * Gives a user (of any organization) a platform role, changes it or takes it away. The
   * installation always keeps one enabled platform admin. Access tokens carry the platform role,
   * so the user's sessions end with the change, as with an organization role change, and every
   * instance's key cache forgets the user's keys.
   */
  async setPlatformRole(actor: Actor, userId: string, platformRole: PlatformRole | null): Promise<UserView> {
    if (!UUID.test(userId)) throw userNotFound();
    return this.database.transaction(async (trx) => {
      // The bootstrap's lock: the first platform admin is decided under it too.
      await lockPlatformBootstrap(trx);
      const before = await findUserById(trx, userId);
      if (!before) throw userNotFound();
      if (before.platform_role === platformRole) return toUserView(before);
      if (
        before.platform_role === 'admin' &&
        !before.disabled &&
        (await countEnabledPlatformAdmins(trx)) <= 1
      ) {
        throw new PlatformError(
          'CONFLICT',
          'cannot take the platform admin role from the last enabled platform admin; make another user platform admin first',
        );
      }
      const after = await setPlatformRole(trx, userId, platformRole);
      if (!after) throw userNotFound();
      const revoked = await revokeUserSessions(trx, { userId, reason: 'platform_role_changed' });
      await this.apiKeys.notifyOwnerChanged(trx, userId);
      await this.audit.record(trx, {
        scope: 'platform',
        type: 'platform_role_changed',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'user', id: userId },
        details: {
          email: before.email,
          organizationId: before.organization_id,
          oldPlatformRole: before.platform_role,
          newPlatformRole: platformRole,
          revokedSessions: revoked,
        },
      });
      return toUserView(after);
    });
  }

  /** The organization's row, locked for the rest of the transaction; NOT_FOUND when absent. */
  private async lock(trx: Kysely<Database>, organizationId: string) {
    const row = UUID.test(organizationId) ? await lockOrganizationRow(trx, organizationId) : undefined;
    if (!row) throw organizationNotFound();
    return row;
  }

  private async summary(trx: Kysely<Database>, organizationId: string): Promise<OrganizationSummary> {
    const row = await findOrganization(trx, organizationId);
    if (!row) throw organizationNotFound();
    return toSummary(row);
  }

  /**
   * The platform's own organization stays: nobody suspends or deletes the organization they
   * belong to (they would lock themselves out), nor one whose members hold platform roles (the
   * installation's operators would lose their access with it).
   */
  private async assertNotPlatforms(
    trx: Kysely<Database>,
    actor: Actor,
    organizationId: string,
    action: 'suspend' | 'delete',
  ): Promise<void> {
    if (organizationId.toLowerCase() === actor.organizationId.toLowerCase()) {
      throw new PlatformError('BAD_REQUEST', `you cannot ${action} the organization you belong to`);
    }
    if ((await countPlatformMembers(trx, organizationId)) > 0) {
      throw new PlatformError(
        'CONFLICT',
        `cannot ${action} an organization whose members hold platform roles; take their platform roles away first`,
      );
    }
  }

  private record(
    trx: Kysely<Database>,
    actor: Actor,
    type: AuditEventType,
    organizationId: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    return this.audit.record(trx, {
      scope: 'platform',
      type,
      result: 'success',
      actor: auditActor(actor),
      target: { type: 'organization', id: organizationId },
      details,
    });
  }
}

function iso(value: Date | string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

function toSummary(row: ListedOrganization): OrganizationSummary {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at.toISOString(),
    suspendedAt: iso(row.suspended_at),
    suspendedReason: row.suspended_reason,
    memberCount: row.member_count,
  };
}

function organizationNotFound(): PlatformError {
  return new PlatformError('NOT_FOUND', 'no such organization');
}

function userNotFound(): PlatformError {
  return new PlatformError('NOT_FOUND', 'no such user');
}
