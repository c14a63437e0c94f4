import { readArchiverStats, readTimeline } from '../../../../db/backup/physical';
import type { PlatformDatabase } from '../../../../db/connect';
import type { PointInTimeStatus } from '../../../../shared/devops-point-in-time';
import { type Actor, auditActor } from '../../../base/actor';
import type { AuditLog } from '../../../base/audit';
import { PlatformError } from '../../../base/errors';
import type { Logger } from '../../../base/logger';
import { type CronExpression, nextRun } from '../cron';
import {
  type BaseBackup,
  deleteBaseBackup,
  listBaseBackups,
  takeBaseBackup,
  unfinishedBaseBackups,
} from './base-backup';
import type { ObjectStore } from './object-store';
import { WalShipper, walKey } from './wal-shipper';

export interface PointInTimeOptions {
  store: ObjectStore;
  kek: Uint8Array;
  /** Where the server's archive_command puts WAL files (db/backup/wal-archiving.ts). */
  spoolDir: string;
  /** The server's data directory, read by base backups. */
  dataDir: string;
  /** A superuser's URL of that server. */
  databaseUrl: string;
  /** The embedded server's password file (kept in base backups, for a new machine). */
  passwordFile?: string;
  database: PlatformDatabase;
  audit: AuditLog;
  logger: Logger;
  /** When base backups are taken (UTC cron); one is taken at once when the store has none. */
  baseBackupSchedule: CronExpression;
  /** Base backups kept; WAL older than the oldest kept one is deleted with it. */
  keepBaseBackups: number;
  shipIntervalMs: number;
}

/**
 * Point-in-time recovery's running half: WAL shipped from the spool to the store, base backups
 * on a schedule, retention, and the state an operator reads (status). Recovery itself runs
 * offline (recovery.ts, `npm run db:recover`): it needs a new data directory and a server start.
 */
export class PointInTimeRecovery {
  readonly shipper: WalShipper;
  private schedule: NodeJS.Timeout | null = null;
  private running: Promise<BaseBackup> | null = null;
  private lastBase: BaseBackup | null = null;
  private lastBaseError: { message: string; at: Date } | null = null;
  /** Base backups' descriptions read so far, by key: the dashboard reads the status every 5 s. */
  private readonly descriptions = new Map<string, BaseBackup>();
  private stopped = false;

  constructor(private readonly options: PointInTimeOptions) {
    this.shipper = new WalShipper({
      spoolDir: options.spoolDir,
      store: options.store,
      kek: options.kek,
      logger: options.logger,
      intervalMs: options.shipIntervalMs,
    });
  }

  /**
   * Starts shipping at once; reads the store (and takes a first base backup when it has none) in
   * the background, again every 30 s until it could: a store away at start delays the base
   * backups, never the instance or the shipping (files wait in the spool).
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.shipper.start();
    let known = false;
    const tick = async () => {
      if (!known) {
        known = await this.readStore();
        // None yet, or none of this timeline (the server was recovered): replay would have to
        // cross from an older timeline, so a base backup of this one comes first.
        if (known && (!this.lastBase || (await this.onNewTimeline()))) await this.backUpQuietly('first');
        return;
      }
      // After a failure, automatic attempts wait 10 minutes (each one is logged and audited).
      if (this.lastBaseError && Date.now() - this.lastBaseError.at.getTime() < 600_000) return;
      const due = this.lastBase
        ? nextRun(this.options.baseBackupSchedule, new Date(this.lastBase.finishedAt))
        : null;
      if (!this.lastBase || (due && due.getTime() <= Date.now())) await this.backUpQuietly('scheduled');
    };
    this.schedule = setInterval(() => void tick(), 30_000);
    this.schedule.unref();
    void tick();
  }

  private async onNewTimeline(): Promise<boolean> {
    try {
      const timeline = await this.options.database.read((db) => readTimeline(db));
      return this.lastBase !== null && this.lastBase.timeline !== timeline;
    } catch {
      return false;
    }
  }

  /** Removes what an interrupted base backup left, and learns the newest base backup. */
  private async readStore(): Promise<boolean> {
    const { store, kek, logger } = this.options;
    try {
      await this.removeUnfinished();
      this.lastBase = (await listBaseBackups(store, kek, this.descriptions)).at(-1) ?? null;
      return true;
    } catch (error) {
      logger.warn({ err: error, store: store.where }, 'the point-in-time recovery store could not be read');
      return false;
    }
  }

