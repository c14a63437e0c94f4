import type { RouterInputs } from '@beauty-crafter/client';

/** The audit log's event types. */
export type AuditEventType = NonNullable<AuditInput['type']>;

/** What the audit list takes: its filters and the page asked for. */
export type AuditInput = Extract<RouterInputs['auth']['audit']['list'], { limit?: number }>;

/**
 * Each event type as a reader names it, in the order of the filter's choices; `satisfies` fails
 * the build when the server records a type this list does not name.
 */
export const AUDIT_EVENT_LABELS = {
  login: 'Signed in',
  refresh: 'Session refreshed',
  refresh_reuse: 'Refresh token reused',
  logout: 'Signed out',
  logout_all: 'Signed out everywhere',
  session_revoked: 'Session revoked',
  password_changed: 'Password changed',
  user_created: 'User created',
  user_updated: 'User updated',
  user_disabled: 'User disabled',
  role_changed: 'Role changed',
  api_key_created: 'API key created',
  api_key_updated: 'API key updated',
  api_key_revoked: 'API key revoked',
  api_key_rotated: 'API key rotated',
  signing_key_rotated: 'Signing key rotated',
  deployment_created: 'Deployment created',
  deployment_approved: 'Deployment approved',
  deployment_promoted: 'Deployment promoted',
  deployment_aborted: 'Deployment aborted',
  deployment_rolled_back: 'Deployment rolled back',
  backup_created: 'Backup created',
  backup_verified: 'Backup verified',
  backup_deleted: 'Backup deleted',
  backup_restored: 'Backup restored',
  base_backup_created: 'Base backup taken (point-in-time recovery)',
  backup_schedule_created: 'Backup schedule created',
  backup_schedule_updated: 'Backup schedule updated',
  backup_schedule_deleted: 'Backup schedule deleted',
  environment_created: 'Environment created',
  config_changed: 'Config changed',
  config_rolled_back: 'Config rolled back',
  maintenance_changed: 'Maintenance changed',
  instance_drained: 'Instance drained',
  organization_created: 'Organization created',
  organization_renamed: 'Organization renamed',
  organization_suspended: 'Organization suspended',
  organization_resumed: 'Organization resumed',
  organization_deleted: 'Organization deleted',
  platform_role_changed: 'Platform role changed',
  invitation_created: 'Invitation created',
  invitation_revoked: 'Invitation revoked',
  invitation_accepted: 'Invitation accepted',
  user_removed: 'User removed',
  second_factor_enrolled: 'Second factor enrolled',
  second_factor_verified: 'Second factor verified',
  second_factor_removed: 'Second factor removed',
  recovery_code_used: 'Recovery code used',
  recovery_codes_regenerated: 'Recovery codes regenerated',
  second_factor_requirement_changed: 'Second factor requirement changed',
} satisfies Record<AuditEventType, string>;

export function auditEventLabel(type: string): string {
  return (AUDIT_EVENT_LABELS as Record<string, string>)[type] ?? type;
}
