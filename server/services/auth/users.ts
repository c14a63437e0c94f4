import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import { countEnabledPlatformAdmins } from '../../../db/repositories/organizations';
import { revokeUserSessions } from '../../../db/repositories/sessions';
import {
  countEnabledAdmins,
  deleteUserWithoutPlatformRole,
  findUserByEmail,
  findUserById,
  findUserInOrganization,
  hasAnyUser,
  hasPlatformAdmin,
  insertOrganization,
  insertUser,
  listUsersInOrganization,
  lockOrganization,
  lockPlatformBootstrap,
  replacePasswordHash,
  updateUser,
} from '../../../db/repositories/users';
import type { UserRow } from '../../../db/repositories/users.table';
import type { Role } from '../../../shared/auth';
import { type Page, pageOf } from '../../../shared/pagination';
import { type Actor, auditActor, type RequestOrigin } from '../../base/actor';
import type { AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import type { UserPrincipal } from '../../base/principal';
import { accountKey, type LoginThrottle } from './login-throttle';
import { hashPassword, PasswordPolicyError, type ScryptParams, verifyPassword } from './passwords';
import {
  checkName,
  checkOrganizationName,
  decodeCursor,
  encodeCursor,
  MIN_PASSWORD_LENGTH,
  normaliseEmail,
} from './user-rules';
import { type OrganizationView, toOrganizationView, toUserView, type UserView } from './user-views';

const MAX_PAGE = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface UserServiceOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  /** Parameters new hashes are made with (AUTH_PASSWORD_COST sets ln). */
  passwordParams: ScryptParams;
  /**
   * Throttles wrong current passwords in `changePassword`, so a stolen access token cannot be
   * used to guess the password; shares its counts with login.
   */
  throttle?: LoginThrottle;
  /**
   * Told after a user is disabled or their role changes (API-key caches drop the user's keys).
   * Called once the change has committed; an error it throws reaches the caller all the same.
   */
  onUserChanged?: (userId: string) => Promise<void> | void;
}

/**
 * Users of an organization: creation, listing, role changes, disabling, password changes and
 * the bootstrap admin. Every call is confined to the actor's organization; an id from another
 * one is answered exactly like an id that does not exist. Whether the actor may do it at all
 * (admin only) is the procedure's check.
 */
export class UserService {
  private readonly database: PlatformDatabase;
  private readonly audit: AuditLog;
  private readonly passwordParams: ScryptParams;
  private readonly throttle: LoginThrottle | undefined;
  private readonly onUserChanged: UserServiceOptions['onUserChanged'];

  constructor(options: UserServiceOptions) {
    this.database = options.database;
    this.audit = options.audit;
    this.passwordParams = options.passwordParams;
    this.throttle = options.throttle;
    this.onUserChanged = options.onUserChanged;
  }

  async createOrganization(name: string): Promise<OrganizationView> {
    const organizationName = checkOrganizationName(name);
    const row = await this.database.transaction((trx) => insertOrganization(trx, organizationName));
    return toOrganizationView(row);
  }

