import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import { sumApiKeyVerifications } from '../../../db/repositories/api-key-verifications';
import {
  findApiKeyInOrganization,
  findOwnerInOrganization,
  insertApiKey,
  listApiKeys,
  markApiKeyReplaced,
  revokeApiKey,
  updateApiKey,
} from '../../../db/repositories/api-keys';
import type { ApiKeyRow } from '../../../db/repositories/api-keys.table';
import {
  API_KEY_USAGE_RANGES,
  type ApiKeyOutcome,
  type ApiKeyOutcomeCounts,
  type ApiKeyUsageRange,
  type ApiKeyUsage as ApiKeyUsageReport,
  noOutcomes,
} from '../../../shared/api-key-usage';
import type { AuditActor, AuditLog } from '../../base/audit';
import { type ChangeFeed, publishChange } from '../../base/change-feed';
import { PlatformError } from '../../base/errors';
import type { Metrics } from '../../base/metrics/metrics';
import type { RateLimitStore } from '../../base/rate-limit/store';
import { API_KEY_CHANGES, ApiKeyCache, keyChange, ownerChange } from './api-key-cache';
import { checkSettings, decodeCursor, encodeCursor, UUID } from './api-key-settings';
import type {
  ApiKeyActor,
  ApiKeyPage,
  ApiKeyServiceLogger,
  ApiKeyView,
  CreateApiKeyInput,
  IssuedApiKey,
  RotatedApiKey,
  UpdateApiKeyInput,
  VerifyOptions,
  VerifyResult,
} from './api-key-types';
import { ApiKeyUsage } from './api-key-usage';
import { ApiKeyVerifier } from './api-key-verifier';
import { type ApiKeyEnvironment, generateApiKey } from './secrets';

export interface ApiKeyServiceOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  metrics: Metrics;
  rateLimits: RateLimitStore;
  /** Without it, changes reach this instance's cache only: right for a single instance. */
  changes?: ChangeFeed;
  /** How long a verified key is served from memory. */
  cacheTtlMs?: number;
  /** How long an unknown key is remembered as unknown. */
  negativeCacheTtlMs?: number;
  /** Most keys of each cache (known and unknown). */
  maxCachedKeys?: number;
  /** How often last_used_at and the per-minute verification counts are written. */
  usageFlushIntervalMs?: number;
  /** How long per-minute verification counts are kept (auth.apiKeys.usage); 30 days by default. */
  usageRetentionDays?: number;
  environment: ApiKeyEnvironment;
  logger?: ApiKeyServiceLogger;
}

const MAX_PAGE = 100;
const MAX_GRACE_SECONDS = 30 * 86_400;

/**
 * API keys in the manner of Unkey: only a SHA-256 hash and a display prefix are stored; each key
 * has scopes, an expiry, named rate limits and a number of uses; rotation leaves the old key
 * working for a grace period; verification answers one of Unkey's codes. Verified keys are kept
 * in memory, so a hot key costs no query; every change is published on the change feed in the
 * transaction that makes it, so every instance forgets the key within moments of the commit.
 */
export class ApiKeyService {
  private readonly options: Required<
    Pick<
      ApiKeyServiceOptions,
      'cacheTtlMs' | 'negativeCacheTtlMs' | 'maxCachedKeys' | 'usageFlushIntervalMs' | 'usageRetentionDays'
    >
  > &
    ApiKeyServiceOptions;
  private readonly cache: ApiKeyCache;
  /** Verification counts and last uses, written in batches. */
  private readonly recorder: ApiKeyUsage;
  private readonly verifier: ApiKeyVerifier;

  constructor(options: ApiKeyServiceOptions) {
    this.options = {
      ...options,
      cacheTtlMs: options.cacheTtlMs ?? 30_000,
      negativeCacheTtlMs: options.negativeCacheTtlMs ?? 5_000,
      maxCachedKeys: options.maxCachedKeys ?? 10_000,
      usageFlushIntervalMs: options.usageFlushIntervalMs ?? 5_000,
      usageRetentionDays: options.usageRetentionDays ?? 30,
    };
    this.cache = new ApiKeyCache(this.options);
    this.recorder = new ApiKeyUsage(this.options);
    this.verifier = new ApiKeyVerifier(this.options, this.cache, this.recorder);
  }

  /** Starts writing last_used_at and verification counts every `usageFlushIntervalMs`. */
  start(): void {
    this.recorder.start();
  }

