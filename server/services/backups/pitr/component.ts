import type { Component } from '../../../base/initializer';
import type { PointInTimeRecovery } from './service';

/**
 * Point-in-time recovery at start and stop: WAL shipping begins (and a first base backup when
 * the store has none); at stop the spool is shipped once more. Not critical: an instance whose
 * store is away still serves (backup_wal_oldest_pending_seconds tells).
 */
export function pointInTimeComponent(pitr: PointInTimeRecovery): Component {
  return {
    name: 'point-in-time-recovery',
    phase: 'monitoring',
    critical: false,
    start: () => pitr.start(),
    stop: () => pitr.stop(),
  };
}
