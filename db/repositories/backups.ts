import type { Kysely } from 'kysely';
import type { Database } from '../database';
import type { BackupMethod, BackupRow, BackupStatus } from './backups.table';

/** What a finished backup's row records of its manifest; the whole manifest is stored as JSON. */
export interface BackupManifestFigures {
  method: BackupMethod;
  totalBytes: number;
  durationMs: number;
}

export async function insertBackup(
  db: Kysely<Database>,
  row: {
    id: string;
    organizationId: string;
    scheduleId: string | null;
    path: string;
    createdBy: string | null;
  },
): Promise<BackupRow> {
  return db
    .insertInto('backups')
    .values({
      id: row.id,
      organization_id: row.organizationId,
      schedule_id: row.scheduleId,
      status: 'running',
      path: row.path,
      created_by: row.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function finishBackup(
  db: Kysely<Database>,
  id: string,
  outcome: { manifest: BackupManifestFigures } | { error: string; durationMs: number },
): Promise<BackupRow> {
  const values =
    'manifest' in outcome
      ? {
          status: 'succeeded' as const,
          method: outcome.manifest.method,
          manifest: JSON.stringify(outcome.manifest),
          size_bytes: outcome.manifest.totalBytes,
          duration_ms: outcome.manifest.durationMs,
        }
      : { status: 'failed' as const, error: outcome.error.slice(0, 2000), duration_ms: outcome.durationMs };
  return db
    .updateTable('backups')
    .set({ ...values, finished_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * A finished archive found in the store (a bucket another machine wrote to) that this database
 * has no row for: recorded as it was written. Undefined when the row exists already.
 */
export async function insertStoredBackup(
  db: Kysely<Database>,
  stored: {
    organizationId: string;
    path: string;
    manifest: BackupManifestFigures & { id: string; createdAt: string };
  },
): Promise<BackupRow | undefined> {
  const { manifest } = stored;
  const createdAt = new Date(manifest.createdAt);
  return db
    .insertInto('backups')
    .values({
      id: manifest.id,
      organization_id: stored.organizationId,
      status: 'succeeded',
      method: manifest.method,
      path: stored.path,
      manifest: JSON.stringify(manifest),
      size_bytes: manifest.totalBytes,
      duration_ms: manifest.durationMs,
      created_at: createdAt,
      finished_at: new Date(createdAt.getTime() + manifest.durationMs),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** A backup, whoever asked for it: backups are the platform's. */
export async function findBackup(db: Kysely<Database>, id: string): Promise<BackupRow | undefined> {
  return db.selectFrom('backups').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Every backup, newest first; `cursor` is the last id of the previous page (one that names no
 * backup compares with NULL, and the page is empty).
 */
export async function listBackups(
  db: Kysely<Database>,
  { limit, cursor }: { limit: number; cursor?: string },
): Promise<BackupRow[]> {
  let query = db
    .selectFrom('backups')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit);
  if (cursor) {
    query = query.where(({ eb, refTuple, selectFrom }) =>
      eb(
        refTuple('created_at', 'id'),
        '<',
        selectFrom('backups as c')
          .select(['c.created_at', 'c.id'])
          .where('c.id', '=', cursor)
          .$asTuple('created_at', 'id'),
      ),
    );
  }
  return query.execute();
}

export async function deleteBackupRow(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('backups').where('id', '=', id).execute();
}

export async function markVerified(db: Kysely<Database>, id: string): Promise<Date> {
  const row = await db
    .updateTable('backups')
    .set({ verified_at: new Date() })
    .where('id', '=', id)
    .returning('verified_at')
    .executeTakeFirstOrThrow();
  return row.verified_at as Date;
}

/** Backups left `running` by an instance that stopped mid-way; call only while holding BACKUP_LOCK. */
export async function failInterruptedBackups(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .updateTable('backups')
    .set({ status: 'failed', error: 'interrupted: the instance running it stopped', finished_at: new Date() })
    .where('status', '=', 'running')
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** The latest successful backup of any organization: what the metrics report. */
export async function latestSuccess(
  db: Kysely<Database>,
): Promise<Pick<BackupRow, 'finished_at' | 'duration_ms' | 'size_bytes'> | undefined> {
  return db
    .selectFrom('backups')
    .select(['finished_at', 'duration_ms', 'size_bytes'])
    .where('status', '=', 'succeeded')
    .orderBy('finished_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function listScheduleBackups(
  db: Kysely<Database>,
  scheduleId: string,
): Promise<{ id: string; status: BackupStatus; created_at: Date; path: string }[]> {
  return db
    .selectFrom('backups')
    .select(['id', 'status', 'created_at', 'path'])
    .where('schedule_id', '=', scheduleId)
    .execute();
}