  /** Stops the timer and writes the usage collected so far. */
  async stop(): Promise<void> {
    await this.recorder.stop();
  }

  async create(actor: ApiKeyActor, input: CreateApiKeyInput): Promise<IssuedApiKey> {
    const settings = checkSettings(input);
    const name = settings.name;
    if (name === undefined) throw new PlatformError('BAD_REQUEST', 'name is required');
    assertWithinCallerScopes(actor, settings.scopes ?? []);
    const ownerId = input.ownerId ?? actor.userId;
    if (!UUID.test(ownerId)) throw userNotFound();
    const generated = generateApiKey({ environment: input.environment ?? this.options.environment });
    const row = await this.options.database.transaction(async (trx) => {
      const owner = await findOwnerInOrganization(trx, ownerId, actor.organizationId);
      if (!owner) throw userNotFound();
      const inserted = await insertApiKey(trx, {
        organization_id: actor.organizationId,
        owner_id: owner.id,
        name,
        key_hash: generated.hash,
        prefix: generated.prefix,
        scopes: settings.scopes ?? [],
        expires_at: settings.expires_at ?? null,
        remaining: settings.remaining ?? null,
        rate_limits: settings.rate_limits ?? [],
        enabled: settings.enabled ?? true,
      });
      await this.options.audit.record(trx, {
        type: 'api_key_created',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'api_key', id: inserted.id },
        details: { name: inserted.name, prefix: inserted.prefix, ownerId: inserted.owner_id },
      });
      return inserted;
    });
    return { key: generated.key, apiKey: this.view(row) };
  }

  /** The organization's keys (or one owner's), newest first. */
  async list(
    actor: ApiKeyActor,
    { ownerId, limit, cursor }: { ownerId?: string; limit: number; cursor?: string },
  ): Promise<ApiKeyPage> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
      throw new PlatformError('BAD_REQUEST', `limit must be an integer from 1 to ${MAX_PAGE}`);
    if (ownerId !== undefined && !UUID.test(ownerId)) return { items: [], nextCursor: null };
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.options.database.read((db) =>
      listApiKeys(db, actor.organizationId, { ownerId, limit: limit + 1, after }),
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => this.view(row)),
      nextCursor: rows.length > limit && last ? encodeCursor(last.created_at_exact, last.id) : null,
    };
  }

  async get(actor: ApiKeyActor, id: string): Promise<ApiKeyView> {
    if (!UUID.test(id)) throw keyNotFound();
    const row = await this.options.database.read((db) =>
      findApiKeyInOrganization(db, id, actor.organizationId),
    );
    if (!row) throw keyNotFound();
    return this.view(row);
  }

  /** Changes a key's settings; a revoked key answers CONFLICT. */
  async update(actor: ApiKeyActor, id: string, patch: UpdateApiKeyInput): Promise<ApiKeyView> {
    const changes = checkSettings(patch);
    if (!UUID.test(id)) throw keyNotFound();
    const row = await this.options.database.transaction(async (trx) => {
      const current = await findApiKeyInOrganization(trx, id, actor.organizationId, { forUpdate: true });
      if (!current) throw keyNotFound();
      if (current.revoked_at) throw new PlatformError('CONFLICT', 'the API key is revoked');
      // Both what the key can do now and what it would do after: a key cannot widen or re-enable
      // a key stronger than itself.
      assertWithinCallerScopes(actor, current.scopes);
      assertWithinCallerScopes(actor, changes.scopes ?? []);
      const changed = Object.keys(changes);
      if (changed.length === 0) return current;
      const updated = await updateApiKey(trx, id, actor.organizationId, changes);
      if (!updated) throw keyNotFound();
      await this.options.audit.record(trx, {
        type: 'api_key_updated',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'api_key', id },
        details: { changed },
      });
      await publishChange(trx, API_KEY_CHANGES, keyChange(current.key_hash));
      return updated;
    });
    this.cache.forgetKey(row.key_hash);
    return this.view(row);
  }

  /** Revokes a key for good; revoking a revoked key changes nothing. */
  async revoke(actor: ApiKeyActor, id: string): Promise<ApiKeyView> {
    if (!UUID.test(id)) throw keyNotFound();
    const row = await this.options.database.transaction(async (trx) => {
      const current = await findApiKeyInOrganization(trx, id, actor.organizationId, { forUpdate: true });
      if (!current) throw keyNotFound();
      if (current.revoked_at) return current;
      const revoked = await revokeApiKey(trx, id, actor.organizationId);
      if (!revoked) throw keyNotFound();
      await this.options.audit.record(trx, {
        type: 'api_key_revoked',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'api_key', id },
      });
      await publishChange(trx, API_KEY_CHANGES, keyChange(current.key_hash));
      return revoked;
    });
    this.cache.forgetKey(row.key_hash);
    return this.view(row);
  }

  /**
   * Issues a new key with the old one's settings. The old key keeps working until the end of the
   * grace period (or its own earlier expiry), so clients can switch without an outage.
   */
  async rotate(
    actor: ApiKeyActor,
    id: string,
    { gracePeriodSeconds }: { gracePeriodSeconds: number },
  ): Promise<RotatedApiKey> {
    if (
      !Number.isInteger(gracePeriodSeconds) ||
      gracePeriodSeconds < 0 ||
      gracePeriodSeconds > MAX_GRACE_SECONDS
    )
      throw new PlatformError(
        'BAD_REQUEST',
        `gracePeriodSeconds must be an integer from 0 to ${MAX_GRACE_SECONDS}`,
      );
    if (!UUID.test(id)) throw keyNotFound();
    const rotated = await this.options.database.transaction(async (trx) => {
      const current = await findApiKeyInOrganization(trx, id, actor.organizationId, { forUpdate: true });
      if (!current) throw keyNotFound();
      if (current.revoked_at) throw new PlatformError('CONFLICT', 'the API key is revoked');
      if (current.replaced_by) throw new PlatformError('CONFLICT', 'the API key has already been rotated');
      // A rotation hands out a new secret with the old key's scopes: only to a key holding them all.
      assertWithinCallerScopes(actor, current.scopes);
      // Inside the transaction: a retried attempt issues a fresh key, and the committed one is returned.
      const generated = generateApiKey({ environment: environmentOf(current.prefix) });
      const replacement = await insertApiKey(trx, {
        organization_id: current.organization_id,
        owner_id: current.owner_id,
        name: current.name,
        key_hash: generated.hash,
        prefix: generated.prefix,
        scopes: current.scopes,
        expires_at: current.expires_at,
        remaining: current.remaining,
        rate_limits: current.rate_limits,
        enabled: current.enabled,
      });
      const previous = await markApiKeyReplaced(trx, id, replacement.id, gracePeriodSeconds);
      await this.options.audit.record(trx, {
        type: 'api_key_rotated',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'api_key', id },
        details: { replacementId: replacement.id, gracePeriodSeconds },
      });
      await publishChange(trx, API_KEY_CHANGES, keyChange(current.key_hash));
      return { key: generated.key, replacement, previous };
    });
    this.cache.forgetKey(rotated.previous.key_hash);
    return {
      key: rotated.key,
      apiKey: this.view(rotated.replacement),
      previous: this.view(rotated.previous),
    };
  }

  /**
   * Verifications of one key of the actor's organization over `range`, bucket by bucket and by
   * outcome, with its last use and uses left. This instance's counts are written first, so they
   * are all in; other instances' are in up to their last flush (`usageFlushIntervalMs`).
   */
  async usage(actor: ApiKeyActor, id: string, range: ApiKeyUsageRange): Promise<ApiKeyUsageReport> {
    await this.recorder
      .flush()
      .catch((error) =>
        this.options.logger?.warn(
          { err: { message: (error as Error).message } },
          'could not record API key usage',
        ),
      );
    const key = await this.get(actor, id);
    const { spanSeconds, bucketSeconds } = API_KEY_USAGE_RANGES[range];
    const bucketMs = bucketSeconds * 1000;
    const last = Math.floor(Date.now() / bucketMs) * bucketMs;
    const first = last - (spanSeconds / bucketSeconds - 1) * bucketMs;
    const rows = await this.options.database.read((db) =>
      sumApiKeyVerifications(db, key.id, { from: new Date(first), bucketSeconds }),
    );
    const buckets = new Map<number, ApiKeyOutcomeCounts>();
    for (let start = first; start <= last; start += bucketMs) buckets.set(start, noOutcomes());
    const totals = noOutcomes();
    for (const row of rows) {
      const outcome = row.outcome as ApiKeyOutcome;
      const counts = buckets.get(row.bucket * 1000);
      if (counts === undefined || !(outcome in totals)) continue;
      counts[outcome] += row.count;
      totals[outcome] += row.count;
    }
    return {
      keyId: key.id,
      range,
      bucketSeconds,
      buckets: [...buckets].map(([start, counts]) => ({ start: new Date(start).toISOString(), counts })),
      totals,
      lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
      remaining: key.remaining,
    };
  }

  /**
   * Unkey's verification, in Unkey's order: unknown, malformed or revoked keys are NOT_FOUND;
   * then DISABLED (the key or its owner), EXPIRED, INSUFFICIENT_SCOPE, RATE_LIMITED (each named
   * limit in turn), USAGE_EXCEEDED. Every outcome is counted by code.
   */
  verify(key: string, options?: VerifyOptions): Promise<VerifyResult> {
    return this.verifier.verify(key, options);
  }

  /**
   * `verify` without a promise when none is needed (a cached key spending no limit and no use):
   * the request path's form (the authenticator), see ApiKeyVerifier.check.
   */
  check(key: string, options?: VerifyOptions): VerifyResult | Promise<VerifyResult> {
    return this.verifier.check(key, options);
  }

  /** The verification cache's hit and miss counts. */
  cacheStats(): Record<string, number> {
    return this.cache.stats();
  }

  /** Forgets, in this instance, every key of `userId` (after their role or status changed). */
  invalidateOwner(userId: string): void {
    this.cache.applyChange(ownerChange(userId));
  }

  /**
   * Tells every instance to forget `userId`'s keys. Call it in the transaction that disables the
   * user or changes their role: the notification is delivered when that commits. Without a
   * change feed, this instance forgets at once instead, and a concurrent verification may cache
   * the old state again until `cacheTtlMs` has passed.
   */
  async notifyOwnerChanged(db: Kysely<Database>, userId: string): Promise<void> {
    await publishChange(db, API_KEY_CHANGES, ownerChange(userId));
    if (!this.options.changes) this.invalidateOwner(userId);
  }

  /** Writes the collected last uses in one statement. Called by the timer `start()` sets. */
  async flushUsage(): Promise<void> {
    await this.recorder.flush();
  }

  private view(row: ApiKeyRow): ApiKeyView {
    // This instance's uses not yet flushed are newer than the row's.
    const pending = this.recorder.unflushed(row.id);
    const lastUsedAt =
      pending !== undefined && (row.last_used_at === null || pending > row.last_used_at.getTime())
        ? new Date(pending)
        : row.last_used_at;
    return {
      id: row.id,
      name: row.name,
      prefix: row.prefix,
      ownerId: row.owner_id,
      scopes: row.scopes,
      expiresAt: row.expires_at,
      remaining: row.remaining,
      rateLimits: row.rate_limits,
      enabled: row.enabled,
      lastUsedAt,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      revokedAt: row.revoked_at,
      replacedBy: row.replaced_by,
    };
  }
}

