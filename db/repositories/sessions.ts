import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../database';
import type { RefreshTokenRow, SessionRow } from './sessions.table';

/**
 * The time a statement works with: the one given (tests travel in time with it), else the
 * database's transaction time, so that instances whose clocks disagree share one timeline.
 */
export function timeOf(at: Date | undefined): RawBuilder<Date> {
  return at ? sql<Date>`${at}::timestamptz` : sql<Date>`now()`;
}

function hoursBefore(at: Date | undefined, hours: number): RawBuilder<Date> {
  return sql<Date>`${timeOf(at)} - make_interval(hours => ${hours}::int)`;
}

export interface NewSession {
  userId: string;
  organizationId: string;
  ip: string | null;
  userAgent: string | null;
  lifetimeHours: number;
  /** RFC 8176 methods the user signed in with; `['pwd']` when not given. */
  amr?: string[];
  at?: Date;
}

export async function insertSession(db: Kysely<Database>, session: NewSession): Promise<SessionRow> {
  const at = timeOf(session.at);
  return db
    .insertInto('sessions')
    .values({
      user_id: session.userId,
      organization_id: session.organizationId,
      created_at: at,
      last_used_at: at,
      expires_at: sql<Date>`${at} + make_interval(hours => ${session.lifetimeHours}::int)`,
      ip: session.ip,
      user_agent: session.userAgent,
      ...(session.amr ? { amr: session.amr } : {}),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function insertRefreshToken(
  db: Kysely<Database>,
  token: { sessionId: string; tokenHash: string; parentId: string | null; at?: Date },
): Promise<RefreshTokenRow> {
  return db
    .insertInto('refresh_tokens')
    .values({
      session_id: token.sessionId,
      token_hash: token.tokenHash,
      parent_id: token.parentId,
      created_at: timeOf(token.at),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A refresh token with its session and user, as seen under the row locks of `lockRefreshToken`. */
export interface LockedRefreshToken {
  tokenId: string;
  rotatedAt: Date | null;
  sessionId: string;
  organizationId: string;
  sessionExpiresAt: Date;
  sessionLastUsedAt: Date;
  sessionRevokedAt: Date | null;
  /** The methods the session was opened with, for its next access token. */
  sessionAmr: string[];
  userId: string;
  userDisabled: boolean;
  organizationSuspendedAt: Date | null;
  /** The time the transaction works with (see `timeOf`). */
  now: Date;
}

/**
 * Finds a refresh token by hash and locks its row and its session's row until the transaction
 * ends (`for update`): concurrent refreshes with one token queue here and are decided one after
 * another, each seeing what the previous one committed.
 */
export async function lockRefreshToken(
  db: Kysely<Database>,
  tokenHash: string,
  at?: Date,
): Promise<LockedRefreshToken | undefined> {
  const row = await db
    .selectFrom('refresh_tokens as t')
    .innerJoin('sessions as s', 's.id', 't.session_id')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .innerJoin('organizations as o', 'o.id', 's.organization_id')
    .select([
      't.id as tokenId',
      't.rotated_at as rotatedAt',
      's.id as sessionId',
      's.organization_id as organizationId',
      's.expires_at as sessionExpiresAt',
      's.last_used_at as sessionLastUsedAt',
      's.revoked_at as sessionRevokedAt',
      's.amr as sessionAmr',
      'u.id as userId',
      'u.disabled as userDisabled',
      'o.suspended_at as organizationSuspendedAt',
      timeOf(at).as('now'),
    ])
    .where('t.token_hash', '=', tokenHash)
    .forUpdate(['t', 's'])
    .executeTakeFirst();
  if (!row) return undefined;
  return { ...row, sessionExpiresAt: new Date(row.sessionExpiresAt), now: new Date(row.now) };
}

/** The token issued when `parentId` was rotated, if any. */
export async function findChildToken(
  db: Kysely<Database>,
  parentId: string,
): Promise<RefreshTokenRow | undefined> {
  return db.selectFrom('refresh_tokens').selectAll().where('parent_id', '=', parentId).executeTakeFirst();
}

export async function markTokenRotated(db: Kysely<Database>, tokenId: string, at: Date): Promise<void> {
  await db.updateTable('refresh_tokens').set({ rotated_at: at }).where('id', '=', tokenId).execute();
}

/** Marks a session used at `at`; never moves last_used_at back (queued refreshes may carry older times). */
export async function touchSession(db: Kysely<Database>, sessionId: string, at: Date): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ last_used_at: sql<Date>`greatest(last_used_at, ${at}::timestamptz)` })
    .where('id', '=', sessionId)
    .execute();
}

/**
 * Revokes one session (of `userId`, when given) unless it already is; returns whether this call
 * revoked it.
 */
export async function revokeSession(
  db: Kysely<Database>,
  { sessionId, userId, reason, at }: { sessionId: string; userId?: string; reason: string; at?: Date },
): Promise<boolean> {
  let query = db
    .updateTable('sessions')
    .set({ revoked_at: timeOf(at), revoked_reason: reason })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null);
  if (userId !== undefined) query = query.where('user_id', '=', userId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Revokes every unrevoked session of a user, but `exceptSessionId`; returns how many. */
export async function revokeUserSessions(
  db: Kysely<Database>,
  {
    userId,
    reason,
    exceptSessionId,
    at,
  }: { userId: string; reason: string; exceptSessionId?: string; at?: Date },
): Promise<number> {
  let query = db
    .updateTable('sessions')
    .set({ revoked_at: timeOf(at), revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null);
  if (exceptSessionId !== undefined) query = query.where('id', '!=', exceptSessionId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Revokes every unrevoked session of an organization (suspended or deleted); returns how many.
 * The revocation trigger announces each one, so every instance refuses their access tokens.
 */
export async function revokeOrganizationSessions(
  db: Kysely<Database>,
  { organizationId, reason, at }: { organizationId: string; reason: string; at?: Date },
): Promise<number> {
  const result = await db
    .updateTable('sessions')
    .set({ revoked_at: timeOf(at), revoked_reason: reason })
    .where('organization_id', '=', organizationId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** A user's sessions that could still be refreshed: not revoked, not expired, not idle too long. */
export async function listActiveSessions(
  db: Kysely<Database>,
  userId: string,
  { idleHours, at }: { idleHours: number; at?: Date },
): Promise<SessionRow[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', timeOf(at))
    .where('last_used_at', '>=', hoursBefore(at, idleHours))
    .orderBy('last_used_at', 'desc')
    .orderBy('id')
    .execute();
}

export async function findUserSession(
  db: Kysely<Database>,
  userId: string,
  sessionId: string,
): Promise<SessionRow | undefined> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('id', '=', sessionId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** Whether a session could still be refreshed, its user included (a disabled user has none). */
export async function isSessionActive(
  db: Kysely<Database>,
  sessionId: string,
  { idleHours, at }: { idleHours: number; at?: Date },
): Promise<boolean> {
  const row = await db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select('s.id')
    .where('s.id', '=', sessionId)
    .where('s.revoked_at', 'is', null)
    .where('u.disabled', '=', false)
    .where('s.expires_at', '>', timeOf(at))
    .where('s.last_used_at', '>=', hoursBefore(at, idleHours))
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Sessions revoked at or after `since`, oldest revocation first, deleted ones included (their
 * tombstones): a session deleted with its user or organization must stay refused too.
 */
export async function sessionsRevokedSince(
  db: Kysely<Database>,
  since: Date,
): Promise<{ id: string; revokedAt: Date }[]> {
  const rows = await db
    .selectFrom('sessions')
    .select(['id', 'revoked_at'])
    .where('revoked_at', '>=', since)
    .unionAll(
      db
        .selectFrom('session_tombstones')
        .select((eb) => ['id', eb.cast<Date | null>('revoked_at', 'timestamptz').as('revoked_at')])
        .where('revoked_at', '>=', since),
    )
    .orderBy('revoked_at')
    .execute();
  return rows.flatMap((row) => (row.revoked_at ? [{ id: row.id, revokedAt: new Date(row.revoked_at) }] : []));
}

/**
 * Revokes the organization's sessions opened without a second factor (its admins just required
 * one); returns how many. The revocation trigger announces each one to every instance.
 */
export async function revokeSessionsWithoutSecondFactor(
  db: Kysely<Database>,
  { organizationId, reason }: { organizationId: string; reason: string },
): Promise<number> {
  const result = await db
    .updateTable('sessions')
    .set({ revoked_at: sql<Date>`now()`, revoked_reason: reason })
    .where('organization_id', '=', organizationId)
    .where('revoked_at', 'is', null)
    // A one-time password (TOTP, recovery code) or a passkey (RFC 8176's hwk).
    .where(sql<boolean>`not (amr && ${['otp', 'hwk']}::text[])`)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
