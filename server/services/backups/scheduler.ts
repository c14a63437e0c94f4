import { advisoryUnlock, tryAdvisoryLock } from '../../../db/advisory-locks';
import type { PlatformDatabase } from '../../../db/connect';
import { claimScheduledRun, dueSchedules } from '../../../db/repositories/backup-schedules';
import type { Logger } from '../../base/logger';
import { nextRun, parseCron } from './cron';
import type { BackupScheduleService } from './schedules';
import type { BackupService } from './service';

/** Held by the instance running due schedules this round. Spells "bksc". */
const SCHEDULER_LOCK = 0x626b7363n;

export interface BackupSchedulerOptions {
  database: PlatformDatabase;
  backups: BackupService;
  schedules: BackupScheduleService;
  logger: Logger;
  /** How often due schedules are looked for (default 30 s; cron's resolution is a minute). */
  intervalMs?: number;
  now?: () => Date;
}

export interface SchedulerRound {
  /** False when another instance held the scheduler lock: this one did nothing. */
  ran: boolean;
  /** Backups started by this round. */
  backups: string[];
  /** Backups removed by retention this round. */
  deleted: string[];
}

/**
 * Runs due backup schedules. Every instance ticks; one at a time does the work, holding a
 * session-level pg_try_advisory_lock on a pooled connection for the round. Each run is also
 * claimed by a conditional update of the schedule's next_run_at, so a run cannot happen twice
 * even if two rounds overlapped. A schedule that was due several times while no instance ran
 * runs once, and its next run counts from now. Retention is applied after each run.
 */
export class BackupScheduler {
  private timer: ReturnType<typeof setInterval> | null = null;
  private round: Promise<SchedulerRound> | null = null;

  constructor(private readonly options: BackupSchedulerOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.runDue().catch((error) =>
        this.options.logger.error({ err: error }, 'backup scheduler round failed'),
      );
    }, this.options.intervalMs ?? 30_000);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.round?.catch(() => undefined);
  }

  /** One round; a round already under way on this instance is joined rather than doubled. */
  runDue(): Promise<SchedulerRound> {
    this.round ??= this.runRound().finally(() => {
      this.round = null;
    });
    return this.round;
  }

  private async runRound(): Promise<SchedulerRound> {
    const { database, backups, schedules, logger } = this.options;
    return database.db.connection().execute(async (db) => {
      if (!(await tryAdvisoryLock(db, SCHEDULER_LOCK))) return { ran: false, backups: [], deleted: [] };
      const round: SchedulerRound = { ran: true, backups: [], deleted: [] };
      try {
        const now = this.options.now?.() ?? new Date();
        for (const schedule of await dueSchedules(db, now)) {
          let next: Date | null;
          try {
            next = nextRun(parseCron(schedule.cron), now);
          } catch (error) {
            logger.error(
              { err: error, scheduleId: schedule.id },
              'backup schedule has an invalid cron expression',
            );
            continue;
          }
          // A never-matching expression cannot be stored (firstRun refuses it); park it far away if one was.
          if (
            !(await claimScheduledRun(db, schedule, { now, next: next ?? new Date('9999-12-31T00:00:00Z') }))
          ) {
            continue;
          }
          try {
            const backup = await backups.runScheduled(schedule);
            round.backups.push(backup.id);
            round.deleted.push(...(await schedules.applyRetention(schedule)));
          } catch (error) {
            logger.error({ err: error, scheduleId: schedule.id }, 'scheduled backup did not run');
          }
        }
      } finally {
        await advisoryUnlock(db, SCHEDULER_LOCK);
      }
      return round;
    });
  }
}
