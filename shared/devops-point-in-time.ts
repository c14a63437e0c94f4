import { z } from 'zod';

/*
 * Point-in-time recovery as an operator reads it: how far back and how recently the platform's
 * database can be recovered, its base backups, and how WAL archiving is keeping up.
 */

const dateTime = z.string().describe('ISO 8601 date-time');
const failure = z.object({ message: z.string(), at: dateTime }).nullable();

export const pointInTimeStatus = z.object({
  enabled: z.boolean(),
  /** Why it is off (BACKUP_PITR unset, or a server the platform cannot archive). */
  reason: z.string().nullable(),
  /** Where WAL and base backups go: BACKUP_DIR/pitr or s3://bucket/prefix/pitr/. */
  store: z.string().nullable(),
  /**
   * The times a recovery can reach: from the oldest base backup's end to about when the newest
   * archived WAL file was stored (commits up to shortly before it). Null without a base backup.
   */
  window: z.object({ from: dateTime, to: dateTime }).nullable(),
  /** Newest first. */
  baseBackups: z.array(
    z.object({
      id: z.string(),
      startedAt: dateTime,
      finishedAt: dateTime,
      startWalFile: z.string(),
      timeline: z.number().int(),
      /** The data directory's size, before compression. */
      dataBytes: z.number().int(),
    }),
  ),
  baseBackupRunning: z.boolean(),
  nextBaseBackupAt: dateTime.nullable(),
  lastBaseBackupError: failure,
  wal: z
    .object({
      storedFiles: z.number().int(),
      storedBytes: z.number().int(),
      newestFile: z.string().nullable(),
      /** Archived by PostgreSQL into the spool, not yet in the store. */
      pendingFiles: z.number().int(),
      oldestPendingSeconds: z.number().int(),
      shippedSinceStart: z.number().int(),
      failuresSinceStart: z.number().int(),
      lastError: failure,
      /** PostgreSQL's own account (pg_stat_archiver); null when it could not be read. */
      server: z
        .object({
          archivedCount: z.number().int(),
          lastArchivedWal: z.string().nullable(),
          lastArchivedAt: dateTime.nullable(),
          failedCount: z.number().int(),
          lastFailedWal: z.string().nullable(),
          lastFailedAt: dateTime.nullable(),
        })
        .nullable(),
    })
    .nullable(),
});
export type PointInTimeStatus = z.infer<typeof pointInTimeStatus>;

export const baseBackupResult = pointInTimeStatus.shape.baseBackups.element;
export type BaseBackupSummary = z.infer<typeof baseBackupResult>;
