import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import {
  findUserSession,
  insertRefreshToken,
  insertSession,
  isSessionActive,
  listActiveSessions,
  revokeSession,
  revokeUserSessions,
  sessionsRevokedSince,
} from '../../../db/repositories/sessions';
import {
  findUserByEmail,
  isOrganizationSuspended,
  replacePasswordHash,
} from '../../../db/repositories/users';
import { auditActor, type RequestOrigin } from '../../base/actor';
import type { AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import type { Principal, UserPrincipal } from '../../base/principal';
import { accountKey, ipKey, type LoginThrottle } from './login-throttle';
import { dummyVerify, hashPassword, type ScryptParams, verifyPassword } from './passwords';
import { decideRefresh } from './refresh-tokens';
import type { SecondFactorGate } from './second-factors';
import { generateRefreshToken, parseRefreshToken } from './secrets';
import type {
  AccessTokenSigner,
  IssuedSession,
  SessionView,
  SignInChallenge,
  SignInResult,
} from './session-types';
import { canonicalEmail } from './user-rules';
import { toUserView, type UserView } from './user-views';

export interface SessionServiceOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  signer: AccessTokenSigner;
  throttle: LoginThrottle;
  /** Current hashing parameters: unknown emails cost the same, older hashes are upgraded on login. */
  passwordParams: ScryptParams;
  /** AUTH_REFRESH_GRACE_SECONDS: how long the parent of the current token still returns it. */
  graceSeconds: number;
  /** AUTH_SESSION_LIFETIME_HOURS: absolute end of a session, counted from the login. */
  lifetimeHours: number;
  /** AUTH_SESSION_IDLE_HOURS: a session not refreshed for this long ends. */
  idleHours: number;
  /** 32 secret bytes from which each child refresh token is derived (see `deriveChildRefreshToken`). */
  refreshDerivationKey: Uint8Array;
  /** Decides whether a valid password is followed by a second step; none: never. */
  factors?: SecondFactorGate;
}

/**
 * RFC 8176 method names: a password, a one-time password (TOTP or a recovery code), a passkey,
 * and `mfa` beside `hwk` for a passkey verified by its own PIN or biometric (passwordless).
 */
export type AuthMethod = 'pwd' | 'otp' | 'hwk' | 'mfa';

// Every refused refresh gets this one answer: which check failed is for the audit log only.
const REFRESH_REFUSED = 'the refresh token is invalid or the session has ended';
const LOGIN_REFUSED = 'invalid email or password';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOOKS_LIKE_EMAIL = /^[^\s@]{1,64}@[^\s@]{1,189}$/;
const MAX_USER_AGENT = 512;

/**
 * Logins, and sessions kept alive by rotating refresh tokens (RFC 9700 §4.14.2; Supabase Auth's
 * scheme): each refresh token is used once, its child replaces it, and presenting a used token
 * again outside the grace window revokes the whole family, as it means two parties hold it.
 */
export class SessionService {
  private readonly options: SessionServiceOptions;

  constructor(options: SessionServiceOptions) {
    if (options.refreshDerivationKey.length !== 32) {
      throw new Error('the refresh derivation key must be 32 bytes');
    }
    for (const name of ['lifetimeHours', 'idleHours'] as const) {
      if (!Number.isInteger(options[name]) || options[name] < 1) throw new RangeError(`${name} must be ≥ 1`);
    }
    if (!Number.isFinite(options.graceSeconds) || options.graceSeconds < 0) {
      throw new RangeError('graceSeconds must be 0 or more');
    }
    this.options = options;
  }

  /**
   * `signIn` for accounts that sign in with a password alone (scripts, tests): an account that
   * must take a second step is refused here.
   */
  async login(input: {
    email: string;
    password: string;
    ip?: string | null;
    userAgent?: string | null;
    now?: Date;
  }): Promise<IssuedSession> {
    const result = await this.signIn(input);
    if (result.kind === 'challenge') {
      throw new PlatformError('UNAUTHORIZED', 'this account signs in with a second factor');
    }
    return result.issued;
  }

