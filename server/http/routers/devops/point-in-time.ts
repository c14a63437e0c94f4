import type { BaseBackupSummary, PointInTimeStatus } from '../../../../shared/devops-point-in-time';
import type { Actor } from '../../../base/actor';
import { PlatformError } from '../../../base/errors';
import { PointInTimeUnavailableError } from '../../../services/backups/pitr/base-backup';
import type { PointInTimeRecovery } from '../../../services/backups/pitr/service';

const OFF = 'point-in-time recovery is off (BACKUP_PITR; docs/backups.md)';

/** The status, or what says it is off. */
export function pointInTimeStatus(pitr: PointInTimeRecovery | null): Promise<PointInTimeStatus> {
  if (pitr) return pitr.status();
  return Promise.resolve({
    enabled: false,
    reason: OFF,
    store: null,
    window: null,
    baseBackups: [],
    baseBackupRunning: false,
    nextBaseBackupAt: null,
    lastBaseBackupError: null,
    wal: null,
  });
}

/** A base backup now; CONFLICT when it is off or the server cannot take one. */
export async function takeBaseBackup(
  pitr: PointInTimeRecovery | null,
  actor: Actor,
): Promise<BaseBackupSummary> {
  if (!pitr) throw new PlatformError('CONFLICT', OFF);
  try {
    const base = await pitr.takeBaseBackup(actor);
    return {
      id: base.id,
      startedAt: base.startedAt,
      finishedAt: base.finishedAt,
      startWalFile: base.startWalFile,
      timeline: base.timeline,
      dataBytes: base.dataBytes,
    };
  } catch (error) {
    if (error instanceof PlatformError) throw error;
    const why =
      error instanceof PointInTimeUnavailableError
        ? error.message
        : `base backup failed: ${(error as Error).message}`;
    throw new PlatformError('CONFLICT', why);
  }
}
