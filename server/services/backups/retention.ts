import type { BackupStatus } from '../../../db/repositories/backups.table';

export interface RetentionPolicy {
  /** Keep the newest N successful backups; null: no count rule. */
  count: number | null;
  /** Keep successful backups younger than D days; null: no age rule. */
  days: number | null;
}

export interface RetentionCandidate {
  id: string;
  status: BackupStatus;
  createdAt: Date;
}

const DAY_MS = 86_400_000;

/**
 * The ids of a schedule's backups that retention removes:
 * - a successful backup is kept while any rule keeps it (the newest `count`, or those younger
 *   than `days`); with no rule at all, every one is kept;
 * - the newest successful backup is always kept, whatever the rules say: a schedule whose
 *   backups have been failing for longer than `days` must not lose its last good one;
 * - a failed backup is removed once a newer successful one exists (it is superseded);
 * - a running backup is never touched.
 */
export function expiredBackups(
  backups: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  now: Date,
): string[] {
  const newestFirst = [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const succeeded = newestFirst.filter((b) => b.status === 'succeeded');
  const newestSuccess = succeeded[0];
  const expired: string[] = [];
  if (policy.count !== null || policy.days !== null) {
    succeeded.forEach((backup, rank) => {
      if (rank === 0) return;
      const byCount = policy.count !== null && rank < policy.count;
      const byAge = policy.days !== null && now.getTime() - backup.createdAt.getTime() < policy.days * DAY_MS;
      if (!byCount && !byAge) expired.push(backup.id);
    });
  }
  if (newestSuccess) {
    for (const backup of newestFirst) {
      if (backup.status === 'failed' && backup.createdAt < newestSuccess.createdAt) expired.push(backup.id);
    }
  }
  return expired;
}
