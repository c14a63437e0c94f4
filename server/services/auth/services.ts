import { hkdfSync } from 'node:crypto';
import type { PlatformDatabase } from '../../../db/connect';
import { AuditLog } from '../../base/audit';
import { ChangeFeed } from '../../base/change-feed';
import type { Config } from '../../base/config';
import type { Logger } from '../../base/logger';
import type { Metrics } from '../../base/metrics/metrics';
import type { RateLimitStore } from '../../base/rate-limit/store';
import { ApiKeyService } from './api-keys';
import { Authenticator } from './authenticator';
import { InvitationService } from './invitations';
import { Keyring } from './keyring';
import { LoginThrottle } from './login-throttle';
import { OrganizationService } from './organizations';
import { PasskeySignIn } from './passkey-sign-in';
import { PasskeyService } from './passkeys';
import type { ScryptParams } from './passwords';
import { RevokedSessions } from './revoked-sessions';
import { SecondFactorService } from './second-factors';
import { SecondStep } from './second-step';
import { SessionService } from './sessions';
import { UserService } from './users';

/** Everything auth: built once per app by `buildAuthServices`, started by the auth component. */
export interface AuthServices {
  audit: AuditLog;
  keyring: Keyring;
  users: UserService;
  sessions: SessionService;
  throttle: LoginThrottle;
  apiKeys: ApiKeyService;
  /** The platform's: organizations (create, suspend, delete...) and platform roles. */
  organizations: OrganizationService;
  /** An organization's invitations, and their acceptance. */
  invitations: InvitationService;
  /** The users' second factors (TOTP, recovery codes) and their organization's requirement. */
  factors: SecondFactorService;
  /** Sign-in's second step: a challenge and a code (or the enrolment the organization requires). */
  secondStep: SecondStep;
  /** The users' passkeys (WebAuthn), a second factor beside TOTP. */
  passkeys: PasskeyService;
  /** Passwordless sign-in with a passkey that verifies its user. */
  passkeySignIn: PasskeySignIn;
  authenticator: Authenticator;
  revokedSessions: RevokedSessions;
  /** LISTEN/NOTIFY between instances: key revocations, session revocations, key rotations. */
  changes: ChangeFeed;
  passwordParams: ScryptParams;
}

export interface AuthServicesOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  database: PlatformDatabase;
  databaseUrl: string;
  /** The key-encryption key (AUTH_KEY_ENCRYPTION_KEY or DATA_DIR's). */
  kek: Uint8Array;
  rateLimitStore: RateLimitStore;
}

/**
 * The refresh-token derivation key is derived from the key-encryption key (HKDF, its own label),
 * so one secret in config covers both, and neither use can stand in for the other.
 */
export function refreshDerivationKey(kek: Uint8Array): Uint8Array {
  return new Uint8Array(
    hkdfSync('sha256', kek, new Uint8Array(0), 'beauty-crafter/refresh-token-derivation/v1', 32),
  );
}

export function buildAuthServices({
  config,
  logger,
  metrics,
  database,
  databaseUrl,
  kek,
  rateLimitStore,
}: AuthServicesOptions): AuthServices {
  const passwordParams: ScryptParams = { ln: config.AUTH_PASSWORD_COST, r: 8, p: 1 };
  const audit = new AuditLog(metrics);
  const changes = new ChangeFeed({
    url: databaseUrl,
    logger,
    reconnect: { baseMs: config.DB_RETRY_BASE_MS, maxMs: config.DB_RETRY_MAX_MS },
    applicationName: 'beauty-crafter-change-feed',
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
  });
  const keyring = new Keyring({
    database,
    kek,
    alg: config.AUTH_SIGNING_ALG,
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    accessTokenTtlSeconds: config.AUTH_ACCESS_TOKEN_TTL_SECONDS,
    clockToleranceSeconds: config.AUTH_CLOCK_TOLERANCE_SECONDS,
    rotationDays: config.AUTH_KEY_ROTATION_DAYS,
    logger,
  });
  const throttle = new LoginThrottle(database);
  const apiKeys = new ApiKeyService({
    database,
    audit,
    metrics,
    rateLimits: rateLimitStore,
    changes,
    environment: config.NODE_ENV === 'production' ? 'live' : 'test',
    logger,
  });
  const users = new UserService({
    database,
    audit,
    passwordParams,
    throttle,
    // A disabled owner or a changed role must reach every instance's key cache at once.
    onUserChanged: (userId) => database.transaction((db) => apiKeys.notifyOwnerChanged(db, userId)),
  });
  const invitations = new InvitationService({ database, audit, passwordParams });
  const organizations = new OrganizationService({ database, audit, invitations, apiKeys, changes });
  const factors = new SecondFactorService({
    database,
    audit,
    throttle,
    passwordParams,
    kek,
    issuer: config.AUTH_ISSUER,
  });
  const sessions = new SessionService({
    database,
    audit,
    signer: keyring,
    throttle,
    passwordParams,
    factors,
    graceSeconds: config.AUTH_REFRESH_GRACE_SECONDS,
    lifetimeHours: config.AUTH_SESSION_LIFETIME_HOURS,
    idleHours: config.AUTH_SESSION_IDLE_HOURS,
    refreshDerivationKey: refreshDerivationKey(kek),
  });
  // An access token outlives its session's revocation by at most its lifetime plus the skew.
  const revokedSessions = new RevokedSessions(
    (config.AUTH_ACCESS_TOKEN_TTL_SECONDS + config.AUTH_CLOCK_TOLERANCE_SECONDS) * 1000,
  );
  const passkeys = new PasskeyService({ database, audit, factors, passwordParams, rpName: 'Beauty Crafter' });
  const passkeySignIn = new PasskeySignIn({ database, audit, factors, sessions });
  const secondStep = new SecondStep({ database, audit, throttle, factors, passkeys, sessions });
  const authenticator = new Authenticator({ keyring, apiKeys, revokedSessions, metrics });
  return {
    audit,
    keyring,
    users,
    sessions,
    throttle,
    apiKeys,
    organizations,
    invitations,
    factors,
    secondStep,
    passkeys,
    passkeySignIn,
    authenticator,
    revokedSessions,
    changes,
    passwordParams,
  };
}
