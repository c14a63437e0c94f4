import { type Kysely, sql } from 'kysely';
import type { SchemalessKysely } from './dedicated-connection';

/*
 * The statements of a physical base backup (PostgreSQL 15+'s non-exclusive low-level API: the
 * session that starts it must stay open until it stops it) and what recovery needs to know of
 * the server. Superuser, or EXECUTE on pg_backup_start/pg_backup_stop and pg_read_all_settings.
 */

/** The settings a base backup depends on; `dataDirectory` is the server's own path. */
export interface ArchiveSettings {
  versionNum: number;
  archiveMode: string;
  walLevel: string;
  dataDirectory: string;
  systemIdentifier: string;
}

export async function readArchiveSettings(db: SchemalessKysely): Promise<ArchiveSettings> {
  const result = await sql<ArchiveSettings>`
    select current_setting('server_version_num')::int as "versionNum",
      current_setting('archive_mode') as "archiveMode",
      current_setting('wal_level') as "walLevel",
      current_setting('data_directory') as "dataDirectory",
      (select system_identifier::text from pg_control_system()) as "systemIdentifier"
  `.execute(db);
  return result.rows[0]!;
}

/** Starts a base backup with an immediate checkpoint; where its WAL begins. */
export async function backupStart(
  db: SchemalessKysely,
  label: string,
): Promise<{ lsn: string; walFile: string; timeline: number; at: Date }> {
  const result = await sql<{ lsn: string; walFile: string; timeline: number; at: Date }>`
    with started as (select pg_backup_start(${label}, true) as lsn)
    select lsn::text as lsn, pg_walfile_name(lsn) as "walFile",
      (select timeline_id from pg_control_checkpoint()) as timeline, clock_timestamp() as at
    from started
  `.execute(db);
  return result.rows[0]!;
}

/**
 * Ends the base backup once every WAL segment it needs is archived; the backup_label (and
 * tablespace_map) that recovery must find in the restored data directory.
 */
export async function backupStop(
  db: SchemalessKysely,
): Promise<{ lsn: string; walFile: string; labelFile: string; tablespaceMap: string; at: Date }> {
  const result = await sql<{
    lsn: string;
    walFile: string;
    labelFile: string;
    tablespaceMap: string;
    at: Date;
  }>`
    select lsn::text as lsn, pg_walfile_name(lsn) as "walFile", labelfile as "labelFile",
      coalesce(spcmapfile, '') as "tablespaceMap", clock_timestamp() as at
    from pg_backup_stop(true)
  `.execute(db);
  return result.rows[0]!;
}

/** Closes the current WAL segment so that it is archived now (tests, and a backup's end). */
export async function switchWal(db: SchemalessKysely): Promise<string> {
  const result = await sql<{ walFile: string }>`
    select pg_walfile_name(pg_switch_wal()) as "walFile"
  `.execute(db);
  return result.rows[0]!.walFile;
}

/** The archiver's own account (pg_stat_archiver). */
export interface ArchiverStats {
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedAt: Date | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedAt: Date | null;
}

export async function readArchiverStats<Tables>(db: Kysely<Tables>): Promise<ArchiverStats> {
  const result = await sql<ArchiverStats>`
    select archived_count::int as "archivedCount", last_archived_wal as "lastArchivedWal",
      last_archived_time as "lastArchivedAt", failed_count::int as "failedCount",
      last_failed_wal as "lastFailedWal", last_failed_time as "lastFailedAt"
    from pg_stat_archiver
  `.execute(db);
  return result.rows[0]!;
}

/** Whether the server is still replaying WAL (a recovery that has not reached its target). */
export async function inRecovery(db: SchemalessKysely): Promise<boolean> {
  return (await sql<{ recovering: boolean }>`select pg_is_in_recovery() as recovering`.execute(db)).rows[0]!
    .recovering;
}

/** The server's current timeline (a new one after each point-in-time recovery). */
export async function readTimeline<Tables>(db: Kysely<Tables>): Promise<number> {
  const result = await sql<{ timeline: number }>`
    select timeline_id as timeline from pg_control_checkpoint()
  `.execute(db);
  return result.rows[0]!.timeline;
}
