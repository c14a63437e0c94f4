import type { Component } from '../../base/initializer';
import type { Logger } from '../../base/logger';
import type { BackupScheduler } from './scheduler';
import type { BackupService } from './service';

/**
 * Backups at start and stop: clean up after an instance that stopped mid-backup, record the
 * archives in the store that the database does not know (a new machine's first start), run the
 * scheduler, and at stop let backups under way finish (shutdown cancels those still running at
 * its deadline: BackupService.interrupt). Not critical: an instance that cannot
 * back up still serves requests (the staleness of backup_last_success_timestamp_seconds tells).
 */
export function backupsComponent(
  { service, scheduler }: { service: BackupService; scheduler: BackupScheduler },
  logger: Logger,
): Component {
  return {
    name: 'backups',
    phase: 'monitoring',
    critical: false,
    async start() {
      const recovered = await service.recoverInterrupted();
      if (recovered.failed.length + recovered.removed.length > 0) {
        logger.warn(recovered, 'backups interrupted by a stopped instance cleaned up');
      }
      // A new machine pointed at the bucket finds the backups of the one it replaces. A bucket
      // out of reach at start must not keep the schedules from running: it is logged, not thrown.
      try {
        const stored = await service.importStored();
        if (stored.imported.length > 0)
          logger.info({ imported: stored.imported }, 'backups found in the store recorded');
        if (stored.refused.length > 0)
          logger.warn({ refused: stored.refused }, 'archives in the store not recorded');
      } catch (error) {
        logger.warn({ err: error }, 'the backup store could not be read at start');
      }
      scheduler.start();
    },
    async stop() {
      await scheduler.stop();
      await service.stop();
    },
  };
}
