import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { ApiKeyRateLimit, ApiKeyRow, Database, Role } from '../../../db/database';
import {
  type ApiKeyWithOwner,
  consumeApiKeyUse,
  findApiKeyByHash,
  findApiKeyInOrganization,
  findOwnerInOrganization,
  insertApiKey,
  listApiKeys,
  markApiKeyReplaced,
  recordApiKeyUsage,
  revokeApiKey,
  updateApiKey,
} from '../../../db/repositories/api-keys';
import { PlatformError } from '../../errors';
import type { Metrics } from '../monitoring/metrics';
import type { RateLimitDecision, RateLimitPolicy } from '../rate-limit/gcra';
import type { RateLimitStore } from '../rate-limit/store';
import type { AuditActor, AuditLog } from './audit';
import { type ChangeFeed, publishChange } from './change-feed';
import type { ApiKeyPrincipal } from './principal';
import { type ApiKeyEnvironment, generateApiKey, parseApiKey } from './secrets';

/** The channel on which instances tell each other to forget cached keys. */
export const API_KEY_CHANGES = 'api_key_changes';

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
  /** How often last_used_at is written. */
  usageFlushIntervalMs?: number;
  environment: ApiKeyEnvironment;
  logger?: ApiKeyServiceLogger;
}

/** A key as verification needs it, prepared once so that a cached verification computes little. */
interface CachedKey {
  id: string;
  organizationId: string;
  ownerId: string;
  revoked: boolean;
  /** Enabled, and its owner too. */
  usable: boolean;
  /** Infinity for a key that never expires. */
  expiresAtMs: number;
  scopes: ReadonlySet<string>;
  limits: { key: string; policy: RateLimitPolicy }[];
  limitedUses: boolean;
  /** The answer to a VALID verification of a key with neither rate limits nor limited uses. */
  valid: VerifyResult;
  /** performance.now() after which the entry is stale. */
  cachedUntil: number;
}

