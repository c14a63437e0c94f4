import type { Kysely } from 'kysely';
import type { Database } from '../database';
import type { BackupScheduleRow } from './backup-schedules.table';

export interface ScheduleFields {
  cron: string;
  retention_count: number | null;
  retention_days: number | null;
  enabled: boolean;
  next_run_at: Date;
}

/** `organizationId`: the creator's, recorded (who asked); schedules are the platform's. */
export async function insertSchedule(
  db: Kysely<Database>,
  organizationId: string,
  createdBy: string | null,
  fields: ScheduleFields,
): Promise<BackupScheduleRow> {
  return db
    .insertInto('backup_schedules')
    .values({ ...fields, organization_id: organizationId, created_by: createdBy })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function updateSchedule(
  db: Kysely<Database>,
  id: string,
  fields: Partial<ScheduleFields>,
): Promise<BackupScheduleRow> {
  return db
    .updateTable('backup_schedules')
    .set({ ...fields, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteSchedule(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('backup_schedules').where('id', '=', id).execute();
}

export async function findSchedule(db: Kysely<Database>, id: string): Promise<BackupScheduleRow | undefined> {
  return db.selectFrom('backup_schedules').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Every schedule, oldest first. */
export async function listSchedules(db: Kysely<Database>): Promise<BackupScheduleRow[]> {
  return db.selectFrom('backup_schedules').selectAll().orderBy('created_at').orderBy('id').execute();
}

/** Enabled schedules whose time has come, every organization's. */
export async function dueSchedules(db: Kysely<Database>, now: Date): Promise<BackupScheduleRow[]> {
  return db
    .selectFrom('backup_schedules')
    .selectAll()
    .where('enabled', '=', true)
    .where('next_run_at', '<=', now)
    .orderBy('next_run_at')
    .execute();
}

/**
 * Takes a due run of a schedule: moves next_run_at on, only if nobody has since (the row still
 * has the next_run_at that was read). Exactly one claimant of a run gets the row back, whichever
 * instance it runs on.
 */
export async function claimScheduledRun(
  db: Kysely<Database>,
  schedule: Pick<BackupScheduleRow, 'id' | 'next_run_at'>,
  { now, next }: { now: Date; next: Date },
): Promise<boolean> {
  const claimed = await db
    .updateTable('backup_schedules')
    .set({ last_run_at: now, next_run_at: next })
    .where('id', '=', schedule.id)
    .where('next_run_at', '=', schedule.next_run_at)
    .where('enabled', '=', true)
    .returning('id')
    .executeTakeFirst();
  return claimed !== undefined;
}
