import type { BackupScheduleRow } from '../../../db/repositories/backup-schedules.table';
import type { BackupRow } from '../../../db/repositories/backups.table';
import type { Backup, BackupSchedule } from '../../../shared/devops-backups';
import { type Manifest, parseManifest } from './manifest';

/** The recorded manifest of a row, or null when the row has none (running, failed) or it is unreadable. */
export function recordedManifest(row: Pick<BackupRow, 'manifest'>): Manifest | null {
  if (!row.manifest) return null;
  try {
    return parseManifest(row.manifest);
  } catch {
    return null;
  }
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

export function toBackup(row: BackupRow): Backup {
  const manifest = recordedManifest(row);
  return {
    id: row.id,
    status: row.status,
    method: row.method,
    scheduleId: row.schedule_id,
    path: row.path,
    schemaVersion: manifest?.schemaVersion ?? null,
    serverVersion: manifest?.server.version ?? null,
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    durationMs: row.duration_ms,
    rows: manifest?.totalRows ?? null,
    tables: (manifest?.tables ?? []).map(({ name, rows, bytes, sha256 }) => ({ name, rows, bytes, sha256 })),
    error: row.error,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at).toISOString(),
    finishedAt: iso(row.finished_at),
    verifiedAt: iso(row.verified_at),
  };
}

export function toSchedule(row: BackupScheduleRow): BackupSchedule {
  return {
    id: row.id,
    cron: row.cron,
    retentionCount: row.retention_count,
    retentionDays: row.retention_days,
    enabled: row.enabled,
    lastRunAt: iso(row.last_run_at),
    nextRunAt: new Date(row.next_run_at).toISOString(),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** A database URL without its credentials, for answers and the audit log. */
export function describeTarget(url: string): { host: string; database: string } {
  const parsed = new URL(url);
  return {
    host: parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname,
    database: databaseOf(parsed),
  };
}

/** Whether two URLs name the same database (host spelled as loopback in any of its usual ways). */
export function sameDatabase(a: string, b: string): boolean {
  const key = (url: string) => {
    const parsed = new URL(url);
    const host = LOOPBACK.has(parsed.hostname.toLowerCase()) ? 'loopback' : parsed.hostname.toLowerCase();
    return `${host}:${parsed.port || '5432'}/${databaseOf(parsed)}`;
  };
  return key(a) === key(b);
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function databaseOf(url: URL): string {
  return (
    decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres'
  );
}
