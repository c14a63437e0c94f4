import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Migration } from 'kysely';
import type pg from 'pg';
import { DedicatedConnection } from '../../../db/backup/dedicated-connection';
import type { PlatformDatabase } from '../../../db/connect';
import { migrations as platformMigrations } from '../../../db/migrations';
import type { BackupScheduleRow } from '../../../db/repositories/backup-schedules.table';
import {
  deleteBackupRow,
  failInterruptedBackups,
  findBackup,
  finishBackup,
  insertBackup,
  insertStoredBackup,
  latestSuccess,
  listBackups,
  markVerified,
} from '../../../db/repositories/backups';
import type { BackupRow } from '../../../db/repositories/backups.table';
import type {
  Backup,
  BackupCreateInput,
  BackupListInput,
  BackupPage,
  BackupRestoreInput,
  BackupRestoreResult,
  BackupVerification,
  RestoreTargetAddress,
} from '../../../shared/devops-backups';
import { pageOf } from '../../../shared/pagination';
import { type Actor, auditActor } from '../../base/actor';
import type { AuditActor, AuditEvent, AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import type { Logger } from '../../base/logger';
import { ScrapeFigures } from '../../base/metrics/scrape-figures';
import { createOutboundPolicy, type OutboundPolicy } from '../../base/outbound/index';
import { ArchiveDecryptError } from './archive-crypto';
import { type ArchiveKey, openArchiveKey } from './archive-key';
import { type ArchiveStore, LocalArchiveStore, PITR_FOLDER } from './archive-store';
import type { ArchiveFileOpener } from './archive-writer';
import { BACKUP_LOCK, BackupInProgressError, BackupSession } from './backup';
import { MANIFEST_FORMAT, type Manifest, ManifestError, readManifest } from './manifest';
import { detectPgDump, type PgDumpTool } from './pg-dump';
import { LocalObjectStore, type ObjectStore } from './pitr/object-store';
import { ArchiveCorruptError, RestoreRefusedError, restoreArchive } from './restore';
import {
  checkAllowed,
  connectionSettings,
  parseTargetUrl,
  RestoreTargetRefusedError,
  RestoreTargetUnreachableError,
} from './restore-targets';
import { S3ArchiveStore, type S3StoreSettings } from './s3-archive-store';
import { BackupScheduleService } from './schedules';
import { verifyArchive } from './verify';
import { describeTarget, recordedManifest, sameDatabase, toBackup } from './views';

export interface BackupServiceOptions {
  database: PlatformDatabase;
  /** The platform's database (DATABASE_URL or the embedded server's): what is backed up, and restored by default. */
  databaseUrl: string;
  /**
   * BACKUP_DIR: one directory per archive, named by the backup's id, when no bucket is set; with
   * one, pg_dump's passing files only (and archives written here before remain readable).
   */
  directory: string;
  /** BACKUP_S3_*: new archives go to this bucket; archives already there are listed and restored. */
  s3?: S3StoreSettings | null;
  /**
   * The key-encryption key (AUTH_KEY_ENCRYPTION_KEY): each archive's data key is sealed under it.
   * With it and the bucket, a new machine restores everything.
   */
  kek: Uint8Array;
  audit: AuditLog;
  logger: Logger;
  /** The pg_dump to use when it can dump the server: a path, 'pg_dump' on PATH (the default), or null for never. */
  pgDump?: string | null;
  /** The migrations restore builds the schema with (the platform's own by default). */
  migrations?: Record<string, Migration>;
  /**
   * Whether the platform is in maintenance. When given, a restore into the platform's own
   * database is refused outside maintenance: requests would read and write tables being replaced.
   */
  inMaintenance?: () => boolean;
  /**
   * BACKUP_RESTORE_TARGETS: the databases besides the platform's own that a restore may write
   * into. Empty (the default): only the platform's own.
   */
  restoreTargets?: readonly RestoreTargetAddress[];
  /** The outbound policy restore targets are resolved through (purpose `restore_target`). */
  outboundPolicy?: OutboundPolicy;
  /** Opens each data file of an archive (the default: a new owner-only file); tests inject a full disk. */
  openArchiveFile?: ArchiveFileOpener;
}

/** Where a restore goes: the platform's own database, or an allow-listed one. */
interface Destination {
  platform: boolean;
  /** Without credentials, for answers and the audit log. */
  described: { host: string; database: string };
  connect(): Promise<DedicatedConnection>;
}

/** The figures the backup metrics export. */
export interface BackupFigures {
  lastSuccessAt: Date;
  durationSeconds: number;
  sizeBytes: number;
}

/** The organization recorded on backups found in the store rather than made here (nobody's). */
export const STORED_BACKUP_ORGANIZATION = '00000000-0000-0000-0000-000000000000';

/** Who starts a backup: a caller, or a schedule (no user). */
interface Requester {
  /** Recorded in the row (who asked), never a filter: the backups are the platform's. */
  organizationId: string;
  userId: string | null;
  scheduleId: string | null;
  audit: AuditActor;
}

/**
 * Backups of the platform's database: create (in the background, or waiting), list, get, verify,
 * delete and restore. Platform scope: an archive holds every organization's data, so every backup
 * is the platform's, seen and acted on by platform roles only (the routers see to that), whoever
 * asked for it; rows record who did. Every action is in the platform's audit log.
 */
export class BackupService {
  /** The platform's backup schedules, and retention. */
  readonly schedules: BackupScheduleService;
  /** The backups this instance runs, by their session (which `interrupt` cancels). */
  private readonly running = new Map<BackupSession, Promise<unknown>>();
  private readonly migrations: Record<string, Migration>;
  private pgDump: Promise<PgDumpTool | null> | null = null;
  /** The latest successful backup, read at most every 10 s (the metrics call it at every scrape). */
  private readonly figures: ScrapeFigures<BackupFigures | null>;
  /** BACKUP_DIR, and the bucket when one is set: new archives go to `store`. */
  private readonly local: LocalArchiveStore;
  private readonly remote: S3ArchiveStore | null;
  private readonly store: ArchiveStore;

  constructor(private readonly options: BackupServiceOptions) {
    this.migrations = options.migrations ?? platformMigrations;
    this.local = new LocalArchiveStore(options.directory, options.openArchiveFile);
    this.remote = options.s3 ? new S3ArchiveStore(options.s3, options.logger) : null;
    this.store = this.remote ?? this.local;
    this.figures = new ScrapeFigures<BackupFigures | null>({
      read: () => this.readLatestFigures(),
      initial: null,
      // A scrape must not fail because the database is away: the last figures known are kept.
      onError: (error) => this.options.logger.warn({ err: error }, 'backup figures unavailable'),
    });
    this.schedules = new BackupScheduleService({
      database: options.database,
      audit: options.audit,
      logger: options.logger,
      removeBackup: (row) => this.remove(row),
    });
  }

  get directory(): string {
    return this.local.directory;
  }

  /** Where point-in-time recovery keeps WAL and base backups: the bucket's pitr/, or BACKUP_DIR/pitr. */
  pointInTimeObjects(): ObjectStore {
    return this.remote
      ? this.remote.objects()
      : new LocalObjectStore(join(this.local.directory, PITR_FOLDER));
  }

  /**
   * Starts a backup. Refused with CONFLICT while another runs (on any instance). With `wait`,
   * answers once it has succeeded or failed; otherwise at once, with the running backup.
   */
  async create(actor: Actor, { wait }: BackupCreateInput): Promise<Backup> {
    const requester = {
      organizationId: actor.organizationId,
      userId: actor.userId,
      scheduleId: null,
      audit: auditActor(actor),
    };
    return this.start(requester, wait);
  }

  /** A scheduled run (the scheduler calls it, waiting for the outcome). */
  async runScheduled(schedule: Pick<BackupScheduleRow, 'id' | 'organization_id'>): Promise<Backup> {
    return this.start(
      {
        organizationId: schedule.organization_id,
        userId: null,
        scheduleId: schedule.id,
        audit: { organizationId: schedule.organization_id },
      },
      true,
    );
  }

  private async start(requester: Requester, wait: boolean): Promise<Backup> {
    let session: BackupSession;
    try {
      session = await BackupSession.open(this.options.databaseUrl);
    } catch (error) {
      await this.record({
        type: 'backup_created',
        result: 'failure',
        actor: requester.audit,
        details: { error: messageOf(error), scheduleId: requester.scheduleId },
      });
      if (error instanceof BackupInProgressError) throw new PlatformError('CONFLICT', error.message);
      throw error;
    }
    let row: BackupRow;
    const id = randomUUID();
    try {
      row = await this.options.database.transaction((trx) =>
        insertBackup(trx, {
          id,
          organizationId: requester.organizationId,
          scheduleId: requester.scheduleId,
          path: this.store.locationOf(id),
          createdBy: requester.userId,
        }),
      );
    } catch (error) {
      await session.close();
      throw error;
    }
    const work = this.runBackup(session, row, requester).finally(() => session.close());
    this.running.set(session, work);
    void work.then(
      () => this.running.delete(session),
      () => this.running.delete(session),
    );
    if (wait) return work;
    work.catch(() => undefined);
    return toBackup(row);
  }

  private async runBackup(session: BackupSession, row: BackupRow, requester: Requester): Promise<Backup> {
    const started = performance.now();
    const pgDump = await this.findPgDump();
    let finished: BackupRow;
    try {
      const manifest = await session.run({
        id: row.id,
        store: this.store,
        location: row.path,
        kek: this.options.kek,
        pgDump,
        workDirectory: await this.local.workDirectory(),
      });
      finished = await this.options.database.transaction((trx) => finishBackup(trx, row.id, { manifest }));
      this.figures.invalidate();
      this.options.logger.info(
        {
          backupId: row.id,
          method: manifest.method,
          rows: manifest.totalRows,
          bytes: manifest.totalBytes,
          durationMs: manifest.durationMs,
        },
        'backup written',
      );
    } catch (error) {
      this.options.logger.error({ err: error, backupId: row.id }, 'backup failed');
      finished = await this.options.database.transaction((trx) =>
        finishBackup(trx, row.id, {
          error: messageOf(error),
          durationMs: Math.round(performance.now() - started),
        }),
      );
    }
    const backup = toBackup(finished);
    await this.record({
      type: 'backup_created',
      result: backup.status === 'succeeded' ? 'success' : 'failure',
      actor: requester.audit,
      target: { type: 'backup', id: backup.id },
      details: {
        method: backup.method,
        rows: backup.rows,
        sizeBytes: backup.sizeBytes,
        durationMs: backup.durationMs,
        scheduleId: requester.scheduleId,
        ...(backup.error ? { error: backup.error } : {}),
      },
    });
    return backup;
  }

  /** Every backup, newest first; a cursor naming no backup (deleted since) gives an empty page. */
  async list({ limit, cursor }: BackupListInput): Promise<BackupPage> {
    const rows = await this.options.database.read((db) => listBackups(db, { limit: limit + 1, cursor }));
    return pageOf(rows, limit, toBackup, (row) => row.id);
  }

  async get(id: string): Promise<Backup> {
    return toBackup(await this.find(id));
  }

  /**
   * Reads the whole archive back: manifest.json against the recorded manifest, then every data
   * file's SHA-256, size, gzip integrity and row count. Records when it last passed.
   */
  async verify(actor: Actor, id: string): Promise<BackupVerification> {
    const started = performance.now();
    const row = await this.find(id);
    const manifest = this.restorableManifest(row);
    const store = this.storeFor(row.path);
    const problems = await this.manifestProblems(store, row.path, manifest);
    const key = this.keyOf(manifest, problems);
    const check = key
      ? await verifyArchive((file) => store.read(row.path, file), manifest, key)
      : { ok: false, files: [] };
    const ok = problems.length === 0 && check.ok;
    if (ok) await this.options.database.transaction((trx) => markVerified(trx, id));
    const bad = check.files.filter((f) => !f.ok).map((f) => f.file);
    await this.record({
      type: 'backup_verified',
      result: ok ? 'success' : 'failure',
      actor: auditActor(actor),
      target: { type: 'backup', id },
      details: { problems, damagedFiles: bad },
    });
    return { id, ok, problems, files: check.files, durationMs: Math.round(performance.now() - started) };
  }

  /** Removes the archive's files, then its row. A running backup cannot be deleted. */
  async delete(actor: Actor, id: string): Promise<{ id: string }> {
    const row = await this.find(id);
    if (row.status === 'running') throw new PlatformError('CONFLICT', 'the backup is still running');
    await this.remove(row);
    await this.record({
      type: 'backup_deleted',
      result: 'success',
      actor: auditActor(actor),
      target: { type: 'backup', id },
      details: { scheduleId: row.schedule_id },
    });
    return { id };
  }

  /** Deletes an archive (in BACKUP_DIR or the bucket) and its row, whoever asked (retention uses it too). */
  async remove(row: Pick<BackupRow, 'id' | 'path'>): Promise<void> {
    await this.storeFor(row.path).remove(row.path);
    await this.options.database.transaction((trx) => deleteBackupRow(trx, row.id));
  }

  /**
   * Records the finished archives of the store (the bucket, or BACKUP_DIR) that this database does
   * not know: how a new machine with the bucket's settings and the key-encryption key finds the
   * backups of the one it replaces. Only archives whose manifest opens with the key-encryption key
   * and carries a valid MAC are recorded; the others are named in `refused`.
   */
  async importStored(): Promise<{ imported: string[]; refused: { location: string; reason: string }[] }> {
    const imported: string[] = [];
    const refused: { location: string; reason: string }[] = [];
    for (const location of await this.store.list()) {
      let manifest: Manifest;
      try {
        manifest = await readManifest(this.store, location);
        if (this.store.locationOf(manifest.id) !== location)
          throw new ManifestError('the manifest names another backup');
        if (manifest.format !== MANIFEST_FORMAT)
          throw new ManifestError('an unencrypted archive is not authenticated');
        openArchiveKey(manifest, this.options.kek);
      } catch (error) {
        if (!(error instanceof ManifestError || error instanceof ArchiveDecryptError)) throw error;
        refused.push({ location, reason: error.message });
        continue;
      }
      const row = await this.options.database.transaction((trx) =>
        insertStoredBackup(trx, { organizationId: STORED_BACKUP_ORGANIZATION, path: location, manifest }),
      );
      if (row) imported.push(manifest.id);
    }
    if (imported.length > 0) this.figures.invalidate();
    return { imported, refused };
  }

  /**
   * Restores a successful backup into `targetDatabaseUrl`, or into the platform's own database.
   * See restoreArchive for the guarantees; here: a target other than the platform's own must be
   * on BACKUP_RESTORE_TARGETS (checked from the URL alone, before anything is resolved or
   * connected to); the recorded manifest is the reference (a manifest.json that differs from it
   * is refused); the platform's own database always needs `confirm` (and maintenance, when the
   * service knows about it); a target that cannot be reached gets one answer whatever the cause;
   * the outcome is audited.
   */
  async restore(actor: Actor, input: BackupRestoreInput): Promise<BackupRestoreResult> {
    let destination: Destination;
    try {
      destination = this.destination(input.targetDatabaseUrl);
    } catch (error) {
      if (!(error instanceof RestoreTargetRefusedError)) throw error;
      await this.recordRestore(actor, input.id, 'failure', { error: error.message, refused: error.reason });
      throw new PlatformError(error.reason === 'not_allowed' ? 'FORBIDDEN' : 'BAD_REQUEST', error.message);
    }
    const { platform } = destination;
    const target = { ...destination.described, platform };
    const fail = async (error: unknown, code: 'CONFLICT' | 'BAD_REQUEST') => {
      await this.recordRestore(actor, input.id, 'failure', { target, error: messageOf(error) });
      return new PlatformError(code, messageOf(error));
    };

    const row = await this.find(input.id);
    const manifest = this.restorableManifest(row);
    if (platform && !input.confirm) {
      throw await fail(
        new Error("restoring into the platform's own database replaces all its data: confirm to proceed"),
        'CONFLICT',
      );
    }
    if (platform && this.options.inMaintenance && !this.options.inMaintenance()) {
      throw await fail(
        new Error(
          'put the platform in maintenance (devops.maintenance.set) before restoring into its own database',
        ),
        'CONFLICT',
      );
    }
    const store = this.storeFor(row.path);
    const problems = await this.manifestProblems(store, row.path, manifest);
    const key = this.keyOf(manifest, problems);
    if (problems.length > 0 || !key)
      throw await fail(new Error(`the archive is damaged: ${problems.join('; ')}`), 'CONFLICT');

    try {
      const result = await restoreArchive({
        read: (file) => store.read(row.path, file),
        key,
        manifest,
        connect: destination.connect,
        confirm: input.confirm,
        migrations: this.migrations,
        lockKey: platform ? BACKUP_LOCK : undefined,
      });
      if (platform) this.figures.invalidate();
      await this.recordRestore(actor, input.id, 'success', {
        target,
        schemaVersion: result.schemaVersion,
        migrated: result.migrated,
        replacedData: result.replacedData,
        tables: result.tables.length,
        rows: result.tables.reduce((sum, t) => sum + t.rows, 0),
        durationMs: result.durationMs,
      });
      return { id: input.id, target, ...result };
    } catch (error) {
      if (
        error instanceof ArchiveCorruptError ||
        error instanceof RestoreRefusedError ||
        error instanceof BackupInProgressError
      ) {
        throw await fail(error, 'CONFLICT');
      }
      if (error instanceof RestoreTargetUnreachableError) {
        // The driver's reason stays here: told to the caller, it would map the target's network
        // and accounts (closed port, filtered host, wrong password, missing database).
        this.options.logger.warn(
          { err: error.cause, backupId: input.id, target },
          'restore target could not be reached',
        );
        throw await fail(error, 'BAD_REQUEST');
      }
      throw await fail(
        new Error(`the restore failed and was rolled back, the target is unchanged: ${messageOf(error)}`),
        'CONFLICT',
      );
    }
  }

  /**
   * Where `targetDatabaseUrl` points, refused (RestoreTargetRefusedError) unless it is the
   * platform's own database or on BACKUP_RESTORE_TARGETS. Decided from the text alone.
   */
  private destination(targetDatabaseUrl: string | undefined): Destination {
    const own = this.options.databaseUrl;
    const platformDestination: Destination = {
      platform: true,
      described: describeTarget(own),
      // Its own settings, whatever credentials the caller's URL of it held.
      connect: () => this.openTarget(own),
    };
    if (targetDatabaseUrl === undefined) return platformDestination;
    const parsed = parseTargetUrl(targetDatabaseUrl);
    if (sameDatabase(targetDatabaseUrl, own)) return platformDestination;
    checkAllowed(parsed, this.options.restoreTargets ?? []);
    const policy = this.options.outboundPolicy ?? createOutboundPolicy();
    return {
      platform: false,
      described: describeTarget(targetDatabaseUrl),
      connect: async () => this.openTarget(await connectionSettings(parsed, policy)),
    };
  }

  private async openTarget(settings: string | pg.ClientConfig): Promise<DedicatedConnection> {
    try {
      return await DedicatedConnection.open(settings, 'beauty-crafter-restore');
    } catch (error) {
      throw new RestoreTargetUnreachableError(error);
    }
  }

  /** The latest successful backup's figures, for the metrics (see ScrapeFigures). */
  latestFigures(): Promise<BackupFigures | null> {
    return this.figures.get();
  }

  private async readLatestFigures(): Promise<BackupFigures | null> {
    const row = await this.options.database.read((db) => latestSuccess(db));
    return row?.finished_at
      ? {
          lastSuccessAt: new Date(row.finished_at),
          durationSeconds: (row.duration_ms ?? 0) / 1000,
          sizeBytes: Number(row.size_bytes ?? 0),
        }
      : null;
  }

  /**
   * Cleans up after an instance that stopped mid-backup: when no backup runs anywhere (the lock
   * is free), rows still `running` are marked failed and half-written directories are removed.
   */
  async recoverInterrupted(): Promise<{ failed: string[]; removed: string[] }> {
    const connection = await DedicatedConnection.open(this.options.databaseUrl, 'beauty-crafter-backup');
    try {
      if (!(await connection.tryLock(BACKUP_LOCK))) return { failed: [], removed: [] };
      const failed = await this.options.database.transaction((trx) => failInterruptedBackups(trx));
      const removed = await this.local.removeDrafts();
      try {
        if (this.remote) removed.push(...(await this.remote.removeDrafts()));
      } catch (error) {
        // Left for the next start: the files of an unfinished archive are never listed meanwhile.
        this.options.logger.warn({ err: error }, 'unfinished archives in the bucket could not be removed');
      }
      return { failed, removed };
    } finally {
      await connection.close();
    }
  }

  /** Waits for the backups this instance is running, then closes the bucket's client. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
    this.remote?.close();
  }

  /**
   * Cancels the backups this instance is running (shutdown's deadline): each ends `failed` with
   * `reason`, its partial archive removed and its lock released. Resolves once they are recorded.
   */
  async interrupt(reason: string): Promise<void> {
    if (this.running.size === 0) return;
    this.options.logger.warn({ backups: this.running.size, reason }, 'cancelling running backups');
    await Promise.allSettled([
      ...[...this.running.keys()].map((session) => session.cancel(reason)),
      ...this.running.values(),
    ]);
  }

  private async find(id: string): Promise<BackupRow> {
    const row = await this.options.database.read((db) => findBackup(db, id));
    if (!row) throw new PlatformError('NOT_FOUND', 'no such backup');
    return row;
  }

  private restorableManifest(row: BackupRow) {
    if (row.status !== 'succeeded')
      throw new PlatformError(
        'CONFLICT',
        `the backup ${row.status === 'running' ? 'is still running' : 'failed'}`,
      );
    const manifest = recordedManifest(row);
    if (!manifest) throw new PlatformError('CONFLICT', 'the backup has no readable manifest');
    return manifest;
  }

  /** The store an archive is in: BACKUP_DIR, or the bucket (CONFLICT when this instance has no way to it). */
  private storeFor(location: string): ArchiveStore {
    if (this.remote?.holds(location)) return this.remote;
    if (this.local.holds(location)) return this.local;
    throw new PlatformError(
      'CONFLICT',
      `the archive is stored at ${location}, which this instance's BACKUP_S3_* settings do not reach`,
    );
  }

  /** The archive's key, or null with the reason added to `problems` (wrong key, tampered manifest). */
  private keyOf(manifest: Manifest, problems: string[]): ArchiveKey | null {
    try {
      return openArchiveKey(manifest, this.options.kek);
    } catch (error) {
      if (!(error instanceof ArchiveDecryptError)) throw error;
      problems.push(error.message);
      return null;
    }
  }

  /** manifest.json must exist and say what the database recorded when the archive was written. */
  private async manifestProblems(
    store: ArchiveStore,
    location: string,
    recorded: ReturnType<typeof recordedManifest>,
  ): Promise<string[]> {
    try {
      const onDisk = await readManifest(store, location);
      return isDeepStrictEqual(onDisk, recorded) ? [] : ['manifest.json differs from the recorded manifest'];
    } catch (error) {
      if (error instanceof ManifestError) return [error.message];
      throw error;
    }
  }

  private findPgDump(): Promise<PgDumpTool | null> {
    const path = this.options.pgDump === undefined ? 'pg_dump' : this.options.pgDump;
    this.pgDump ??= path === null ? Promise.resolve(null) : detectPgDump(path);
    return this.pgDump;
  }

  private async recordRestore(
    actor: Actor,
    id: string,
    result: 'success' | 'failure',
    details: Record<string, unknown>,
  ): Promise<void> {
    // A platform event has no organization: one that a restore of the platform's own database
    // has just removed does not stop it from being recorded.
    await this.record({
      type: 'backup_restored',
      result,
      actor: auditActor(actor),
      target: { type: 'backup', id },
      details,
    });
  }

  /**
   * Every backup event is the platform's (scope 'platform'). Audit events outlive the request: a
   * failure to write one is logged, never thrown over the outcome.
   */
  private async record(event: AuditEvent): Promise<void> {
    try {
      await this.options.database.transaction((trx) =>
        this.options.audit.record(trx, { ...event, scope: 'platform' }),
      );
    } catch (error) {
      this.options.logger.error({ err: error, type: event.type }, 'audit event not recorded');
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
