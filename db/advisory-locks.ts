import { type Kysely, sql } from 'kysely';

/**
 * Session-level advisory locks: held by the session that took them until it unlocks or ends, so
 * `db` must stay one session from lock to unlock (a dedicated connection, or a pooled connection
 * pinned with `db.connection()`).
 */

/** `pg_try_advisory_lock`: whether this session now holds `key`; never waits. */
export async function tryAdvisoryLock<DB>(db: Kysely<DB>, key: bigint): Promise<boolean> {
  const { rows } = await sql<{
    locked: boolean;
  }>`select pg_try_advisory_lock(${key}::bigint) as locked`.execute(db);
  return rows[0]?.locked === true;
}

/** `pg_advisory_unlock`: releases one hold of `key` by this session. */
export async function advisoryUnlock<DB>(db: Kysely<DB>, key: bigint): Promise<void> {
  await sql`select pg_advisory_unlock(${key}::bigint)`.execute(db);
}
