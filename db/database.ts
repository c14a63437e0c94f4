import type { AlertRulesTable } from './repositories/alert-rules.table';
import type {
  AlertEvaluatorLeaseTable,
  AlertHistoryTable,
  AlertStatesTable,
} from './repositories/alert-states.table';
import type { AlertNotificationsTable, AlertWebhooksTable } from './repositories/alert-webhooks.table';
import type { AnnotationsTable } from './repositories/annotations.table';
import type { ApiKeyVerificationsTable } from './repositories/api-key-verifications.table';
import type { ApiKeysTable } from './repositories/api-keys.table';
import type { AuditEventsTable } from './repositories/audit-events.table';
import type { BackupSchedulesTable } from './repositories/backup-schedules.table';
import type { BackupsTable } from './repositories/backups.table';
import type { BadVersionsTable } from './repositories/bad-versions.table';
import type { DeploymentEventsTable } from './repositories/deployment-events.table';
import type { DeploymentsTable } from './repositories/deployments.table';
import type { ConfigRevisionsTable, EnvironmentsTable } from './repositories/environments.table';
import type { InvitationsTable } from './repositories/invitations.table';
import type { LoginFailuresTable } from './repositories/login-failures.table';
import type { MetricHistoryTable } from './repositories/metric-history.table';
import type { OrganizationsTable } from './repositories/organizations.table';
import type {
  PasskeyRegistrationsTable,
  PasskeySignInsTable,
  PasskeysTable,
} from './repositories/passkeys.table';
import type { PlatformSettingsTable } from './repositories/platform-settings.table';
import type { RateLimitsTable } from './repositories/rate-limits.table';
import type {
  RecoveryCodesTable,
  SecondFactorChallengesTable,
  TotpFactorsTable,
} from './repositories/second-factors.table';
import type { SelfTestScratchTable } from './repositories/self-test.table';
import type {
  RefreshTokensTable,
  SessionsTable,
  SessionTombstonesTable,
} from './repositories/sessions.table';
import type { SigningKeysTable } from './repositories/signing-keys.table';
import type { UsersTable } from './repositories/users.table';

/**
 * The platform's database: each table's types live beside its repository (db/repositories/*.table.ts).
 * Migrations in ./migrations create exactly these tables.
 */
export interface Database {
  annotations: AnnotationsTable;
  self_test_scratch: SelfTestScratchTable;
  rate_limits: RateLimitsTable;
  organizations: OrganizationsTable;
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  api_keys: ApiKeysTable;
  api_key_verifications: ApiKeyVerificationsTable;
  signing_keys: SigningKeysTable;
  audit_events: AuditEventsTable;
  login_failures: LoginFailuresTable;
  platform_settings: PlatformSettingsTable;
  metric_history: MetricHistoryTable;
  alert_rules: AlertRulesTable;
  alert_states: AlertStatesTable;
  alert_history: AlertHistoryTable;
  alert_webhooks: AlertWebhooksTable;
  alert_notifications: AlertNotificationsTable;
  alert_evaluator_lease: AlertEvaluatorLeaseTable;
  deployments: DeploymentsTable;
  deployment_events: DeploymentEventsTable;
  bad_versions: BadVersionsTable;
  backups: BackupsTable;
  backup_schedules: BackupSchedulesTable;
  environments: EnvironmentsTable;
  config_revisions: ConfigRevisionsTable;
  invitations: InvitationsTable;
  session_tombstones: SessionTombstonesTable;
  totp_factors: TotpFactorsTable;
  recovery_codes: RecoveryCodesTable;
  second_factor_challenges: SecondFactorChallengesTable;
  passkeys: PasskeysTable;
  passkey_registrations: PasskeyRegistrationsTable;
  passkey_sign_ins: PasskeySignInsTable;
}
