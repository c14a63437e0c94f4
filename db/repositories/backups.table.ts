import type { ColumnType, Generated, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp } from '../column-types';

export type BackupStatus = 'running' | 'succeeded' | 'failed';

export type BackupMethod = 'copy' | 'pg_dump';

/** One archive of the platform's database; the bookkeeping tables themselves are never archived. */
export interface BackupsTable {
  id: Generated<string>;
  /** The organization of whoever asked for it (or of its schedule); the archive holds every organization. */
  organization_id: string;
  schedule_id: string | null;
  status: BackupStatus;
  method: BackupMethod | null;
  /** The archive's directory; it exists once the backup succeeded. */
  path: string;
  /** The archive's manifest.json as written (server/services/backups/manifest.ts). */
  manifest: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  /** bigint: pg returns it as a string. */
  size_bytes: ColumnType<string | null, number | null | undefined, number | null>;
  duration_ms: number | null;
  error: string | null;
  created_by: string | null;
  created_at: CreatedAt;
  finished_at: NullableTimestamp;
  verified_at: NullableTimestamp;
}

export type BackupRow = Selectable<BackupsTable>;