const NOT_FOUND: VerifyResult = Object.freeze({ code: 'NOT_FOUND' });
// One label object per code, built once: the verification path allocates none.
const CODE_LABELS = Object.fromEntries(
  (
    [
      'VALID',
      'NOT_FOUND',
      'EXPIRED',
      'DISABLED',
      'RATE_LIMITED',
      'USAGE_EXCEEDED',
      'INSUFFICIENT_SCOPE',
    ] as const
  ).map((code) => [code, Object.freeze({ code })]),
) as Record<VerifyCode, { code: VerifyCode }>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
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
    Pick<ApiKeyServiceOptions, 'cacheTtlMs' | 'negativeCacheTtlMs' | 'maxCachedKeys' | 'usageFlushIntervalMs'>
  > &
    ApiKeyServiceOptions;
  /** Known keys by hash. Insertion order is age order, so the first entry goes first when full. */
  private readonly keys = new Map<string, CachedKey>();
  /** Hashes no key has, with when to forget them (performance.now()). */
  private readonly unknown = new Map<string, number>();
  /** Lookups under way, so that a burst on one uncached key costs one query. */
  private readonly loading = new Map<string, Promise<CachedKey | null>>();
  /**
   * Bumped by every invalidation. A lookup that started before one may have read the old row,
   * so its result is not cached.
   */
  private epoch = 0;
  /** Key id → last use (ms since the epoch), waiting for the next flush. */
  private usage = new Map<string, number>();
  private flushing: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: ApiKeyServiceOptions) {
    this.options = {
      ...options,
      cacheTtlMs: options.cacheTtlMs ?? 30_000,
      negativeCacheTtlMs: options.negativeCacheTtlMs ?? 5_000,
      maxCachedKeys: options.maxCachedKeys ?? 10_000,
      usageFlushIntervalMs: options.usageFlushIntervalMs ?? 5_000,
    };
    // Subscribed here rather than in start(): the cache is used only while this is wired.
    options.changes?.subscribe(API_KEY_CHANGES, (payload) => this.applyChange(payload));
    options.changes?.onReconnect(() => this.forgetAll());
  }

  /** Starts writing last_used_at every `usageFlushIntervalMs`. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.flushUsage().catch((error) => this.warn(error, 'could not record API key usage'));
    }, this.options.usageFlushIntervalMs);
    this.timer.unref?.();
  }

  /** Stops the timer and writes the usage collected so far. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flushUsage().catch((error) => this.warn(error, 'could not record API key usage'));
  }

  async create(actor: ApiKeyActor, input: CreateApiKeyInput): Promise<IssuedApiKey> {
    const settings = checkSettings(input);
    const name = settings.name;
    if (name === undefined) throw new PlatformError('BAD_REQUEST', 'name is required');
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
    this.forgetKey(row.key_hash);
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
    this.forgetKey(row.key_hash);
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
    this.forgetKey(rotated.previous.key_hash);
    return {
      key: rotated.key,
      apiKey: this.view(rotated.replacement),
      previous: this.view(rotated.previous),
    };
  }

  /**
   * Unkey's verification, in Unkey's order: unknown, malformed or revoked keys are NOT_FOUND;
   * then DISABLED (the key or its owner), EXPIRED, INSUFFICIENT_SCOPE, RATE_LIMITED (each named
   * limit in turn), USAGE_EXCEEDED. Every outcome is counted by code.
   */
  async verify(key: string, options?: VerifyOptions): Promise<VerifyResult> {
    const parsed = parseApiKey(key);
    if (parsed === null) return this.count(NOT_FOUND);
    let entry = this.cached(parsed.hash);
    if (entry === undefined) entry = await this.load(parsed.hash);
    if (entry === null || entry.revoked) return this.count(NOT_FOUND);
    if (options?.organizationId !== undefined && entry.organizationId !== options.organizationId)
      return this.count(NOT_FOUND);
    if (!entry.usable) return this.count(refusal('DISABLED', entry));
    const clock = Date.now();
    const now = options?.now === undefined ? clock : options.now.getTime();
    if (now >= entry.expiresAtMs) return this.count(refusal('EXPIRED', entry));
    const scope = options?.scope;
    if (scope !== undefined && !entry.scopes.has(scope))
      return this.count(refusal('INSUFFICIENT_SCOPE', entry));
    if (entry.limits.length === 0 && !entry.limitedUses) {
      this.usage.set(entry.id, clock);
      return this.count(entry.valid);
    }
    return this.count(await this.spend(entry, options?.now === undefined ? undefined : now));
  }

  /** Forgets, in this instance, every key of `userId` (after their role or status changed). */
  invalidateOwner(userId: string): void {
    this.applyChange(ownerChange(userId));
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
    // One statement at a time: with the database slow, timer ticks must not pile up statements.
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.usage.size === 0) return;
    const batch = this.usage;
    this.usage = new Map();
    const ids = [...batch.keys()];
    const usedAt = ids.map((id) => new Date(batch.get(id) ?? 0).toISOString());
    this.flushing = recordApiKeyUsage(this.options.database.db, { ids, usedAt })
      .catch((error) => {
        // Put back what a newer use has not superseded, for the next flush.
        for (const [id, at] of batch) if (!this.usage.has(id)) this.usage.set(id, at);
        throw error;
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  private async spend(entry: CachedKey, now: number | undefined): Promise<VerifyResult> {
    let tightest: RateLimitDecision | undefined;
    // In order, stopping at the first refusal: a refused request is not charged to later limits.
    for (const limit of entry.limits) {
      const decision = await this.options.rateLimits.consume(limit.key, limit.policy, 1, now);
      if (!decision.allowed) return { ...refusal('RATE_LIMITED', entry), rateLimit: decision };
      if (!tightest || decision.remaining < tightest.remaining) tightest = decision;
    }
    let remaining: number | null = null;
    if (entry.limitedUses) {
      // Always the database, never the cache: the count must hold across instances.
      remaining = await consumeApiKeyUse(this.options.database.db, entry.id);
      if (remaining === null)
        return { ...refusal('USAGE_EXCEEDED', entry), remaining: 0, rateLimit: tightest };
    }
    this.usage.set(entry.id, Date.now());
    return { ...entry.valid, remaining, rateLimit: tightest };
  }

  private count(result: VerifyResult): VerifyResult {
    this.options.metrics.auth.keyVerifications.inc(CODE_LABELS[result.code]);
    return result;
  }

  /** Whether a cached answer can be trusted: only while changes can reach this instance. */
  private cacheUsable(): boolean {
    return this.options.changes === undefined || this.options.changes.connected;
  }

  /** The cached key (null: known not to exist), or undefined when the database must be asked. */
  private cached(hash: string): CachedKey | null | undefined {
    if (!this.cacheUsable()) return undefined;
    const entry = this.keys.get(hash);
    if (entry !== undefined) {
      if (entry.cachedUntil > performance.now()) return entry;
      this.keys.delete(hash);
      return undefined;
    }
    const unknownUntil = this.unknown.get(hash);
    if (unknownUntil === undefined) return undefined;
    if (unknownUntil > performance.now()) return null;
    this.unknown.delete(hash);
    return undefined;
  }

  private load(hash: string): Promise<CachedKey | null> {
    const existing = this.loading.get(hash);
    if (existing) return existing;
    const pending: Promise<CachedKey | null> = this.fetch(hash).finally(() => {
      // An invalidation may have replaced it with a newer lookup already.
      if (this.loading.get(hash) === pending) this.loading.delete(hash);
    });
    this.loading.set(hash, pending);
    return pending;
  }

  private async fetch(hash: string): Promise<CachedKey | null> {
    const epoch = this.epoch;
    const row = await this.options.database.read((db) => findApiKeyByHash(db, hash));
    const entry = row ? prepare(row, performance.now() + this.options.cacheTtlMs) : null;
    if (epoch === this.epoch && this.cacheUsable()) {
      if (entry && this.options.cacheTtlMs > 0) remember(this.keys, hash, entry, this.options.maxCachedKeys);
      if (!entry && this.options.negativeCacheTtlMs > 0)
        remember(
          this.unknown,
          hash,
          performance.now() + this.options.negativeCacheTtlMs,
          this.options.maxCachedKeys,
        );
    }
    return entry;
  }

  private applyChange(payload: string): void {
    this.epoch++;
    if (payload.startsWith(KEY_CHANGE)) {
      this.forgetKey(payload.slice(KEY_CHANGE.length));
    } else if (payload.startsWith(OWNER_CHANGE)) {
      const ownerId = payload.slice(OWNER_CHANGE.length);
      for (const [hash, entry] of this.keys) if (entry.ownerId === ownerId) this.keys.delete(hash);
      this.loading.clear();
    } else {
      // A payload this version does not know (a newer instance sent it): forgetting all is always safe.
      this.forgetAll();
    }
  }

  private forgetKey(hash: string): void {
    this.epoch++;
    this.keys.delete(hash);
    this.unknown.delete(hash);
    // A verification arriving after the change must not join a lookup that may have read the old row.
    this.loading.delete(hash);
  }

  private forgetAll(): void {
    this.epoch++;
    this.keys.clear();
    this.unknown.clear();
    this.loading.clear();
  }

  private view(row: ApiKeyRow): ApiKeyView {
    // This instance's uses not yet flushed are newer than the row's.
    const pending = this.usage.get(row.id);
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

  private warn(error: unknown, message: string): void {
    this.options.logger?.warn({ err: { message: (error as Error)?.message ?? String(error) } }, message);
  }
}

const KEY_CHANGE = 'key:';
const OWNER_CHANGE = 'owner:';

/** The change payload for one key: its hash, which is what caches are keyed by. */
function keyChange(keyHash: string): string {
  return KEY_CHANGE + keyHash;
}

function ownerChange(userId: string): string {
  return OWNER_CHANGE + userId;
}

function prepare(row: ApiKeyWithOwner, cachedUntil: number): CachedKey {
  const principal: ApiKeyPrincipal = Object.freeze({
    kind: 'apiKey',
    keyId: row.id,
    userId: row.owner_id,
    organizationId: row.organization_id,
    role: row.owner_role,
    scopes: Object.freeze([...row.scopes]),
  });
  return {
    id: row.id,
    organizationId: row.organization_id,
    ownerId: row.owner_id,
    revoked: row.revoked_at !== null,
    usable: row.enabled && !row.owner_disabled,
    expiresAtMs: row.expires_at === null ? Number.POSITIVE_INFINITY : row.expires_at.getTime(),
    scopes: new Set(row.scopes),
    limits: row.rate_limits.map((limit) => ({
      key: `apikey:${row.id}:${limit.name}`,
      policy: { limit: limit.limit, periodMs: limit.periodMs },
    })),
    limitedUses: row.remaining !== null,
    valid: Object.freeze({
      code: 'VALID',
      principal,
      keyId: row.id,
      organizationId: row.organization_id,
      remaining: null,
    }),
    cachedUntil,
  };
}

/** Adds to a bounded map; when full, the oldest entry (the first) makes room. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}

function refusal(code: VerifyCode, entry: CachedKey): VerifyResult {
  return { code, keyId: entry.id, organizationId: entry.organizationId };
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

function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id]), 'utf8').toString('base64url');
}

const EXACT_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = null;
  }
  if (
    Array.isArray(decoded) &&
    decoded.length === 2 &&
    typeof decoded[0] === 'string' &&
    EXACT_TIMESTAMP.test(decoded[0]) &&
    typeof decoded[1] === 'string' &&
    UUID.test(decoded[1])
  )
    return { createdAt: decoded[0], id: decoded[1] };
  throw new PlatformError('BAD_REQUEST', 'the cursor is not one this service issued');
}

const RATE_LIMIT_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * Checks settings as far as the database and the rate limiter need them to make sense, and
 * returns them as column values; only the given ones. The procedures' schemas are stricter
 * (known scopes); this guards callers that skip them.
 */
function checkSettings(input: UpdateApiKeyInput): {
  name?: string;
  scopes?: string[];
  expires_at?: Date | null;
  remaining?: number | null;
  rate_limits?: ApiKeyRateLimit[];
  enabled?: boolean;
} {
  const bad = (message: string) => new PlatformError('BAD_REQUEST', message);
  const out: ReturnType<typeof checkSettings> = {};
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200) throw bad('name must be 1 to 200 characters');
    out.name = name;
  }
  if (input.scopes !== undefined) {
    if (
      input.scopes.length > 64 ||
      input.scopes.some((s) => typeof s !== 'string' || s.length === 0 || s.length > 100)
    )
      throw bad('scopes must be at most 64 strings of 1 to 100 characters');
    out.scopes = [...new Set(input.scopes)];
  }
  if (input.expiresAt !== undefined) {
    if (input.expiresAt !== null && Number.isNaN(input.expiresAt.getTime()))
      throw bad('expiresAt is not a date');
    out.expires_at = input.expiresAt;
  }
  if (input.remaining !== undefined) {
    if (
      input.remaining !== null &&
      (!Number.isInteger(input.remaining) || input.remaining < 0 || input.remaining > 2_147_483_647)
    )
      throw bad('remaining must be a non-negative integer or null');
    out.remaining = input.remaining;
  }
  if (input.rateLimits !== undefined) {
    const names = new Set<string>();
    for (const limit of input.rateLimits) {
      if (!RATE_LIMIT_NAME.test(limit.name) || names.has(limit.name))
        throw bad('rate limit names must be distinct: 1 to 32 lower-case letters, digits, _ and -');
      if (
        !Number.isInteger(limit.limit) ||
        limit.limit < 1 ||
        !Number.isInteger(limit.periodMs) ||
        limit.periodMs < 1
      )
        throw bad('a rate limit needs a positive integer limit and periodMs');
      names.add(limit.name);
    }
    if (input.rateLimits.length > 5) throw bad('a key has at most 5 rate limits');
    out.rate_limits = input.rateLimits.map(({ name, limit, periodMs }) => ({ name, limit, periodMs }));
  }
  if (input.enabled !== undefined) out.enabled = input.enabled;
  return out;
}