  /**
   * Checks an email and password and opens a session, or, when the user has a second factor (or
   * their organization requires one they lack), answers a challenge for the second step instead.
   * An unknown email, a wrong password and a disabled user get the same answer at the same cost;
   * a throttled key is refused before any hashing, so a locked account costs no CPU.
   */
  async signIn(input: {
    email: string;
    password: string;
    ip?: string | null;
    userAgent?: string | null;
    now?: Date;
  }): Promise<SignInResult> {
    const { database, audit, throttle, passwordParams } = this.options;
    const email = canonicalEmail(input.email);
    const origin = { ip: input.ip ?? null, userAgent: input.userAgent?.slice(0, MAX_USER_AGENT) ?? null };
    const account = accountKey(email);
    const keys = input.ip ? [account, ipKey(input.ip)] : [account];

    const decision = await throttle.check(keys, input.now);
    if (!decision.allowed) {
      await this.recordLoginFailure(email, origin, 'throttled');
      throw new PlatformError('TOO_MANY_REQUESTS', 'too many failed sign-in attempts; try again later', {
        'Retry-After': String(decision.retryAfterSeconds),
      });
    }

    const user = await database.read((db) => findUserByEmail(db, email));
    const check = user
      ? await verifyPassword(input.password, user.password_hash, passwordParams)
      : await dummyVerify(input.password, passwordParams);
    // Same answer as a wrong password: a suspended tenant's users learn nothing more from sign-in.
    const suspended =
      user !== undefined &&
      check.ok &&
      (await database.read((db) => isOrganizationSuspended(db, user.organization_id)));
    if (!user || !check.ok || user.disabled || suspended) {
      await throttle.recordFailure(keys, input.now);
      const reason = !user
        ? 'unknown_email'
        : !check.ok
          ? 'wrong_password'
          : user.disabled
            ? 'user_disabled'
            : 'organization_suspended';
      await this.recordLoginFailure(email, origin, reason, user);
      throw new PlatformError('UNAUTHORIZED', LOGIN_REFUSED);
    }
    await throttle.recordSuccess(account);

    // Hashed before the transaction: a slow hash must not hold a connection and its locks.
    const upgradedHash = check.needsRehash ? await hashPassword(input.password, passwordParams) : undefined;
    const step = (await this.options.factors?.stepAfterPassword(user)) ?? null;
    const outcome = await database.transaction(async (trx) => {
      const rehashed =
        upgradedHash !== undefined &&
        (await replacePasswordHash(trx, user.id, {
          hash: upgradedHash,
          previousHash: user.password_hash,
          passwordChanged: false,
        }));
      const details = rehashed ? { passwordRehashed: true } : {};
      if (step !== null && this.options.factors) {
        const challenge = await this.options.factors.openChallenge(trx, user, step);
        await audit.record(trx, {
          type: 'login',
          result: 'success',
          actor: { organizationId: user.organization_id, userId: user.id, ...origin },
          target: { type: 'user', id: user.id },
          details: { ...details, secondStep: step },
        });
        return { kind: 'challenge' as const, challenge };
      }
      const opened = await this.openSession(trx, { user, origin, amr: ['pwd'], now: input.now });
      await audit.record(trx, {
        type: 'login',
        result: 'success',
        actor: { organizationId: user.organization_id, userId: user.id, ...origin },
        target: { type: 'session', id: opened.sessionId },
        details,
      });
      return { kind: 'session' as const, opened };
    });
    if (outcome.kind === 'challenge') return outcome;
    return { kind: 'session', issued: await this.issue({ userView: toUserView(user), ...outcome.opened }) };
  }