  /** Creates a user in the actor's organization; a taken email (in any organization) is CONFLICT. */
  async create(
    actor: Actor,
    input: { email: string; password: string; name?: string; role: Role },
  ): Promise<UserView> {
    const email = normaliseEmail(input.email);
    const name = checkName(input.name ?? '');
    const passwordHash = await this.hashNewPassword(input.password);
    const row = await this.database.transaction(async (trx) => {
      const inserted = await insertUser(trx, {
        organizationId: actor.organizationId,
        email,
        name,
        passwordHash,
        role: input.role,
      });
      if (!inserted) return undefined;
      await this.audit.record(trx, {
        type: 'user_created',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'user', id: inserted.id },
        details: { email, role: input.role },
      });
      return inserted;
    });
    if (!row) throw new PlatformError('CONFLICT', 'a user with this email already exists');
    return toUserView(row);
  }

  /** One page of the organization's users by email; pass `nextCursor` back for the next one. */
  async list(actor: Actor, { limit, cursor }: { limit: number; cursor?: string }): Promise<Page<UserView>> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new PlatformError('BAD_REQUEST', `limit must be a whole number from 1 to ${MAX_PAGE}`);
    }
    const afterEmail = cursor === undefined ? undefined : decodeCursor(cursor);
    // One more than asked tells whether another page exists without a count.
    const rows = await this.database.read((db) =>
      listUsersInOrganization(db, actor.organizationId, { limit: limit + 1, afterEmail }),
    );
    return pageOf(rows, limit, toUserView, (row) => encodeCursor(row.email));
  }

  /** Whether any user exists: a fresh installation has none until the first admin is made. */
  anyUser(): Promise<boolean> {
    return this.database.read((db) => hasAnyUser(db));
  }

  async get(actor: Actor, userId: string): Promise<UserView> {
    return toUserView(await this.database.read((db) => this.findInOrganization(db, actor, userId)));
  }

  /** Renames a user or changes their role; the last enabled admin cannot be demoted. */
  async update(actor: Actor, userId: string, changes: { name?: string; role?: Role }): Promise<UserView> {
    const name = changes.name === undefined ? undefined : checkName(changes.name);
    const { row, roleChanged } = await this.database.transaction(async (trx) => {
      if (changes.role !== undefined) await lockOrganization(trx, actor.organizationId);
      const before = await this.findInOrganization(trx, actor, userId);
      const newRole = changes.role !== undefined && changes.role !== before.role ? changes.role : undefined;
      const newName = name !== undefined && name !== before.name ? name : undefined;
      if (newRole === undefined && newName === undefined) return { row: before, roleChanged: false };
      if (newRole !== undefined && before.role === 'admin' && !before.disabled) {
        await this.assertAnotherAdmin(trx, actor.organizationId, 'demote');
      }
      const after = await updateUser(trx, userId, { name: newName, role: newRole });
      const target = { type: 'user', id: userId };
      if (newRole !== undefined) {
        // Access tokens carry the role: the user's sessions end with the change, so a demoted
        // admin's token is refused on every instance (the revocation trigger and the change
        // feed) instead of acting with the old role until it expires. They sign in again.
        const revoked = await revokeUserSessions(trx, { userId, reason: 'role_changed' });
        await this.audit.record(trx, {
          type: 'role_changed',
          result: 'success',
          actor: auditActor(actor),
          target,
          details: { oldRole: before.role, newRole, revokedSessions: revoked },
        });
      }
      if (newName !== undefined) {
        await this.audit.record(trx, {
          type: 'user_updated',
          result: 'success',
          actor: auditActor(actor),
          target,
          details: { changed: ['name'] },
        });
      }
      return { row: after, roleChanged: newRole !== undefined };
    });
    if (roleChanged) await this.onUserChanged?.(userId);
    return toUserView(row);
  }

  /**
   * Disables a user and revokes all their sessions in the same transaction. Nobody disables
   * themselves, and the organization always keeps one enabled admin.
   */
  async disable(actor: Actor, userId: string): Promise<UserView> {
    if (UUID.test(userId) && userId.toLowerCase() === actor.userId.toLowerCase()) {
      throw new PlatformError('BAD_REQUEST', 'you cannot disable your own account');
    }
    const { row, changed } = await this.database.transaction(async (trx) => {
      await lockOrganization(trx, actor.organizationId);
      const before = await this.findInOrganization(trx, actor, userId);
      if (before.disabled) return { row: before, changed: false };
      if (before.role === 'admin') await this.assertAnotherAdmin(trx, actor.organizationId, 'disable');
      if (before.platform_role === 'admin') {
        // The installation always keeps one enabled platform admin (the lock that grants platform roles).
        await lockPlatformBootstrap(trx);
        if ((await countEnabledPlatformAdmins(trx)) <= 1) {
          throw new PlatformError(
            'CONFLICT',
            'cannot disable the last enabled platform admin; make another user platform admin first',
          );
        }
      }
      const after = await updateUser(trx, userId, { disabled: true });
      const revoked = await revokeUserSessions(trx, { userId, reason: 'user_disabled' });
      await this.audit.record(trx, {
        type: 'user_disabled',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'user', id: userId },
        details: { revokedSessions: revoked },
      });
      return { row: after, changed: true };
    });
    if (changed) await this.onUserChanged?.(userId);
    return toUserView(row);
  }

  /**
   * Removes a member of the actor's organization: deletes the user, whose sessions, refresh
   * tokens and API keys go with them. Their sessions are revoked first, in the same transaction,
   * so the revocation trigger tells every instance to refuse their access tokens. Nobody removes
   * themselves, the organization keeps one enabled admin, and a holder of a platform role is
   * the platform's to demote first.
   */
  async remove(actor: Actor, userId: string): Promise<{ id: string; revokedSessions: number }> {
    if (UUID.test(userId) && userId.toLowerCase() === actor.userId.toLowerCase()) {
      throw new PlatformError('BAD_REQUEST', 'you cannot remove your own account');
    }
    const revoked = await this.database.transaction(async (trx) => {
      await lockOrganization(trx, actor.organizationId);
      const before = await this.findInOrganization(trx, actor, userId);
      if (before.platform_role !== null) throw holdsPlatformRole();
      if (before.role === 'admin' && !before.disabled) {
        await this.assertAnotherAdmin(trx, actor.organizationId, 'remove');
      }
      const count = await revokeUserSessions(trx, { userId, reason: 'user_removed' });
      // Refuses, rather than deletes, a user granted a platform role since the read above.
      if (!(await deleteUserWithoutPlatformRole(trx, actor.organizationId, userId)))
        throw holdsPlatformRole();
      await this.audit.record(trx, {
        type: 'user_removed',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'user', id: userId },
        details: { email: before.email, role: before.role, revokedSessions: count },
      });
      return count;
    });
    await this.onUserChanged?.(userId);
    return { id: userId, revokedSessions: revoked };
  }

  /**
   * Changes the caller's own password after checking the current one, and revokes every other
   * session of theirs (ASVS 5.0 V7.4.3): whoever else held one loses it, the caller stays signed in.
   */
  async changePassword(
    principal: UserPrincipal & RequestOrigin,
    { currentPassword, newPassword }: { currentPassword: string; newPassword: string },
  ): Promise<{ revokedSessions: number }> {
    const user = await this.database.read((db) => findUserById(db, principal.userId));
    if (!user || user.disabled) throw new PlatformError('UNAUTHORIZED', 'the session has ended');
    const key = accountKey(user.email);
    const decision = await this.throttle?.check([key]);
    if (decision && !decision.allowed) {
      throw new PlatformError('TOO_MANY_REQUESTS', 'too many failed attempts; try again later', {
        'Retry-After': String(decision.retryAfterSeconds),
      });
    }
    const check = await verifyPassword(currentPassword, user.password_hash, this.passwordParams);
    if (!check.ok) {
      await this.throttle?.recordFailure([key]);
      await this.database.transaction((trx) =>
        this.audit.record(trx, {
          type: 'password_changed',
          result: 'failure',
          actor: auditActor(principal),
          target: { type: 'user', id: user.id },
          details: { reason: 'wrong_current_password' },
        }),
      );
      throw new PlatformError('BAD_REQUEST', 'the current password is not correct');
    }
    const hash = await this.hashNewPassword(newPassword);
    const revoked = await this.database.transaction(async (trx) => {
      const replaced = await replacePasswordHash(trx, user.id, {
        hash,
        previousHash: user.password_hash,
        passwordChanged: true,
      });
      if (!replaced) return undefined;
      const count = await revokeUserSessions(trx, {
        userId: user.id,
        reason: 'password_changed',
        exceptSessionId: principal.sessionId,
      });
      await this.audit.record(trx, {
        type: 'password_changed',
        result: 'success',
        actor: auditActor(principal),
        target: { type: 'user', id: user.id },
        details: { revokedSessions: count },
      });
      return count;
    });
    if (revoked === undefined) {
      throw new PlatformError('CONFLICT', 'the password was changed by another request; sign in again');
    }
    await this.throttle?.recordSuccess(key);
    return { revokedSessions: revoked };
  }

  /**
   * Creates the first admin (ADMIN_EMAIL, ADMIN_PASSWORD) with an organization of its own, unless a
   * user with that email exists. Safe for instances starting together: the loser of the race on
   * the unique email finds the winner's user.
   */
  async ensureAdmin(input: {
    email: string;
    password: string;
    organizationName: string;
  }): Promise<{ created: boolean; userId: string }> {
    const email = normaliseEmail(input.email);
    const organizationName = checkOrganizationName(input.organizationName);
    const existing = await this.database.read((db) => findUserByEmail(db, email));
    if (existing) return { created: false, userId: existing.id };
    const passwordHash = await this.hashNewPassword(input.password);
    const createdId = await this.database
      .transaction(async (trx) => {
        // The installation's first admin holds it (the platform admin role); any later bootstrap
        // admin (another ADMIN_EMAIL on a restart) is only its own organization's admin.
        await lockPlatformBootstrap(trx);
        const platformRole = (await hasPlatformAdmin(trx)) ? null : ('admin' as const);
        const organization = await insertOrganization(trx, organizationName);
        const user = await insertUser(trx, {
          organizationId: organization.id,
          email,
          name: '',
          passwordHash,
          role: 'admin',
          platformRole,
        });
        if (!user) {
          // Roll the organization back with the lost race.
          throw new EmailTakenDuringBootstrap();
        }
        await this.audit.record(trx, {
          type: 'user_created',
          result: 'success',
          actor: { organizationId: organization.id },
          target: { type: 'user', id: user.id },
          details: { email, role: 'admin', platformRole, bootstrap: true },
        });
        return user.id;
      })
      .catch((error) => {
        if (error instanceof EmailTakenDuringBootstrap) return undefined;
        throw error;
      });
    if (createdId) return { created: true, userId: createdId };
    const winner = await this.database.read((db) => findUserByEmail(db, email));
    if (!winner) throw new Error('the bootstrap admin vanished while being created');
    return { created: false, userId: winner.id };
  }

  private async findInOrganization(db: Kysely<Database>, actor: Actor, userId: string): Promise<UserRow> {
    // A malformed id would make PostgreSQL fail the uuid cast: answer it like an unknown one.
    const row = UUID.test(userId)
      ? await findUserInOrganization(db, actor.organizationId, userId)
      : undefined;
    if (!row) throw new PlatformError('NOT_FOUND', 'no such user');
    return row;
  }

  /** Called under the organization's lock, so two admins cannot demote each other at once. */
  private async assertAnotherAdmin(
    db: Kysely<Database>,
    organizationId: string,
    action: 'demote' | 'disable' | 'remove',
  ): Promise<void> {
    if ((await countEnabledAdmins(db, organizationId)) <= 1) {
      throw new PlatformError(
        'CONFLICT',
        `cannot ${action} the last enabled admin of the organization; make another user admin first`,
      );
    }
  }

  private async hashNewPassword(password: string): Promise<string> {
    if (typeof password === 'string' && [...password].length < MIN_PASSWORD_LENGTH) {
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

class EmailTakenDuringBootstrap extends Error {}

function holdsPlatformRole(): PlatformError {
  return new PlatformError(
    'CONFLICT',
    'the user holds a platform role; a platform admin must take it away before the user is removed',
  );
}
