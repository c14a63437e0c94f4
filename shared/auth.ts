import { z } from 'zod';
import { API_KEY_SCOPES } from './api-key-constants';
import { pageSchema } from './pagination';
import { secondFactorChallenge } from './second-factor';

/** Roles, weakest first: each can do what the ones before it can. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export const role = z.enum(ROLES);
export type Role = z.infer<typeof role>;

/**
 * Roles over the installation itself (platform scope: drain, maintenance, backups, signing keys,
 * process-wide figures), weakest first. Separate from the organization role: a tenant's admin
 * holds none, and a platform role gives nothing inside another organization.
 */
export const PLATFORM_ROLES = ['operator', 'admin'] as const;
export const platformRole = z.enum(PLATFORM_ROLES);
export type PlatformRole = z.infer<typeof platformRole>;

export { API_KEY_SCOPES };
export const apiKeyScope = z.enum(API_KEY_SCOPES);
export type ApiKeyScope = z.infer<typeof apiKeyScope>;

/** Unkey's verification codes. */
export const API_KEY_VERIFY_CODES = [
  'VALID',
  'NOT_FOUND',
  'EXPIRED',
  'DISABLED',
  'RATE_LIMITED',
  'USAGE_EXCEEDED',
  'INSUFFICIENT_SCOPE',
] as const;
export type ApiKeyVerifyCode = (typeof API_KEY_VERIFY_CODES)[number];

/** The security events the audit log records; a closed set, so it can label a metric too. */
export const AUDIT_EVENT_TYPES = [
  'login',
  'refresh',
  'refresh_reuse',
  'logout',
  'logout_all',
  'session_revoked',
  'password_changed',
  'user_created',
  'user_updated',
  'user_disabled',
  'role_changed',
  'api_key_created',
  'api_key_updated',
  'api_key_revoked',
  'api_key_rotated',
  'signing_key_rotated',
  'deployment_created',
  'deployment_approved',
  'deployment_promoted',
  'deployment_aborted',
  'deployment_rolled_back',
  'backup_created',
  'backup_verified',
  'backup_deleted',
  'backup_restored',
  'base_backup_created',
  'backup_schedule_created',
  'backup_schedule_updated',
  'backup_schedule_deleted',
  'environment_created',
  'config_changed',
  'config_rolled_back',
  'maintenance_changed',
  'instance_drained',
  'organization_created',
  'organization_renamed',
  'organization_suspended',
  'organization_resumed',
  'organization_deleted',
  'platform_role_changed',
  'invitation_created',
  'invitation_revoked',
  'invitation_accepted',
  'user_removed',
  'second_factor_enrolled',
  'second_factor_verified',
  'second_factor_removed',
  'recovery_code_used',
  'recovery_codes_regenerated',
  'second_factor_requirement_changed',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];
export const auditEventType = z.enum(AUDIT_EVENT_TYPES);

const id = z.uuid({ message: 'must be an id (a UUID)' });
const email = z
  .email({ message: 'must be an email address' })
  .max(254)
  .transform((value) => value.trim().toLowerCase());
// Hashing refuses more than 1024 bytes anyway; the schema says so before any work.
const password = z.string().min(1, 'must not be empty').max(1024);
/** ASVS 5.0 V6.2.1 asks for at least 8; 12 is NIST SP 800-63B's single-factor floor rounded up. */
const newPassword = z.string().min(12, 'must be at least 12 characters').max(1024);
const limit = z.number().int().min(1).max(100).default(50);
// PostgreSQL text cannot hold NUL (U+0000): refused here with a 400, not by the database with a 500.
const noNul = (value: string) => !value.includes('\u0000');
const NO_NUL = 'must not contain NUL (U+0000) characters';
const name = z.string().trim().min(1).max(200).refine(noNul, NO_NUL);
const userName = z.string().trim().max(200).refine(noNul, NO_NUL);

export const loginInput = z.object({ email, password });
export const refreshInput = z
  .object({
    /** Non-browser clients send the token here; browsers send the HttpOnly cookie instead. */
    refreshToken: z.string().max(128).optional(),
  })
  .optional();
export const changePasswordInput = z.object({ currentPassword: password, newPassword });
export const sessionRevokeInput = z.object({ id });

export const userCreateInput = z.object({
  email,
  password: newPassword,
  name: userName.optional(),
  role,
});
/**
 * An opaque cursor: the `nextCursor` of a previous page, base64url. Long enough for a user's
 * cursor, which holds an email of up to 254 characters (340 in base64url).
 */
