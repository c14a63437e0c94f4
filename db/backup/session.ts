import { sql } from 'kysely';
import type { SchemalessKysely } from './dedicated-connection';

/**
 * Transaction and session statements of backup and restore, run on a dedicated connection: the
 * transaction is the session's, so every statement between `begin` and `commit` shares it.
 */

/** Starts the backup's transaction: one snapshot for every table, however long the export takes. */
export async function beginSnapshot(db: SchemalessKysely): Promise<void> {
  await sql`begin isolation level repeatable read read only`.execute(db);
}

/** Starts a plain transaction (a restore's). */
export async function begin(db: SchemalessKysely): Promise<void> {
  await sql`begin`.execute(db);
}

export async function commit(db: SchemalessKysely): Promise<void> {
  await sql`commit`.execute(db);
}

export async function rollback(db: SchemalessKysely): Promise<void> {
  await sql`rollback`.execute(db);
}

/** The server's version, as text and as a number (`server_version_num`). */
export async function readServerVersion(db: SchemalessKysely): Promise<{ version: string; num: number }> {
  const server = await sql<{ version: string; num: number }>`
        select current_setting('server_version') as version,
          current_setting('server_version_num')::int as num
      `.execute(db);
  return server.rows[0]!;
}

/** Exports the transaction's snapshot, for pg_dump to join; returns its id. */
export async function exportSnapshot(db: SchemalessKysely): Promise<string> {
  return (await sql<{ id: string }>`select pg_export_snapshot() as id`.execute(db)).rows[0]!.id;
}

/** Bounds waiting for locks for the rest of the transaction. */
export async function setLocalLockTimeout(db: SchemalessKysely, lockTimeoutMs: number): Promise<void> {
  await sql`select set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`.execute(db);
}

/**
 * Replica mode for the rest of the transaction: foreign-key triggers do not fire. Needs
 * privileges a target may not grant; then it fails.
 */
export async function setLocalReplicaMode(db: SchemalessKysely): Promise<void> {
  await sql`set local session_replication_role = replica`.execute(db);
}
