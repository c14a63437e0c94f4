import { join } from 'node:path';
import { walArchiveSettings } from '../../db/backup/wal-archiving';
import type { PlatformDatabase } from '../../db/connect';
import type { AuditLog } from '../base/audit';
import { type Config, ConfigError } from '../base/config';
import type { Logger } from '../base/logger';
import { PITR_FOLDER } from '../services/backups/archive-store';
import { CronError, parseCron } from '../services/backups/cron';
import { LocalObjectStore, type ObjectStore } from '../services/backups/pitr/object-store';
import { PointInTimeRecovery } from '../services/backups/pitr/service';
import { S3ArchiveStore } from '../services/backups/s3-archive-store';
import type { BackupService } from '../services/backups/service';
import { backupBucket, backupDirectory } from './backup-storage';

/** The data directory base backups read: BACKUP_PITR_DATA_DIR, or the embedded server's. */
export function pointInTimeDataDir(config: Config): string {
  return config.BACKUP_PITR_DATA_DIR ?? join(config.DATA_DIR, 'postgres');
}

/** Where the server's archive_command puts WAL files for the platform to ship. */
export function pointInTimeSpoolDir(config: Config): string {
  return config.BACKUP_PITR_SPOOL_DIR ?? join(config.DATA_DIR, 'wal-spool');
}

/**
 * The embedded server's extra settings: WAL archiving into the spool when BACKUP_PITR is on.
 * Every start of it takes them (the platform's, and a script's such as migrations): a server
 * started once without archiving would leave a gap no recovery can cross.
 */
export function embeddedServerSettings(config: Config): Record<string, string> {
  if (!config.BACKUP_PITR) return {};
  return walArchiveSettings(pointInTimeSpoolDir(config), {
    archiveTimeoutSeconds: config.BACKUP_PITR_ARCHIVE_TIMEOUT_S,
  });
}

export function buildPointInTime(
  config: Config,
  deps: {
    backups: BackupService;
    database: PlatformDatabase;
    databaseUrl: string;
    kek: Uint8Array;
    audit: AuditLog;
    logger: Logger;
  },
): PointInTimeRecovery {
  let schedule: ReturnType<typeof parseCron>;
  try {
    schedule = parseCron(config.BACKUP_PITR_BASE_SCHEDULE);
  } catch (error) {
    if (error instanceof CronError) {
      throw new ConfigError(`invalid configuration: BACKUP_PITR_BASE_SCHEDULE ${error.message}`);
    }
    throw error;
  }
  const dataDir = pointInTimeDataDir(config);
  return new PointInTimeRecovery({
    store: deps.backups.pointInTimeObjects(),
    kek: deps.kek,
    spoolDir: pointInTimeSpoolDir(config),
    dataDir,
    databaseUrl: deps.databaseUrl,
    // The embedded server's layout keeps its password beside its folder; read when it is there.
    passwordFile: `${dataDir}.password`,
    database: deps.database,
    audit: deps.audit,
    logger: deps.logger,
    baseBackupSchedule: schedule,
    keepBaseBackups: config.BACKUP_PITR_KEEP_BASE_BACKUPS,
    shipIntervalMs: config.BACKUP_PITR_SHIP_INTERVAL_MS,
  });
}

/**
 * The store point-in-time recovery reads, for a script (recovery on a new machine): the bucket
 * of BACKUP_S3_* when set, else BACKUP_DIR/pitr. `close()` ends the bucket's connections.
 */
export function pointInTimeStore(config: Config, logger: Logger): { store: ObjectStore; close(): void } {
  const settings = backupBucket(config);
  if (settings) {
    const bucket = new S3ArchiveStore(settings, logger);
    return { store: bucket.objects(), close: () => bucket.close() };
  }
  return { store: new LocalObjectStore(join(backupDirectory(config), PITR_FOLDER)), close: () => undefined };
}
