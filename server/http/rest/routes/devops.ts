import { z } from 'zod';
import {
  backupPage,
  backupRestoreResult,
  backupScheduleView,
  backupVerification,
  backupView,
  deletedId,
} from '../../../../shared/devops-backups';
import { deploymentPage, deploymentView, deploymentWithEvents } from '../../../../shared/devops-deployments';
import {
  configChange,
  configHistoryPage,
  configRevisionDiff,
  environmentComparison,
  environmentSummary,
  environmentView,
} from '../../../../shared/devops-environments';
import { drainResult, maintenanceState } from '../../../../shared/devops-instance';
import { baseBackupResult, pointInTimeStatus } from '../../../../shared/devops-point-in-time';
import { restRoutes } from '../route';

const PAGED =
  'Paged: ask with `limit` and, for the next page, the previous answer’s `nextCursor` as `cursor`; ' +
  'the answer is `{ items, nextCursor }`, `nextCursor` null on the last page.';

/** REST routes of `devops.*` (docs/api.md, "REST"). */
export const devopsRoutes = restRoutes({
  'devops.instance.drain': {
    method: 'POST',
    path: '/devops/instance/drain',
    summary: 'Drain the instance that receives the call (readiness 503), or cancel a drain',
    description:
      'For a blue-green cut-over: load balancers stop sending to this instance while the requests ' +
      'it holds are still served. With `waitSeconds`, answers once the others in flight have ' +
      'finished (or the wait is over); `draining: false` cancels a drain.',
    output: drainResult,
  },
  'devops.maintenance.get': {
    method: 'GET',
    path: '/devops/maintenance',
    summary: 'Whether the platform is in maintenance, since when and with what message',
    output: maintenanceState,
  },
  'devops.maintenance.set': {
    method: 'PUT',
    path: '/devops/maintenance',
    summary: 'Switch maintenance on (mutations answer 503 with Retry-After) or off',
    description:
      'Applies to every instance. Reads, health, signing in, these switches and backup work go on ' +
      'in maintenance; other mutations answer 503 SERVICE_UNAVAILABLE with the message.',
    output: maintenanceState,
  },

  'devops.environments.list': {
    method: 'GET',
    path: '/environments',
    summary: 'Your organization’s environments with their current revision numbers',
    output: z.array(environmentSummary),
  },
  'devops.environments.get': {
    method: 'GET',
    path: '/environments/{name}',
    summary: 'An environment and its current configuration (secrets redacted to fingerprints)',
    output: environmentView,
  },
  'devops.environments.create': {
    method: 'POST',
    path: '/environments',
    summary: 'Create an environment, with an empty configuration as revision 1',
    description: 'A name already taken answers 409 CONFLICT.',
    output: environmentView,
    status: 201,
  },
  'devops.environments.setConfig': {
    method: 'PUT',
    path: '/environments/{name}/config',
    summary: 'Change an environment’s configuration: a new revision with its author and message',
    description:
      '`values` (when given) replace all plain values; `secrets` set (a string) or delete (null) the ' +
      'secrets they name. A change that changes nothing makes no revision (`created: false`). ' +
      'A protected environment needs `expectedRevision`; another revision being current answers ' +
      '409 CONFLICT.',
    output: configChange,
  },
  'devops.environments.history': {
    method: 'GET',
    path: '/environments/{name}/history',
    summary: 'An environment’s revisions, newest first, each with its diff from the one before',
    description: PAGED,
    output: configHistoryPage,
  },
  'devops.environments.diff': {
    method: 'GET',
    path: '/environments/{name}/diff',
    summary: 'What changed between two revisions of an environment (secrets by name only)',
    output: configRevisionDiff,
  },
  'devops.environments.rollback': {
    method: 'POST',
    path: '/environments/{name}/rollback',
    summary: 'Make an earlier revision’s values and secrets current again, as a new revision',
    description: 'As for a configuration change, `expectedRevision` not current answers 409 CONFLICT.',
    output: configChange,
  },
  'devops.environments.compare': {
    method: 'GET',
    path: '/environments/{a}/compare/{b}',
    summary: 'Two environments’ current configurations side by side (secrets by fingerprint)',
    output: environmentComparison,
  },

  'devops.deployments.create': {
    method: 'POST',
    path: '/deployments',
    summary: 'Start a deployment of a service version to an environment (canary, blue-green, rolling)',
    description:
      'The deployment engine carries it out through the provider (`webhook` or `kubernetes`). ' +
      'Another deployment of the same service to the same environment under way answers 409 CONFLICT.',
    output: deploymentView,
    status: 201,
  },
  'devops.deployments.list': {
    method: 'GET',
    path: '/deployments',
    summary: 'Your organization’s deployments, newest first, by service, environment and status',
    description: PAGED,
    output: deploymentPage,
  },
  'devops.deployments.get': {
    method: 'GET',
    path: '/deployments/{id}',
    summary: 'A deployment with its plan, current step and events',
    output: deploymentWithEvents,
  },
  'devops.deployments.approve': {
    method: 'POST',
    path: '/deployments/{id}/approve',
    summary: 'Let a paused deployment go on past its gate or pause, or retry its failed step',
    description:
      'A deployment not waiting for approval, or waiting at another `step` than given, answers 409 CONFLICT.',
    output: deploymentView,
  },
  'devops.deployments.promote': {
    method: 'POST',
    path: '/deployments/{id}/promote',
    summary: 'Skip a deployment’s remaining steps and promote the new version now',
    description: 'A deployment not progressing or paused answers 409 CONFLICT.',
    output: deploymentView,
  },
  'devops.deployments.abort': {
    method: 'POST',
    path: '/deployments/{id}/abort',
    summary: 'Stop a deployment under way and return traffic to the stable version',
    description: 'A deployment already finished answers 409 CONFLICT.',
    output: deploymentView,
  },
  'devops.deployments.rollback': {
    method: 'POST',
    path: '/deployments/{id}/rollback',
    summary: 'Return a promoted deployment’s traffic to the version it replaced',
    description:
      'With `markBad`, the rolled-back version can never be deployed again. A deployment still ' +
      'under way, or replaced by a later one, answers 409 CONFLICT.',
    output: deploymentView,
  },

  'devops.backups.create': {
    method: 'POST',
    path: '/backups',
    summary: 'Take a backup of the platform’s database',
    description:
      'Answers at once with the running backup, or with `wait: true` once it has succeeded or ' +
      'failed. Another backup running answers 409 CONFLICT.',
    output: backupView,
    status: 201,
  },
  'devops.backups.list': {
    method: 'GET',
    path: '/backups',
    summary: 'Every backup, newest first',
    description: PAGED,
    output: backupPage,
  },
  'devops.backups.get': {
    method: 'GET',
    path: '/backups/{id}',
    summary: 'A backup: status, method, size, tables',
    output: backupView,
  },
  'devops.backups.verify': {
    method: 'POST',
    path: '/backups/{id}/verify',
    summary: 'Read a backup’s archive back and check every file against its manifest',
    description: 'A backup that did not succeed answers 409 CONFLICT.',
    output: backupVerification,
  },
  'devops.backups.delete': {
    method: 'DELETE',
    path: '/backups/{id}',
    summary: 'Delete a backup’s archive and its record',
    description: 'A backup still running answers 409 CONFLICT.',
    output: deletedId,
  },
  'devops.backups.restore': {
    method: 'POST',
    path: '/backups/{id}/restore',
    summary: 'Restore a backup into the platform’s own database or an allowed target database',
    description:
      'Into the platform’s own database: `confirm: true`, and maintenance on first. Another ' +
      'target must be on the server’s BACKUP_RESTORE_TARGETS (403 otherwise). A damaged archive, ' +
      'a target with data and no `confirm`, or a failed restore (rolled back) answer 409 CONFLICT.',
    output: backupRestoreResult,
  },

  'devops.backups.schedules.list': {
    method: 'GET',
    path: '/backup-schedules',
    summary: 'Backup schedules: cron, retention, next run',
    output: z.array(backupScheduleView),
  },
  'devops.backups.schedules.create': {
    method: 'POST',
    path: '/backup-schedules',
    summary: 'Schedule backups (cron in UTC) with a retention by count and/or age',
    output: backupScheduleView,
    status: 201,
  },
  'devops.backups.schedules.update': {
    method: 'PATCH',
    path: '/backup-schedules/{id}',
    summary: 'Change a backup schedule: the fields given',
    output: backupScheduleView,
  },
  'devops.backups.schedules.delete': {
    method: 'DELETE',
    path: '/backup-schedules/{id}',
    summary: 'Delete a backup schedule (its backups stay)',
    output: deletedId,
  },

  'devops.backups.pointInTime.status': {
    method: 'GET',
    path: '/point-in-time',
    summary: 'Point-in-time recovery: the window a recovery can reach, base backups, WAL archiving',
    description:
      '`enabled` false (with `reason`) when BACKUP_PITR is off. Recovery itself runs offline: ' +
      '`npm run db:recover -- --to <time>` (docs/backups.md).',
    output: pointInTimeStatus,
  },
  'devops.backups.pointInTime.baseBackup': {
    method: 'POST',
    path: '/point-in-time/base-backups',
    summary: 'Take a physical base backup now (then apply the retention)',
    description:
      'Answers once it is stored. Point-in-time recovery off, or a failed backup, answers 409 ' +
      'CONFLICT with the reason.',
    output: baseBackupResult,
    status: 201,
  },
});
