import type { Generated, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp, Timestamp } from '../column-types';

export interface BackupSchedulesTable {
  id: Generated<string>;
  organization_id: string;
  /** Five cron fields, evaluated in UTC; see server/services/backups/cron.ts. */
  cron: string;
  retention_count: number | null;
  retention_days: number | null;
  enabled: Generated<boolean>;
  last_run_at: NullableTimestamp;
  next_run_at: Timestamp;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export type BackupScheduleRow = Selectable<BackupSchedulesTable>;
