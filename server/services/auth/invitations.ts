import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import {
  findInvitation,
  findInvitationByTokenHash,
  hasPendingInvitation,
  insertInvitation,
  type ListedInvitation,
  listInvitations,
  markInvitationAccepted,
  revokeInvitation,
} from '../../../db/repositories/invitations';
import type { InvitationRow } from '../../../db/repositories/invitations.table';
import { findUserByEmail, insertUser } from '../../../db/repositories/users';
import type { Role } from '../../../shared/auth';
import {
  INVITATION_DEFAULT_HOURS,
  INVITATION_MAX_HOURS,
  type InvitationStatus,
} from '../../../shared/organizations';
import { type Actor, auditActor, type RequestOrigin } from '../../base/actor';
import type { AuditActor, AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import { decodeCursor, encodeCursor, UUID } from './api-key-settings';
import { hashPassword, PasswordPolicyError, type ScryptParams } from './passwords';
import { hashSecret } from './secrets';
import { checkName, MIN_PASSWORD_LENGTH, normaliseEmail } from './user-rules';
import { toUserView, type UserView } from './user-views';

const MAX_PAGE = 100;
const TOKEN_PREFIX = 'bc_inv_';
// 32 bytes are 256 bits: 43 base64url characters.
const TOKEN = /^bc_inv_[A-Za-z0-9_-]{43}$/;

/**
 * The one answer to every token that cannot be accepted (unknown, expired, revoked, used): a
 * holder of a stale token learns nothing about which, nor whether it ever existed.
 */
const INVITATION_REFUSED = 'the invitation is not valid';

/** An invitation as the API shows it: never its token, nor the token's hash. */
export interface InvitationView {
  id: string;
  organizationId: string;
  email: string;
  role: Role;
  status: InvitationStatus;
  expiresAt: string;
  createdAt: string;
  invitedBy: string | null;
  acceptedAt: string | null;
  acceptedUserId: string | null;
  revokedAt: string | null;
}

/** A new invitation, with its token: shown this once, only its SHA-256 is kept. */
export interface IssuedInvitation {
  invitation: InvitationView;
  token: string;
}

export interface InvitationServiceOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  /** Parameters the accepting user's password is hashed with (AUTH_PASSWORD_COST sets ln). */
  passwordParams: ScryptParams;
}

/**
 * Invitations to join an organization (better-auth's organization plugin): an admin invites an
 * email with a role; whoever holds the token, shown once, becomes that user by choosing a
 * password. Every call but `accept` is confined to the actor's organization; another
 * organization's invitation answers like one that does not exist.
 */
export class InvitationService {
  private readonly database: PlatformDatabase;
  private readonly audit: AuditLog;
  private readonly passwordParams: ScryptParams;

  constructor(options: InvitationServiceOptions) {
    this.database = options.database;
    this.audit = options.audit;
    this.passwordParams = options.passwordParams;
  }

  /** Invites `email` into the actor's organization with `role`. */
  create(
    actor: Actor,
    input: { email: string; role: Role; expiresInHours?: number },
  ): Promise<IssuedInvitation> {
    return this.database.transaction((trx) =>
      this.issue(trx, {
        organizationId: actor.organizationId,
        email: input.email,
        role: input.role,
        expiresInHours: input.expiresInHours,
        invitedBy: actor.userId,
        auditActor: auditActor(actor),
      }),
    );
  }