const pageCursor = z.string().regex(/^[A-Za-z0-9_-]{1,400}$/, 'must be the nextCursor of a previous page');

export const userListInput = z.object({ limit, cursor: pageCursor.optional() }).default({ limit: 50 });
export const userUpdateInput = z.object({
  id,
  name: userName.optional(),
  role: role.optional(),
});
export const userIdInput = z.object({ id });

const auditTime = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' });

export const auditListInput = z
  .object({
    limit,
    /** The `nextCursor` of the previous page. */
    cursor: z
      .string()
      .regex(/^\d{1,18}$/, 'must be the nextCursor of a previous page')
      .optional(),
    type: auditEventType.optional(),
    /** Events done by this user only. */
    actorUserId: id.optional(),
    /** Events done with this API key only. */
    actorApiKeyId: id.optional(),
    /** Events at or after this time. */
    since: auditTime.optional(),
    /** Events before this time. */
    until: auditTime.optional(),
  })
  .refine((input) => !input.since || !input.until || Date.parse(input.since) < Date.parse(input.until), {
    message: 'must be after since',
    path: ['until'],
  })
  .default({ limit: 50 });

export const apiKeyRateLimit = z.object({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be 1-32 characters: lower-case letters, digits, _ and -'),
  limit: z.number().int().min(1).max(1_000_000),
  periodMs: z.number().int().min(1000).max(86_400_000),
});
const rateLimits = z
  .array(apiKeyRateLimit)
  .max(5)
  .refine((list) => new Set(list.map((l) => l.name)).size === list.length, 'rate limit names must differ');
const expiresAt = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }).nullable();

export const apiKeyCreateInput = z.object({
  name,
  /** The key's owner; another user than yourself needs the admin role. */
  ownerId: id.optional(),
  scopes: z.array(apiKeyScope).max(API_KEY_SCOPES.length).default([]),
  expiresAt: expiresAt.optional(),
  remaining: z.number().int().min(0).max(1_000_000_000).nullable().optional(),
  rateLimits: rateLimits.optional(),
  enabled: z.boolean().optional(),
  environment: z.enum(['live', 'test']).default('live'),
});
export const apiKeyListInput = z
  .object({ ownerId: id.optional(), limit, cursor: pageCursor.optional() })
  .default({ limit: 50 });
export const apiKeyIdInput = z.object({ id });
export const apiKeyUpdateInput = z.object({
  id,
  name: name.optional(),
  scopes: z.array(apiKeyScope).max(API_KEY_SCOPES.length).optional(),
  expiresAt: expiresAt.optional(),
  remaining: z.number().int().min(0).max(1_000_000_000).nullable().optional(),
  rateLimits: rateLimits.optional(),
  enabled: z.boolean().optional(),
});
export const apiKeyRotateInput = z.object({
  id,
  /** How long the old key keeps working; 0 ends it at once. At most 30 days. */
  gracePeriodSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(0),
});
export const apiKeyVerifyInput = z.object({
  key: z.string().max(256),
  scope: apiKeyScope.optional(),
});

// What the auth procedures answer (the REST reference's response schemas, server/http/rest/).
// Dates travel as ISO 8601 strings.
const dateTime = z.string().describe('ISO 8601 date-time');

/** `auth.me`: who the caller is. */
export const whoAmI = z.object({
  kind: z.enum(['user', 'apiKey']),
  userId: z.string(),
  organizationId: z.string(),
  role,
  platformRole: platformRole.nullable(),
  /** The session of an access token; null for an API key. */
  sessionId: z.string().nullable(),
  /** The calling key; null for an access token. */
  apiKeyId: z.string().nullable(),
  /** The calling key's scopes; null for an access token. */
  scopes: z.array(z.string()).nullable(),
});

/** An API key as callers see it: never the key itself nor its hash. */
export const apiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  /** `bc_live_` or `bc_test_` and the key's first characters, to tell keys apart. */
  prefix: z.string(),
  ownerId: z.string(),
  scopes: z.array(z.string()),
  expiresAt: dateTime.nullable(),
  /** Uses left; null is unlimited. */
  remaining: z.number().int().nullable(),
  rateLimits: z.array(apiKeyRateLimit),
  enabled: z.boolean(),
  lastUsedAt: dateTime.nullable(),
  createdAt: dateTime,
  updatedAt: dateTime,
  revokedAt: dateTime.nullable(),
  /** Set by a rotation: the key that replaced this one. */
  replacedBy: z.string().nullable(),
});

