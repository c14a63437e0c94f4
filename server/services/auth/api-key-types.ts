import type { ApiKeyRateLimit } from '../../../db/repositories/api-keys.table';
import type { Role } from '../../../shared/auth';
import type { ApiKeyPrincipal } from '../../base/principal';
import type { RateLimitDecision } from '../../base/rate-limit/gcra';
import type { ApiKeyEnvironment } from './secrets';

/** Unkey's verification codes. */
export type VerifyCode =
  | 'VALID'
  | 'NOT_FOUND'
  | 'EXPIRED'
  | 'DISABLED'
  | 'RATE_LIMITED'
  | 'USAGE_EXCEEDED'
  | 'INSUFFICIENT_SCOPE';

export interface VerifyResult {
  readonly code: VerifyCode;
  /** Only when VALID: who the key acts for. */
  readonly principal?: ApiKeyPrincipal;
  /** The most constraining of the key's rate limits: the one that refused, else the one with least left. */
  readonly rateLimit?: RateLimitDecision;
  /** Uses left after this one; null for a key with unlimited uses. */
  readonly remaining?: number | null;
  /** Set whenever the key exists (and is not revoked). */
  readonly keyId?: string;
  /** The key's organization, whenever `keyId` is set, so a caller can hide other organizations' keys. */
  readonly organizationId?: string;
}

export interface VerifyOptions {
  /** A scope the key must hold. */
  scope?: string;
  /** The time to judge expiry and rate limits at; for tests and simulations. */
  now?: Date;
  /**
   * Only keys of this organization exist for the caller: another organization's key answers
   * NOT_FOUND before any of its rate limits or uses are spent (auth.apiKeys.verify).
   */
  organizationId?: string;
}

/** Who asks, and from where: every method is confined to the actor's organization. */
export interface ApiKeyActor {
  organizationId: string;
  userId: string;
  role: Role;
  /** 'apiKey' when a key is the caller: it then mints and changes keys only within its own scopes. */
  kind?: 'user' | 'apiKey';
  /** The calling key's scopes (kind 'apiKey'). */
  scopes?: readonly string[];
  apiKeyId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

/** A key as callers see it: never its hash. `ownerId` is what a caller checks to restrict non-admins. */
export interface ApiKeyView {
  id: string;
  name: string;
  /** `bc_live_` or `bc_test_` and the key's first characters, to tell keys apart. */
  prefix: string;
  ownerId: string;
  scopes: string[];
  expiresAt: Date | null;
  remaining: number | null;
  rateLimits: ApiKeyRateLimit[];
  enabled: boolean;
  lastUsedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  revokedAt: Date | null;
  /** Set by a rotation: the key that replaced this one. */
  replacedBy: string | null;
}

export interface CreateApiKeyInput {
  name: string;
  /** Defaults to the actor; must be a user of the actor's organization. */
  ownerId?: string;
  scopes: string[];
  expiresAt?: Date | null;
  /** Uses allowed; null or absent is unlimited. */
  remaining?: number | null;
  rateLimits?: ApiKeyRateLimit[];
  enabled?: boolean;
  /** Defaults to the service's environment. */
  environment?: ApiKeyEnvironment;
}

export interface UpdateApiKeyInput {
  name?: string;
  scopes?: string[];
  expiresAt?: Date | null;
  remaining?: number | null;
  rateLimits?: ApiKeyRateLimit[];
  enabled?: boolean;
}

/** A new key: `key` is shown this once and never again. */
export interface IssuedApiKey {
  key: string;
  apiKey: ApiKeyView;
}

export interface RotatedApiKey extends IssuedApiKey {
  /** The old key, now replaced and expiring at the end of the grace period. */
  previous: ApiKeyView;
}

export interface ApiKeyPage {
  items: ApiKeyView[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/** The part of a pino logger the service uses. */
export interface ApiKeyServiceLogger {
  warn(object: object, message: string): void;
}