  /**
   * Opens a session (and its first refresh token) for a user who has proven who they are, `amr`
   * saying how; the caller audits it in the same transaction and then calls `issue`.
   */
  async openSession(
    trx: Kysely<Database>,
    {
      user,
      origin,
      amr,
      now,
    }: {
      user: { id: string; organization_id: string };
      origin: RequestOrigin;
      amr: AuthMethod[];
      now?: Date;
    },
  ): Promise<OpenedSession> {
    const session = await insertSession(trx, {
      userId: user.id,
      organizationId: user.organization_id,
      ip: origin.ip ?? null,
      userAgent: origin.userAgent ?? null,
      lifetimeHours: this.options.lifetimeHours,
      amr,
      at: now,
    });
    const refresh = generateRefreshToken();
    await insertRefreshToken(trx, {
      sessionId: session.id,
      tokenHash: refresh.hash,
      parentId: null,
      at: now,
    });
    return {
      sessionId: session.id,
      sessionExpiresAt: new Date(session.expires_at),
      refreshToken: refresh.token,
      amr,
    };
  }

  /**
   * Exchanges a refresh token for a new access token and the family's next refresh token.
   *
   * All in one transaction holding the token's and the session's row locks, so concurrent
   * refreshes with one token are decided one at a time: the first rotates, the rest find the
   * token rotated moments ago with its child still current, and get that same child. Any other
   * second use of a token is reuse: the session is revoked for everyone holding it.
   */
  async refresh(input: {
    refreshToken: string;
    ip?: string | null;
    userAgent?: string | null;
    now?: Date;
  }): Promise<IssuedSession> {
    const parsed = parseRefreshToken(input.refreshToken);
    if (!parsed) throw new PlatformError('UNAUTHORIZED', REFRESH_REFUSED);
    const origin = { ip: input.ip ?? null, userAgent: input.userAgent?.slice(0, MAX_USER_AGENT) ?? null };
    const outcome = await this.options.database.transaction(
      (trx) =>
        decideRefresh(trx, this.options, {
          token: parsed.token,
          tokenHash: parsed.hash,
          origin,
          now: input.now,
        }),
      // Running it again after a lost commit answer is safe: the second run finds the token
      // rotated within the grace window and derives the very child the first run issued.
      { idempotent: true },
    );
    if (outcome.kind === 'refused') throw new PlatformError('UNAUTHORIZED', REFRESH_REFUSED);
    return this.issue({
      userView: outcome.user,
      sessionId: outcome.locked.sessionId,
      sessionExpiresAt: outcome.locked.sessionExpiresAt,
      refreshToken: outcome.token,
      amr: outcome.locked.sessionAmr,
    });
  }

  /** Ends the session the caller's access token belongs to. */
  async logout(principal: UserPrincipal & RequestOrigin): Promise<void> {
    await this.options.database.transaction(async (trx) => {
      const revoked = await revokeSession(trx, {
        sessionId: principal.sessionId,
        userId: principal.userId,
        reason: 'logout',
      });
      await this.options.audit.record(trx, {
        type: 'logout',
        result: 'success',
        actor: auditActor(principal),
        target: { type: 'session', id: principal.sessionId },
        details: revoked ? {} : { alreadyEnded: true },
      });
    });
  }

  /** Ends every session of the caller's user, this one included; returns how many were open. */
  async logoutAll(principal: Principal & RequestOrigin): Promise<{ revokedSessions: number }> {
    const revokedSessions = await this.options.database.transaction(async (trx) => {
      const count = await revokeUserSessions(trx, { userId: principal.userId, reason: 'logout_all' });
      await this.options.audit.record(trx, {
        type: 'logout_all',
        result: 'success',
        actor: auditActor(principal),
        target: { type: 'user', id: principal.userId },
        details: { revokedSessions: count },
      });
      return count;
    });
    return { revokedSessions };
  }

  /** The caller's sessions that can still be refreshed, most recently used first. */
  async list(principal: UserPrincipal, now?: Date): Promise<SessionView[]> {
    const rows = await this.options.database.read((db) =>
      listActiveSessions(db, principal.userId, { idleHours: this.options.idleHours, at: now }),
    );
    return rows.map((row) => ({
      id: row.id,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
      expiresAt: new Date(row.expires_at),
      ip: row.ip,
      userAgent: row.user_agent,
      current: row.id === principal.sessionId,
    }));
  }

