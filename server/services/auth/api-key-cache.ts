import type { PlatformDatabase } from '../../../db/connect';
import { type ApiKeyWithOwner, findApiKeyByHash } from '../../../db/repositories/api-keys';
import type { ChangeFeed } from '../../base/change-feed';
import type { ApiKeyPrincipal } from '../../base/principal';
import type { RateLimitPolicy } from '../../base/rate-limit/gcra';
import type { VerifyResult } from './api-key-types';

/** The channel on which instances tell each other to forget cached keys. */
export const API_KEY_CHANGES = 'api_key_changes';

/** A key as verification needs it, prepared once so that a cached verification computes little. */
export interface CachedKey {
  id: string;
  organizationId: string;
  ownerId: string;
  revoked: boolean;
  /** Enabled, its owner too, and its organization not suspended. */
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

export interface ApiKeyCacheOptions {
  database: PlatformDatabase;
  /** Without it, changes reach this instance's cache only: right for a single instance. */
  changes?: ChangeFeed;
  /** How long a verified key is served from memory. */
  cacheTtlMs: number;
  /** How long an unknown key is remembered as unknown. */
  negativeCacheTtlMs: number;
  /** Most keys of each cache (known and unknown). */
  maxCachedKeys: number;
}

/**
 * Verified keys kept in memory, so a hot key costs no query, and unknown ones, so a client
 * repeating a bad key costs none either. Every instance forgets a key when the change feed
 * announces a change to it or its owner; while the feed is disconnected, nothing cached is trusted.
 */
export class ApiKeyCache {
  /** Known keys by hash. Insertion order is age order, so the first entry goes first when full. */
  private readonly keys = new Map<string, CachedKey>();
  // Bypassed: the change feed was down, so the database was asked (see cacheUsable).
  private readonly counters = { hits: 0, negativeHits: 0, misses: 0, bypassed: 0, loads: 0 };
  /** Hashes no key has, with when to forget them (performance.now()). */
  private readonly unknown = new Map<string, number>();
  /** Lookups under way, so that a burst on one uncached key costs one query. */
  private readonly loading = new Map<string, Promise<CachedKey | null>>();
  /**
   * Bumped by every invalidation. A lookup that started before one may have read the old row,
   * so its result is not cached.
   */
  private epoch = 0;

  constructor(private readonly options: ApiKeyCacheOptions) {
    // Subscribed at construction rather than in the service's start(): the cache is used only
    // while this is wired.
    options.changes?.subscribe(API_KEY_CHANGES, (payload) => this.applyChange(payload));
    options.changes?.onReconnect(() => this.forgetAll());
  }

  /** The cached key (null: known not to exist), or undefined when the database must be asked. */
  get(hash: string): CachedKey | null | undefined {
    if (!this.cacheUsable()) {
      this.counters.bypassed++;
      return undefined;
    }
    const entry = this.keys.get(hash);
    if (entry !== undefined) {
      if (entry.cachedUntil > performance.now()) {
        this.counters.hits++;
        return entry;
      }
      this.keys.delete(hash);
      this.counters.misses++;
      return undefined;
    }
    const unknownUntil = this.unknown.get(hash);
    if (unknownUntil !== undefined && unknownUntil > performance.now()) {
      this.counters.negativeHits++;
      return null;
    }
    if (unknownUntil !== undefined) this.unknown.delete(hash);
    this.counters.misses++;
    return undefined;
  }

  /** Reads the key from the database; concurrent calls for one hash share one query. */
  load(hash: string): Promise<CachedKey | null> {
    const existing = this.loading.get(hash);
    if (existing) return existing;
    this.counters.loads++;
    const pending: Promise<CachedKey | null> = this.fetch(hash).finally(() => {
      // An invalidation may have replaced it with a newer lookup already.
      if (this.loading.get(hash) === pending) this.loading.delete(hash);
    });
    this.loading.set(hash, pending);
    return pending;
  }

  /** Hit and miss counts, for performance.cache.stats (plain numbers: read at request time). */
  stats(): Record<string, number> {
    return { ...this.counters, entries: this.keys.size, unknownEntries: this.unknown.size };
  }

  /** Forgets what a change-feed payload (`keyChange` or `ownerChange`) names. */
  applyChange(payload: string): void {
    this.epoch++;
    if (payload.startsWith(KEY_CHANGE)) {
      this.forgetKey(payload.slice(KEY_CHANGE.length));
    } else if (payload.startsWith(OWNER_CHANGE)) {
      const ownerId = payload.slice(OWNER_CHANGE.length);
      for (const [hash, entry] of this.keys) if (entry.ownerId === ownerId) this.keys.delete(hash);
      this.loading.clear();
    } else if (payload.startsWith(ORGANIZATION_CHANGE)) {
      const organizationId = payload.slice(ORGANIZATION_CHANGE.length);
      for (const [hash, entry] of this.keys)
        if (entry.organizationId === organizationId) this.keys.delete(hash);
      this.loading.clear();
    } else {
      // A payload this version does not know (a newer instance sent it): forgetting all is always safe.
      this.forgetAll();
    }
  }

  /** Forgets one key, by hash, in this instance. */
  forgetKey(hash: string): void {
    this.epoch++;
    this.keys.delete(hash);
    this.unknown.delete(hash);
    // A verification arriving after the change must not join a lookup that may have read the old row.
    this.loading.delete(hash);
  }

  /** Whether a cached answer can be trusted: only while changes can reach this instance. */
  private cacheUsable(): boolean {
    return this.options.changes === undefined || this.options.changes.connected;
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

  private forgetAll(): void {
    this.epoch++;
    this.keys.clear();
    this.unknown.clear();
    this.loading.clear();
  }
}

const KEY_CHANGE = 'key:';
const OWNER_CHANGE = 'owner:';
const ORGANIZATION_CHANGE = 'organization:';

/** The change payload for one key: its hash, which is what caches are keyed by. */
export function keyChange(keyHash: string): string {
  return KEY_CHANGE + keyHash;
}

/** The change payload for every key of one organization (suspended, resumed, deleted). */
export function organizationChange(organizationId: string): string {
  return ORGANIZATION_CHANGE + organizationId;
}

/** The change payload for all of one owner's keys. */
export function ownerChange(userId: string): string {
  return OWNER_CHANGE + userId;
}

function prepare(row: ApiKeyWithOwner, cachedUntil: number): CachedKey {
  const principal: ApiKeyPrincipal = Object.freeze({
    kind: 'apiKey',
    keyId: row.id,
    userId: row.owner_id,
    organizationId: row.organization_id,
    role: row.owner_role,
    platformRole: row.owner_platform_role,
    scopes: Object.freeze([...row.scopes]),
  });
  return {
    id: row.id,
    organizationId: row.organization_id,
    ownerId: row.owner_id,
    revoked: row.revoked_at !== null,
    usable: row.enabled && !row.owner_disabled && row.organization_suspended_at === null,
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
