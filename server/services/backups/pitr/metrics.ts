import client, { type Registry } from 'prom-client';
import { NOTHING_SHIPPED, type WalShipper } from './wal-shipper';

const OFF = { shipper: { current: () => NOTHING_SHIPPED }, lastBaseBackupAt: () => null };

/**
 * WAL archiving's gauges, read from the shipper at scrape time. The one to alert on is the age
 * of the oldest WAL file not yet in the store: it grows while the store is away, and it is what a
 * machine lost now would lose (deploy/prometheus rules: BackupWalShippingStalled). Exported with
 * BACKUP_PITR off too, all 0 (as the backup gauges before a first backup), so that dashboards and
 * rules find them on every installation.
 */
export function bindPointInTimeMetrics(
  registry: Registry,
  on: { shipper: Pick<WalShipper, 'current'>; lastBaseBackupAt(): Date | null } | null,
): void {
  const pitr = on ?? OFF;
  new client.Gauge({
    name: 'backup_wal_pending_files',
    help: 'WAL files archived by PostgreSQL and not yet stored in the backup store.',
    registers: [registry],
    collect() {
      this.set(pitr.shipper.current().pending);
    },
  });
  new client.Gauge({
    name: 'backup_wal_oldest_pending_seconds',
    help: 'Age of the oldest WAL file not yet stored in the backup store (0 when none waits).',
    registers: [registry],
    collect() {
      this.set(pitr.shipper.current().oldestPendingSeconds);
    },
  });
  new client.Counter({
    name: 'backup_wal_shipped_total',
    help: 'WAL files stored in the backup store by this instance.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(pitr.shipper.current().shipped);
    },
  });
  new client.Counter({
    name: 'backup_wal_ship_failures_total',
    help: 'Attempts to store a WAL file in the backup store that failed.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(pitr.shipper.current().failures);
    },
  });
  new client.Gauge({
    name: 'backup_base_last_success_timestamp_seconds',
    help: 'When the latest base backup for point-in-time recovery finished (0 before the first).',
    registers: [registry],
    collect() {
      this.set((pitr.lastBaseBackupAt()?.getTime() ?? 0) / 1000);
    },
  });
}
