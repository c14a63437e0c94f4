import client, { type Registry } from 'prom-client';
import type { BackupFigures } from './service';

/**
 * Backup gauges, read from the service at scrape time: when the latest successful backup (of any
 * instance: read from the database) finished, how long it took and how large it is. All 0 until a
 * first backup has succeeded, so a staleness alert (`time() - backup_last_success_timestamp_seconds
 * > 86400`) fires for a platform that was never backed up too.
 */
export function bindBackupMetrics(
  registry: Registry,
  service: { latestFigures(): Promise<BackupFigures | null> },
): void {
  const gauge = (name: string, help: string, pick: (figures: BackupFigures) => number) =>
    new client.Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const figures = await service.latestFigures();
        this.set(figures ? pick(figures) : 0);
      },
    });
  gauge(
    'backup_last_success_timestamp_seconds',
    'When the latest successful backup of the database finished, in seconds since the epoch.',
    (f) => f.lastSuccessAt.getTime() / 1000,
  );
  gauge(
    'backup_last_duration_seconds',
    'How long the latest successful backup took.',
    (f) => f.durationSeconds,
  );
  gauge('backup_last_size_bytes', 'Compressed size of the latest successful backup.', (f) => f.sizeBytes);
}
