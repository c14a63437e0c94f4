import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { PlatformRole, Role } from '../shared/auth';
import type {
  DeploymentEventType,
  DeploymentProviderRef,
  DeploymentSpec,
  DeploymentStatus,
  DeploymentStrategyName,
  StepState,
} from '../shared/devops-deployments';

/**
 * Table types of the platform's database: the one place the server learns column types from.
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
  signing_keys: SigningKeysTable;
  audit_events: AuditEventsTable;
  login_failures: LoginFailuresTable;
  platform_settings: PlatformSettingsTable;
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
}

export interface AnnotationsTable {
  id: Generated<number>;
  organization_id: string;
  text: string;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  /** Client-chosen key, unique per organization, that makes a retried create return the first row. */
  idempotency_key: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type AnnotationRow = Selectable<AnnotationsTable>;
export type NewAnnotation = Insertable<AnnotationsTable>;

/** Rows live for the length of one self-test: written, read back and deleted. */
export interface SelfTestScratchTable {
  id: string;
  payload: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** GCRA state, one row per rate-limited key; see server/base/rate-limit/postgres-store.ts. */
export interface RateLimitsTable {
  key: string;
  /** Theoretical arrival time, ms since the epoch; a row whose tat has passed is as good as absent. */
  tat: number;
  /** Whether the latest request on the key was admitted: how the upsert reports its decision. */
  last_allowed: boolean;
}

export type { PlatformRole, Role };

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  created_at: CreatedAt;
  /** Set while suspended: its sessions and keys are refused, its users cannot sign in. */
  suspended_at: NullableTimestamp;
  suspended_reason: string | null;
}
export type OrganizationRow = Selectable<OrganizationsTable>;

/** An invitation to join an organization: accepted once, before it expires, unless revoked. */
export interface InvitationsTable {
  id: Generated<string>;
  organization_id: string;
  /** Lower-cased, like users.email. */
  email: string;
  role: Role;
  /** Hex SHA-256 of the token; the token itself is shown once and never stored. */
  token_hash: string;
  expires_at: Date | string;
  invited_by: string | null;
  created_at: CreatedAt;
  accepted_at: NullableTimestamp;
  accepted_user_id: string | null;
  revoked_at: NullableTimestamp;
}
export type InvitationRow = Selectable<InvitationsTable>;

export interface UsersTable {
  id: Generated<string>;
  organization_id: string;
  /** Always lower-case: the unique index is then case-insensitive. */
  email: string;
  name: Generated<string>;
  /** PHC string (`$scrypt$ln=17,r=8,p=1$…`); see server/services/auth/passwords.ts. */
  password_hash: string;
  role: Role;
  /** Authority over the installation (platform scope), separate from the organization role; null: none. */
  platform_role: ColumnType<PlatformRole | null, PlatformRole | null | undefined, PlatformRole | null>;
  disabled: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
  password_changed_at: Timestamp;
}
export type UserRow = Selectable<UsersTable>;

/** One login on one device: a refresh-token family. */
export interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  organization_id: string;
  created_at: CreatedAt;
  last_used_at: Timestamp;
  /** Absolute end of the session; the idle timeout counts from last_used_at. */
  expires_at: Date | string;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
  ip: string | null;
  user_agent: string | null;
}
export type SessionRow = Selectable<SessionsTable>;

/** A deleted session, remembered for a day (the longest access-token lifetime): its tokens stay refused. */
export interface SessionTombstonesTable {
  id: string;
  revoked_at: Date | string;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  session_id: string;
  /** Hex SHA-256 of the token; the token itself is never stored. */
  token_hash: string;
  parent_id: string | null;
  created_at: CreatedAt;
  /** When this token's child was issued; null while it is the family's current token. */
  rotated_at: NullableTimestamp;
}
export type RefreshTokenRow = Selectable<RefreshTokensTable>;

/** A named rate limit of an API key: `limit` requests per `periodMs`. */
export interface ApiKeyRateLimit {
  name: string;
  limit: number;
  periodMs: number;
}

export interface ApiKeysTable {
  id: Generated<string>;
  organization_id: string;
  owner_id: string;
  name: string;
  /** Hex SHA-256 of the whole key; the key itself is never stored. */
  key_hash: string;
  /** The key's first characters, for listings. */
  prefix: string;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  expires_at: NullableTimestamp;
  /** Uses left; null is unlimited. */
  remaining: number | null;
  rate_limits: ColumnType<ApiKeyRateLimit[], string | undefined, string>;
  enabled: Generated<boolean>;
  last_used_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
  revoked_at: NullableTimestamp;
  replaced_by: string | null;
}
export type ApiKeyRow = Selectable<ApiKeysTable>;

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: ColumnType<Record<string, unknown>, string, never>;
  /** The private JWK sealed with AES-256-GCM; see server/services/auth/signing-keys.ts. */
  private_sealed: string;
  created_at: CreatedAt;
  /** When a newer key took over signing. */
  superseded_at: NullableTimestamp;
  /** After this, no token the key signed can be valid: it leaves the JWKS. */
  retire_at: NullableTimestamp;
}
export type SigningKeyRow = Selectable<SigningKeysTable>;

