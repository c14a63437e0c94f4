import type { PlatformDatabase } from '../../../db/connect';
import {
  deleteSchedule,
  findSchedule,
  insertSchedule,
  listSchedules,
  type ScheduleFields,
  updateSchedule,
} from '../../../db/repositories/backup-schedules';
import type { BackupScheduleRow } from '../../../db/repositories/backup-schedules.table';
import { listScheduleBackups } from '../../../db/repositories/backups';
import type {
  BackupSchedule,
  BackupScheduleCreateInput,
  BackupScheduleUpdateInput,
} from '../../../shared/devops-backups';
import { type Actor, auditActor } from '../../base/actor';
import type { AuditEvent, AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import type { Logger } from '../../base/logger';
import { CronError, nextRun, parseCron } from './cron';
import { expiredBackups } from './retention';
import { toSchedule } from './views';

export interface BackupScheduleServiceOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  logger: Logger;
  /** Deletes one archive and its row (BackupService.remove). */
  removeBackup: (row: { id: string; path: string }) => Promise<void>;
  now?: () => Date;
}

/**
 * The platform's backup schedules (cron in UTC, retention), and retention itself. Platform scope
 * like the backups they make: every platform operator sees and changes every schedule; a row
 * records who made it, and their organization, without being filtered by either.
 */
export class BackupScheduleService {
  constructor(private readonly options: BackupScheduleServiceOptions) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  async list(): Promise<BackupSchedule[]> {
    const rows = await this.options.database.read((db) => listSchedules(db));
    return rows.map(toSchedule);
  }

  async create(actor: Actor, input: BackupScheduleCreateInput): Promise<BackupSchedule> {
    const fields: ScheduleFields = {
      cron: input.cron,
      retention_count: input.retentionCount,
      retention_days: input.retentionDays,
      enabled: input.enabled,
      next_run_at: firstRun(input.cron, this.now()),
    };
    const row = await this.options.database.transaction(async (trx) => {
      const created = await insertSchedule(trx, actor.organizationId, actor.userId, fields);
      await this.options.audit.record(trx, this.event(actor, 'backup_schedule_created', created));
      return created;
    });
    return toSchedule(row);
  }

  async update(actor: Actor, input: BackupScheduleUpdateInput): Promise<BackupSchedule> {
    const { id, cron, retentionCount, retentionDays, enabled } = input;
    const changes: Partial<ScheduleFields> = {
      ...(cron !== undefined ? { cron, next_run_at: firstRun(cron, this.now()) } : {}),
      ...(retentionCount !== undefined ? { retention_count: retentionCount } : {}),
      ...(retentionDays !== undefined ? { retention_days: retentionDays } : {}),
      ...(enabled !== undefined ? { enabled } : {}),
    };
    const row = await this.options.database.transaction(async (trx) => {
      const current = await findSchedule(trx, id);
      if (!current) throw new PlatformError('NOT_FOUND', 'no such backup schedule');
      // Enabled again after a pause: the next run counts from now, not from a time long past.
      if (enabled === true && !current.enabled && cron === undefined) {
        changes.next_run_at = firstRun(current.cron, this.now());
      }
      const updated = await updateSchedule(trx, id, changes);
      await this.options.audit.record(trx, this.event(actor, 'backup_schedule_updated', updated));
      return updated;
    });
    return toSchedule(row);
  }

  /** Deletes the schedule; its backups stay (they become unscheduled, out of retention's reach). */
  async delete(actor: Actor, id: string): Promise<{ id: string }> {
    await this.options.database.transaction(async (trx) => {
      const current = await findSchedule(trx, id);
      if (!current) throw new PlatformError('NOT_FOUND', 'no such backup schedule');
      await deleteSchedule(trx, id);
      await this.options.audit.record(trx, this.event(actor, 'backup_schedule_deleted', current));
    });
    return { id };
  }

  /**
   * Applies the schedule's retention (see retention.ts) to its backups: archives and rows of the
   * expired ones are deleted, each audited. Returns the deleted ids.
   */
  async applyRetention(schedule: BackupScheduleRow): Promise<string[]> {
    const backups = await this.options.database.read((db) => listScheduleBackups(db, schedule.id));
    const expired = new Set(
      expiredBackups(
        backups.map((b) => ({ id: b.id, status: b.status, createdAt: new Date(b.created_at) })),
        { count: schedule.retention_count, days: schedule.retention_days },
        this.now(),
      ),
    );
    const deleted: string[] = [];
    for (const backup of backups) {
      if (!expired.has(backup.id)) continue;
      try {
        await this.options.removeBackup(backup);
        deleted.push(backup.id);
        await this.options.database.transaction((trx) =>
          this.options.audit.record(trx, {
            scope: 'platform',
            type: 'backup_deleted',
            result: 'success',
            actor: { organizationId: schedule.organization_id },
            target: { type: 'backup', id: backup.id },
            details: { reason: 'retention', scheduleId: schedule.id },
          }),
        );
      } catch (error) {
        this.options.logger.error({ err: error, backupId: backup.id }, 'retention could not delete a backup');
      }
    }
    return deleted;
  }

  private event(
    actor: Actor,
    type: 'backup_schedule_created' | 'backup_schedule_updated' | 'backup_schedule_deleted',
    row: BackupScheduleRow,
  ): AuditEvent {
    return {
      scope: 'platform',
      type,
      result: 'success',
      actor: auditActor(actor),
      target: { type: 'backup_schedule', id: row.id },
      details: {
        cron: row.cron,
        retentionCount: row.retention_count,
        retentionDays: row.retention_days,
        enabled: row.enabled,
      },
    };
  }
}

/** The schedule's first run after `now`; a bad or never-matching expression is a BAD_REQUEST. */
export function firstRun(cron: string, now: Date): Date {
  let next: Date | null;
  try {
    next = nextRun(parseCron(cron), now);
  } catch (error) {
    if (error instanceof CronError) throw new PlatformError('BAD_REQUEST', `cron: ${error.message}`);
    throw error;
  }
  if (!next) throw new PlatformError('BAD_REQUEST', 'cron: the expression never matches a date');
  return next;
}