  /**
   * Issues an invitation inside `trx`: also how a platform admin's new organization gets its
   * first admin. A taken email (users are global) or a pending invitation of the same email to
   * the same organization is CONFLICT. Audited in the organization's log.
   */
  async issue(
    trx: Kysely<Database>,
    input: {
      organizationId: string;
      email: string;
      role: Role;
      expiresInHours?: number;
      invitedBy: string | null;
      auditActor: AuditActor;
    },
  ): Promise<IssuedInvitation> {
    const email = normaliseEmail(input.email);
    const hours = input.expiresInHours ?? INVITATION_DEFAULT_HOURS;
    if (!Number.isInteger(hours) || hours < 1 || hours > INVITATION_MAX_HOURS) {
      throw new PlatformError('BAD_REQUEST', `an invitation expires in 1 to ${INVITATION_MAX_HOURS} hours`);
    }
    if (await findUserByEmail(trx, email)) {
      throw new PlatformError('CONFLICT', 'a user with this email already exists');
    }
    if (await hasPendingInvitation(trx, input.organizationId, email)) {
      throw new PlatformError('CONFLICT', 'this email has a pending invitation; revoke it to invite again');
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row = await insertInvitation(trx, {
      organizationId: input.organizationId,
      email,
      role: input.role,
      tokenHash: hashSecret(token),
      expiresInHours: hours,
      invitedBy: input.invitedBy,
    });
    await this.audit.record(trx, {
      type: 'invitation_created',
      result: 'success',
      actor: { ...input.auditActor, organizationId: input.organizationId },
      target: { type: 'invitation', id: row.id },
      details: { email, role: input.role, expiresInHours: hours },
    });
    return { invitation: toInvitationView(row), token };
  }

  /** One page of the organization's invitations, newest first, whatever their status. */
  async list(
    actor: Actor,
    { limit, cursor }: { limit: number; cursor?: string },
  ): Promise<{ items: InvitationView[]; nextCursor: string | null }> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new PlatformError('BAD_REQUEST', `limit must be a whole number from 1 to ${MAX_PAGE}`);
    }
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.database.read((db) =>
      listInvitations(db, actor.organizationId, { limit: limit + 1, after }),
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(toInvitationView),
      nextCursor: rows.length > limit && last ? encodeCursor(last.created_at_exact, last.id) : null,
    };
  }

  /** Revokes a pending (or expired) invitation; an accepted one is CONFLICT; revoking twice is a no-op. */
  async revoke(actor: Actor, invitationId: string): Promise<InvitationView> {
    if (!UUID.test(invitationId)) throw invitationNotFound();
    return this.database.transaction(async (trx) => {
      const revoked = await revokeInvitation(trx, actor.organizationId, invitationId);
      const current = await findInvitation(trx, actor.organizationId, invitationId);
      if (!current) throw invitationNotFound();
      if (!revoked) {
        if (current.accepted_at !== null) throw new PlatformError('CONFLICT', 'the invitation was accepted');
        return toInvitationView(current);
      }
      await this.audit.record(trx, {
        type: 'invitation_revoked',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'invitation', id: invitationId },
        details: { email: current.email },
      });
      return toInvitationView(current);
    });
  }

  /**
   * Accepts an invitation: creates its user, in its organization with its role, and marks it
   * used, in one transaction under the invitation's row lock (two acceptances of one token: one
   * wins). Unknown, expired, revoked and used tokens all get one UNAUTHORIZED answer; a suspended
   * organization accepts nobody (FORBIDDEN); an email taken meanwhile is CONFLICT.
   */
  async accept(
    input: { token: string; password: string; name?: string } & RequestOrigin,
  ): Promise<{ user: UserView; organizationId: string }> {
    const tokenHash = TOKEN.test(input.token) ? hashSecret(input.token) : null;
    // Checked before the password is hashed, so a wrong token costs no scrypt.
    const found = tokenHash
      ? await this.database.read((db) => findInvitationByTokenHash(db, tokenHash))
      : undefined;
    const origin = { ip: input.ip ?? null, userAgent: input.userAgent ?? null };
    const refused = refusalOf(found);
    if (refused) {
      // A known invitation's organization sees the attempt in its log; an unknown token has no
      // organization to tell.
      if (found) {
        await this.database.transaction((trx) =>
          this.audit.record(trx, {
            type: 'invitation_accepted',
            result: 'failure',
            actor: { organizationId: found.organization_id, ...origin },
            target: { type: 'invitation', id: found.id },
            details: { reason: refused.reason },
          }),
        );
      }
      throw refused.error;
    }
    const name = checkName(input.name ?? '');
    const passwordHash = await this.hashNewPassword(input.password);
    const outcome = await this.database.transaction(async (trx) => {
      const invitation = await findInvitationByTokenHash(trx, tokenHash as string, { forUpdate: true });
      // Another acceptance, a revocation or a suspension may have come in while hashing.
      const late = refusalOf(invitation);
      if (late || !invitation) throw late?.error ?? invitationRefused();
      const user = await insertUser(trx, {
        organizationId: invitation.organization_id,
        email: invitation.email,
        name,
        passwordHash,
        role: invitation.role,
      });
      if (!user) return { kind: 'taken' as const, invitation };
      await markInvitationAccepted(trx, invitation.id, user.id);
      await this.audit.record(trx, {
        type: 'invitation_accepted',
        result: 'success',
        actor: { organizationId: invitation.organization_id, userId: user.id, ...origin },
        target: { type: 'invitation', id: invitation.id },
        details: { email: invitation.email, role: invitation.role, userId: user.id },
      });
      return { kind: 'created' as const, user };
    });
    if (outcome.kind === 'taken') {
      await this.database.transaction((trx) =>
        this.audit.record(trx, {
          type: 'invitation_accepted',
          result: 'failure',
          actor: { organizationId: outcome.invitation.organization_id, ...origin },
          target: { type: 'invitation', id: outcome.invitation.id },
          details: { reason: 'email_taken' },
        }),
      );
      throw new PlatformError('CONFLICT', 'a user with this email already exists');
    }
    return { user: toUserView(outcome.user), organizationId: outcome.user.organization_id };
  }

  private async hashNewPassword(password: string): Promise<string> {
    if ([...password].length < MIN_PASSWORD_LENGTH) {
      throw new PlatformError(
        'BAD_REQUEST',
        `the password must be at least ${MIN_PASSWORD_LENGTH} characters`,
      );
    }
    try {
      return await hashPassword(password, this.passwordParams);
    } catch (error) {
      if (error instanceof PasswordPolicyError) throw new PlatformError('BAD_REQUEST', error.message);
      throw error;
    }
  }
}