export interface AuditEventsTable {
  id: Generated<string>;
  /** 'platform': an action on the installation, read by platform roles; else the organization's own. */
  scope: ColumnType<'organization' | 'platform', 'organization' | 'platform' | undefined, never>;
  organization_id: string | null;
  actor_user_id: string | null;
  actor_api_key_id: string | null;
  type: string;
  result: 'success' | 'failure';
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
  created_at: CreatedAt;
}
export type AuditEventRow = Selectable<AuditEventsTable>;

export interface LoginFailuresTable {
  /** `account:<email>` or `ip:<address>`. */
  key: string;
  failures: number;
  last_failure_at: Date | string;
  locked_until: Date | string;
}

// --- Alerts (server/services/alerts) ----------------------------------------------------------------

export type AlertComparator = '>' | '>=' | '<' | '<=' | '==' | '!=';
export type AlertSeverity = 'info' | 'warning' | 'critical';
export type AlertState = 'inactive' | 'pending' | 'firing';
/** A history entry's destination: a state, or `resolved` (a firing alert whose condition cleared). */
export type AlertTransitionTo = AlertState | 'resolved';

export interface AlertRulesTable {
  id: Generated<string>;
  /** Null: a platform-wide rule, managed by the platform (the default rules). */
  organization_id: string | null;
  /** The `alertname` label of its notifications. */
  name: string;
  /** In the language of server/base/expressions/expression.ts, checked before it is stored. */
  expression: string;
  comparator: AlertComparator;
  threshold: number;
  /** How long the condition must hold before the alert fires. */
  for_seconds: number;
  severity: AlertSeverity;
  labels: ColumnType<Record<string, string>, string | undefined, string>;
  annotations: ColumnType<Record<string, string>, string | undefined, string>;
  enabled: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}
export type AlertRuleRow = Selectable<AlertRulesTable>;

export interface AlertStatesTable {
  rule_id: string;
  state: AlertState;
  /** When the current state began; for a firing alert, when it fired. */
  since: Timestamp;
  last_value: number | null;
  last_evaluated_at: Timestamp;
  /** Alertmanager-style fingerprint of the alert's labels. */
  fingerprint: string;
}
export type AlertStateRow = Selectable<AlertStatesTable>;

export interface AlertHistoryTable {
  id: Generated<string>;
  /** Null once the rule is deleted; its name and organization stay. */
  rule_id: string | null;
  organization_id: string | null;
  rule_name: string;
  from_state: AlertState;
  to_state: AlertTransitionTo;
  value: number | null;
  at: Timestamp;
}
export type AlertHistoryRow = Selectable<AlertHistoryTable>;

export interface AlertWebhooksTable {
  id: string;
  organization_id: string;
  name: string;
  url: string;
  /** The HMAC secret sealed with AES-256-GCM; see server/base/sealed-secret.ts. */
  secret_sealed: string;
  enabled: Generated<boolean>;
  created_at: CreatedAt;
}
export type AlertWebhookRow = Selectable<AlertWebhooksTable>;

/** The notification outbox: one row per webhook and alert transition. */
export interface AlertNotificationsTable {
  id: Generated<string>;
  webhook_id: string;
  /** The Alertmanager webhook body (version 4). */
  payload: ColumnType<Record<string, unknown>, string, never>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  delivered_at: NullableTimestamp;
  abandoned_at: NullableTimestamp;
  last_error: string | null;
  created_at: CreatedAt;
}
export type AlertNotificationRow = Selectable<AlertNotificationsTable>;

/** One row: the instance that evaluates alert rules, and until when. */
export interface AlertEvaluatorLeaseTable {
  id: Generated<boolean>;
  holder: string;
  expires_at: Date | string;
}