/** A user as the API shows it: never the password hash. */
export const userView = z.object({
  id: z.string(),
  organizationId: z.string(),
  email: z.string(),
  name: z.string(),
  role,
  /** Authority over the installation, separate from the organization role. */
  platformRole: platformRole.nullable(),
  disabled: z.boolean(),
  createdAt: dateTime,
  updatedAt: dateTime,
  passwordChangedAt: dateTime,
});

/** `auth.refresh`: a new access token and the refresh token to present next time. */
export const issuedTokens = z.object({
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  /** When the access token expires. */
  expiresAt: dateTime,
  /** Null for a browser, which gets it as an HttpOnly cookie instead. */
  refreshToken: z.string().nullable(),
  session: z.object({ id: z.string(), expiresAt: dateTime }),
});

/** The tokens of a new session, and who signed in. */
export const signedIn = issuedTokens.extend({ user: userView });

/**
 * `auth.login`: the tokens of a new session, or, for a user with a second factor (or whose
 * organization requires one), the challenge of the second step (shared/second-factor.ts).
 */
export const loginResult = z.union([signedIn, secondFactorChallenge]);

/** `auth.users.list`. */
export const userPage = pageSchema(userView);

/** `auth.users.remove`: the removed user, and how many of their sessions ended. */
export const userRemoved = z.object({ id: z.string(), revokedSessions: z.number().int() });

/** `auth.apiKeys.create`: the key itself is shown this once and never again. */
export const issuedApiKey = z.object({ key: z.string(), apiKey: apiKeyView });

/** `auth.apiKeys.rotate`: the new key (shown once), and the old one, expiring at the grace period's end. */
export const rotatedApiKey = issuedApiKey.extend({ previous: apiKeyView });

/** `auth.apiKeys.list`. */
export const apiKeyPage = pageSchema(apiKeyView);

/** A rate limit's decision (GCRA) for one call. */
const rateLimitDecision = z.object({
  allowed: z.boolean(),
  /** The quota per period. */
  limit: z.number().int(),
  /** Calls that could be admitted right now, after this one. */
  remaining: z.number().int(),
  /** Until a full burst is back, in ms. */
  resetMs: z.number().int(),
  /** 0 when allowed; otherwise how long until the call would be admitted, in ms. */
  retryAfterMs: z.number().int(),
});

/**
 * `auth.apiKeys.verify`: the code the key would get. A key unknown to your organization answers
 * `{ valid: false, code: "NOT_FOUND" }` alone.
 */
export const apiKeyVerification = z.union([
  z.object({ valid: z.literal(false), code: z.literal('NOT_FOUND') }),
  z.object({
    valid: z.boolean(),
    code: z.enum(API_KEY_VERIFY_CODES).exclude(['NOT_FOUND']),
    keyId: z.string().nullable(),
    /** The key's owner; only for a VALID key. */
    ownerId: z.string().nullable(),
    /** The key's scopes; only for a VALID key, else empty. */
    scopes: z.array(z.string()),
    /** Uses left after this one; null for unlimited uses (or when not counted). */
    remaining: z.number().int().nullable(),
    /** The most constraining of the key's rate limits; null when it has none. */
    rateLimit: rateLimitDecision.nullable(),
  }),
]);

/** An audit event as the API shows it. */
export const auditEventView = z.object({
  id: z.string(),
  type: auditEventType,
  result: z.enum(['success', 'failure']),
  actorUserId: z.string().nullable(),
  actorApiKeyId: z.string().nullable(),
  /** The acting user's name and email as they are now; null when the user is gone. */
  actorName: z.string().nullable(),
  actorEmail: z.string().nullable(),
  /** The API key's name as it is now; null when the key is gone or none acted. */
  actorApiKeyName: z.string().nullable(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  /**
   * What the target is called now (a user's name or email, a key's or environment's name, a
   * deployment's service and version); null when it is gone or has no name.
   */
  targetName: z.string().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  createdAt: dateTime,
});

/** `auth.audit.list` and `auth.audit.platform`, newest first. */
export const auditEventPage = pageSchema(auditEventView);

/** `auth.keys.rotate`: the new signing key's id, and the one it replaces. */
export const signingKeyRotation = z.object({ kid: z.string(), previousKid: z.string().nullable() });