function auditActor(actor: ApiKeyActor): AuditActor {
  return {
    organizationId: actor.organizationId,
    userId: actor.userId,
    apiKeyId: actor.apiKeyId ?? null,
    ip: actor.ip ?? null,
    userAgent: actor.userAgent ?? null,
  };
}

function environmentOf(prefix: string): ApiKeyEnvironment {
  return prefix.startsWith('bc_test_') ? 'test' : 'live';
}

function keyNotFound(): PlatformError {
  return new PlatformError('NOT_FOUND', 'no such API key');
}

function userNotFound(): PlatformError {
  return new PlatformError('NOT_FOUND', 'no such user');
}

/**
 * An API key calling the key procedures may grant only scopes it holds itself (Unkey's root keys
 * likewise cannot mint beyond their permissions): without this, a key with `auth:write` alone
 * could mint a key with every scope. A signed-in user is bounded by their role at each call instead.
 */
function assertWithinCallerScopes(actor: ApiKeyActor, scopes: readonly string[]): void {
  if (actor.kind !== 'apiKey') return;
  const held = new Set(actor.scopes ?? []);
  const missing = scopes.filter((scope) => !held.has(scope));
  if (missing.length > 0) {
    throw new PlatformError(
      'FORBIDDEN',
      `an API key cannot grant scopes it does not hold: ${missing.join(', ')}`,
    );
  }
}