/** The status an invitation shows: accepted and revoked are final; a pending one expires. */
function statusOf(row: ListedInvitation): InvitationStatus {
  if (row.accepted_at !== null) return 'accepted';
  if (row.revoked_at !== null) return 'revoked';
  return row.expired ? 'expired' : 'pending';
}

function iso(value: Date | string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

/** An invitation row as the API shows it. */
export function toInvitationView(row: ListedInvitation): InvitationView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    role: row.role,
    status: statusOf(row),
    expiresAt: new Date(row.expires_at).toISOString(),
    createdAt: row.created_at.toISOString(),
    invitedBy: row.invited_by,
    acceptedAt: iso(row.accepted_at),
    acceptedUserId: row.accepted_user_id,
    revokedAt: iso(row.revoked_at),
  };
}

/** Why an invitation cannot be accepted, and the answer the caller gets; null when it can. */
function refusalOf(
  invitation: (InvitationRow & { expired: boolean; organization_suspended_at: Date | null }) | undefined,
): { reason: string; error: PlatformError } | null {
  if (!invitation) return { reason: 'unknown', error: invitationRefused() };
  if (invitation.accepted_at !== null) return { reason: 'already_accepted', error: invitationRefused() };
  if (invitation.revoked_at !== null) return { reason: 'revoked', error: invitationRefused() };
  if (invitation.expired) return { reason: 'expired', error: invitationRefused() };
  if (invitation.organization_suspended_at !== null) {
    return {
      reason: 'organization_suspended',
      error: new PlatformError('FORBIDDEN', 'the organization is suspended'),
    };
  }
  return null;
}

function invitationRefused(): PlatformError {
  return new PlatformError('UNAUTHORIZED', INVITATION_REFUSED);
}

function invitationNotFound(): PlatformError {
  return new PlatformError('NOT_FOUND', 'no such invitation');
}