/** Platform-wide switches every instance agrees on (maintenance mode), one row per name. */
export interface PlatformSettingsTable {
  name: string;
  value: ColumnType<Record<string, unknown>, string, string>;
  updated_by: string | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

// --- Environments and configuration (server/services/devops/environments.ts) ---------------------

export interface EnvironmentsTable {
  id: Generated<string>;
  organization_id: string;
  /** Unique per organization; `^[a-z][a-z0-9-]{0,62}$`. */
  name: string;
  description: Generated<string>;
  /** Stricter configuration rules, and no change without the revision it replaces. */
  protected: Generated<boolean>;
  created_at: CreatedAt;
}
export type EnvironmentRow = Selectable<EnvironmentsTable>;

/** A secret of a configuration revision: sealed with AES-256-GCM, and a keyed fingerprint. */
export interface SealedConfigSecret {
  sealed: string;
  /** HMAC-SHA256 prefix under a key derived from the key-encryption key: equal values, equal fingerprints. */
  fingerprint: string;
}

/** Append-only: an environment's current configuration is its highest revision. */
export interface ConfigRevisionsTable {
  id: Generated<string>;
  environment_id: string;
  /** 1, 2, 3… per environment, unique with it. */
  revision: number;
  values: ColumnType<Record<string, string | number | boolean>, string, never>;
  secrets: ColumnType<Record<string, SealedConfigSecret>, string, never>;
  author_user_id: string | null;
  author_api_key_id: string | null;
  message: Generated<string>;
  created_at: CreatedAt;
  /** On a rollback: the revision whose content this one restored. */
  rolled_back_from: number | null;
}
export type ConfigRevisionRow = Selectable<ConfigRevisionsTable>;

// --- Backups (server/services/backups) --------------------------------------------------------------

export type BackupStatus = 'running' | 'succeeded' | 'failed';
export type BackupMethod = 'copy' | 'pg_dump';

/** One archive of the platform's database; the bookkeeping tables themselves are never archived. */
export interface BackupsTable {
  id: Generated<string>;
  /** The organization of whoever asked for it (or of its schedule); the archive holds every organization. */
  organization_id: string;
  schedule_id: string | null;
  status: BackupStatus;
  method: BackupMethod | null;
  /** The archive's directory; it exists once the backup succeeded. */
  path: string;
  /** The archive's manifest.json as written (server/services/backups/manifest.ts). */
  manifest: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  /** bigint: pg returns it as a string. */
  size_bytes: ColumnType<string | null, number | null | undefined, number | null>;
  duration_ms: number | null;
  error: string | null;
  created_by: string | null;
  created_at: CreatedAt;
  finished_at: NullableTimestamp;
  verified_at: NullableTimestamp;
}
export type BackupRow = Selectable<BackupsTable>;

export interface BackupSchedulesTable {
  id: Generated<string>;
  organization_id: string;
  /** Five cron fields, evaluated in UTC; see server/services/backups/cron.ts. */
  cron: string;
  retention_count: number | null;
  retention_days: number | null;
  enabled: Generated<boolean>;
  last_run_at: NullableTimestamp;
  next_run_at: Timestamp;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}
export type BackupScheduleRow = Selectable<BackupSchedulesTable>;

// --- Deployments (server/services/deployments) -------------------------------------------------------

export interface DeploymentsTable {
  id: Generated<string>;
  organization_id: string;
  service: string;
  environment: string;
  version: string;
  /** The version serving before this deployment; null for a service's first. */
  stable_version: string | null;
  strategy: DeploymentStrategyName;
  spec: ColumnType<DeploymentSpec, string, never>;
  provider: ColumnType<DeploymentProviderRef, string, never>;
  status: ColumnType<DeploymentStatus, DeploymentStatus | undefined, DeploymentStatus>;
  /** Index into the plan compiled from `spec` (server/services/deployments/plan.ts). */
  current_step: ColumnType<number, number | undefined, number>;
  step_state: ColumnType<StepState, string | undefined, string>;
  paused_reason: string | null;
  /** An abort or rollback the lease holder is to carry out. */
  requested_action: 'abort' | 'rollback' | null;
  requested_reason: string | null;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  finished_at: NullableTimestamp;
  /** The engine instance driving the deployment, until `lease_expires_at` (the database's clock). */
  lease_owner: string | null;
  lease_expires_at: NullableTimestamp;
}
export type DeploymentRow = Selectable<DeploymentsTable>;

export interface DeploymentEventsTable {
  id: Generated<string>;
  deployment_id: string;
  at: CreatedAt;
  type: DeploymentEventType;
  /** Set, with `to_status`, by the events that change the status. */
  from_status: DeploymentStatus | null;
  to_status: DeploymentStatus | null;
  step: number | null;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
}
export type DeploymentEventRow = Selectable<DeploymentEventsTable>;

/** A version that neither a new deployment nor a rollback may go to. */
export interface BadVersionsTable {
  organization_id: string;
  service: string;
  environment: string;
  version: string;
  marked_at: CreatedAt;
  reason: string;
  deployment_id: string | null;
}
export type BadVersionRow = Selectable<BadVersionsTable>;
