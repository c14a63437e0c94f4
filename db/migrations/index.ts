import type { Migration } from 'kysely';
import * as initial from './2026-11-25T00-00-00_initial';
import * as rateLimits from './2026-11-26T00-00-00_rate_limits';
import * as auth from './2026-11-27T00-00-00_auth';
import * as alerts from './2026-11-28T00-00-00_alerts';
import * as environments from './2026-11-29T00-00-00_environments';
import * as backups from './2026-11-29T01-00-00_backups';
import * as deployments from './2026-11-29T02-00-00_deployments';
import * as maintenance from './2026-11-29T03-00-00_maintenance';
import * as platformScope from './2026-12-06T00-00-00_platform_scope';
import * as metricHistory from './2026-12-07T00-00-00_metric_history';
import * as apiKeyUsage from './2026-12-07T01-00-00_api_key_usage';
import * as secondFactor from './2026-12-07T04-00-00_second_factor';
import * as passkeys from './2026-12-07T05-00-00_passkeys';
import * as passkeySignIns from './2026-12-07T06-00-00_passkey_sign_ins';

/**
 * Every migration, keyed by its timestamped name. Listed statically rather than read from
 * the folder so the same list works in a bundle (edge build) and under any runtime.
 * Names sort by time; Kysely applies them in that order.
 */
export const migrations: Record<string, Migration> = {
  '2026-11-25T00-00-00_initial': initial,
  '2026-11-26T00-00-00_rate_limits': rateLimits,
  '2026-11-27T00-00-00_auth': auth,
  '2026-11-28T00-00-00_alerts': alerts,
  '2026-11-29T00-00-00_environments': environments,
  '2026-11-29T01-00-00_backups': backups,
  '2026-11-29T02-00-00_deployments': deployments,
  '2026-11-29T03-00-00_maintenance': maintenance,
  '2026-12-06T00-00-00_platform_scope': platformScope,
  '2026-12-07T00-00-00_metric_history': metricHistory,
  '2026-12-07T01-00-00_api_key_usage': apiKeyUsage,
  '2026-12-07T04-00-00_second_factor': secondFactor,
  '2026-12-07T05-00-00_passkeys': passkeys,
  '2026-12-07T06-00-00_passkey_sign_ins': passkeySignIns,
};