  /** Ends one of the caller's own sessions; anyone else's is NOT_FOUND, as is a malformed id. */
  async revoke(principal: Principal & RequestOrigin, sessionId: string): Promise<void> {
    const found = await this.options.database.transaction(async (trx) => {
      const session = UUID.test(sessionId)
        ? await findUserSession(trx, principal.userId, sessionId)
        : undefined;
      if (!session) return false;
      const revoked = await revokeSession(trx, { sessionId, userId: principal.userId, reason: 'revoked' });
      await this.options.audit.record(trx, {
        type: 'session_revoked',
        result: 'success',
        actor: auditActor(principal),
        target: { type: 'session', id: sessionId },
        details: revoked ? {} : { alreadyEnded: true },
      });
      return true;
    });
    if (!found) throw new PlatformError('NOT_FOUND', 'no such session');
  }

  /** Whether a session could still be refreshed: not revoked, expired or idle, its user enabled. */
  async isSessionActive(sessionId: string, now?: Date): Promise<boolean> {
    if (!UUID.test(sessionId)) return false;
    return this.options.database.read((db) =>
      isSessionActive(db, sessionId, { idleHours: this.options.idleHours, at: now }),
    );
  }

  /**
   * Sessions revoked at or after `since`, oldest first, for a revocation list that refuses their
   * access tokens before they expire; pass the last `revokedAt` seen as the next `since`.
   */
  async revokedSessionIdsSince(since: Date): Promise<{ id: string; revokedAt: Date }[]> {
    return this.options.database.read((db) => sessionsRevokedSince(db, since));
  }

  /**
   * Signs the access token after the transaction has committed: the keyring may need a database
   * connection of its own, and waiting for one while holding row locks that other refreshes
   * queue on could exhaust the pool.
   */
  async issue({
    userView,
    sessionId,
    sessionExpiresAt,
    refreshToken,
    amr,
  }: OpenedSession & { userView: UserView }): Promise<IssuedSession> {
    const signed = await this.options.signer.signAccessToken({
      sub: userView.id,
      org: userView.organizationId,
      role: userView.role,
      ...(userView.platformRole ? { prole: userView.platformRole } : {}),
      sid: sessionId,
      // NIST SP 800-63B's levels, as Supabase Auth writes them: aal2 once a second factor was shown.
      amr,
      acr: amr.includes('otp') || amr.includes('hwk') ? 'aal2' : 'aal1',
    });
    return {
      accessToken: signed.token,
      accessTokenExpiresAt: signed.expiresAt,
      refreshToken,
      session: { id: sessionId, expiresAt: sessionExpiresAt },
      user: userView,
    };
  }

  private async recordLoginFailure(
    email: string,
    origin: RequestOrigin,
    reason: 'throttled' | 'unknown_email' | 'wrong_password' | 'user_disabled' | 'organization_suspended',
    user?: { id: string; organization_id: string },
  ): Promise<void> {
    // The attempted email is kept to investigate attacks, but only when it looks like one: people
    // do type their password into the email field, and a password must never reach the log.
    const details = LOOKS_LIKE_EMAIL.test(email) ? { reason, email } : { reason, emailMalformed: true };
    await this.options.database.transaction((trx) =>
      this.options.audit.record(trx, {
        type: 'login',
        result: 'failure',
        actor: { organizationId: user?.organization_id ?? null, userId: null, ...origin },
        target: user ? { type: 'user', id: user.id } : undefined,
        details,
      }),
    );
  }
}

/** A session just opened, before its access token is signed. */
export interface OpenedSession {
  sessionId: string;
  sessionExpiresAt: Date;
  refreshToken: string;
  amr: string[];
}

export type { SignInChallenge, SignInResult };