  /** When the newest base backup known here finished (metrics). */
  lastBaseBackupAt(): Date | null {
    return this.lastBase ? new Date(this.lastBase.finishedAt) : null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.schedule) clearInterval(this.schedule);
    this.schedule = null;
    await this.shipper.stop();
  }

  /** A base backup now (or the one under way), then retention. */
  takeBaseBackup(actor?: Actor): Promise<BaseBackup> {
    if (this.stopped) {
      return Promise.reject(new PlatformError('CONFLICT', 'the instance is shutting down'));
    }
    this.running ??= this.run(actor).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(actor?: Actor): Promise<BaseBackup> {
    const { store, kek, logger } = this.options;
    const id = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const started = Date.now();
    try {
      const base = await takeBaseBackup({
        id,
        databaseUrl: this.options.databaseUrl,
        dataDir: this.options.dataDir,
        store,
        kek,
        passwordFile: this.options.passwordFile,
      });
      this.lastBase = base;
      this.lastBaseError = null;
      logger.info({ id, bytes: base.dataBytes, ms: Date.now() - started }, 'base backup taken');
      await this.audit(actor, 'success', { id, bytes: base.dataBytes });
      await this.applyRetention();
      return base;
    } catch (error) {
      this.lastBaseError = { message: (error as Error).message, at: new Date() };
      await this.audit(actor, 'failure', { id, error: (error as Error).message });
      throw error;
    }
  }

  private async backUpQuietly(why: string): Promise<void> {
    try {
      await this.takeBaseBackup();
    } catch (error) {
      this.options.logger.error({ err: error, why }, 'base backup failed');
    }
  }

  /** Data left by base backups interrupted over an hour ago (an instance stopped during one). */
  private async removeUnfinished(): Promise<void> {
    const { store, logger } = this.options;
    for (const id of await unfinishedBaseBackups(store, 3_600_000)) {
      await deleteBaseBackup(store, id);
      logger.warn({ id }, 'an unfinished base backup removed from the store');
    }
  }

  /**
   * Keeps the newest `keepBaseBackups` base backups and the WAL from the oldest of them on, and
   * removes what interrupted ones left.
   */
  async applyRetention(): Promise<{ baseBackups: string[]; walFiles: number }> {
    const { store, kek, keepBaseBackups } = this.options;
    await this.removeUnfinished();
    const all = await listBaseBackups(store, kek, this.descriptions);
    const removed = all.slice(0, Math.max(0, all.length - keepBaseBackups));
    for (const base of removed) await deleteBaseBackup(store, base.id);
    const oldest = all[removed.length];
    let walFiles = 0;
    if (oldest) {
      const first = oldest.startWalFile.slice(8);
      for (const object of await store.list('wal/')) {
        const file = object.key.slice('wal/'.length);
        if (file.endsWith('.history') || file.slice(8, 24) >= first) continue;
        await store.delete(walKey(file));
        walFiles++;
      }
    }
    return { baseBackups: removed.map((b) => b.id), walFiles };
  }

  async status(): Promise<PointInTimeStatus> {
    const { store, kek } = this.options;
    const [bases, wal, server] = await Promise.all([
      listBaseBackups(store, kek, this.descriptions),
      store.list('wal/'),
      this.options.database.read((db) => readArchiverStats(db)).catch(() => null),
    ]);
    // The newest segment (not a history file nor a base backup's .backup label).
    const newestWal = wal.filter((o) => /^wal\/[0-9A-F]{24}(\.partial)?$/.test(o.key)).at(-1);
    const shipper = this.shipper.current();
    const last = bases.at(-1);
    return {
      enabled: true,
      reason: null,
      store: store.where,
      window:
        bases.length > 0
          ? {
              from: bases[0]!.finishedAt,
              to: newestWal?.modifiedAt.toISOString() ?? bases.at(-1)!.finishedAt,
            }
          : null,
      baseBackups: bases
        .map((b) => ({
          id: b.id,
          startedAt: b.startedAt,
          finishedAt: b.finishedAt,
          startWalFile: b.startWalFile,
          timeline: b.timeline,
          dataBytes: b.dataBytes,
        }))
        .reverse(),
      baseBackupRunning: this.running !== null,
      nextBaseBackupAt: last
        ? (nextRun(this.options.baseBackupSchedule, new Date(last.finishedAt))?.toISOString() ?? null)
        : null,
      lastBaseBackupError: this.lastBaseError
        ? { message: this.lastBaseError.message, at: this.lastBaseError.at.toISOString() }
        : null,
      wal: {
        storedFiles: wal.length,
        storedBytes: wal.reduce((sum, o) => sum + o.size, 0),
        newestFile: newestWal ? newestWal.key.slice('wal/'.length) : null,
        pendingFiles: shipper.pending,
        oldestPendingSeconds: Math.round(shipper.oldestPendingSeconds),
        shippedSinceStart: shipper.shipped,
        failuresSinceStart: shipper.failures,
        lastError: shipper.lastError
          ? { message: shipper.lastError.message, at: shipper.lastError.at.toISOString() }
          : null,
        server: server
          ? {
              archivedCount: server.archivedCount,
              lastArchivedWal: server.lastArchivedWal,
              lastArchivedAt: server.lastArchivedAt?.toISOString() ?? null,
              failedCount: server.failedCount,
              lastFailedWal: server.lastFailedWal,
              lastFailedAt: server.lastFailedAt?.toISOString() ?? null,
            }
          : null,
      },
    };
  }

  private async audit(
    actor: Actor | undefined,
    result: 'success' | 'failure',
    details: Record<string, unknown>,
  ) {
    try {
      await this.options.database.transaction((trx) =>
        this.options.audit.record(trx, {
          scope: 'platform',
          type: 'base_backup_created',
          result,
          actor: actor ? auditActor(actor) : {},
          target: { type: 'base_backup', id: String(details.id) },
          details,
        }),
      );
    } catch (error) {
      this.options.logger.error({ err: error }, 'audit event not recorded');
    }
  }
}
