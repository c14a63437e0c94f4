import { context, SpanKind, type Tracer, trace } from '@opentelemetry/api';
import { startChildSpan } from '../../base/tracing/context';
/** Why an entry left the cache other than by `delete`, `invalidateTag` or `clear`. */
export type EvictionReason = 'size' | 'entries' | 'expired';

export interface CacheOptions {
  /** Most entries held; past it, the least recently used go first. */
  maxEntries: number;
  /** Most estimated bytes held (see `EntryOptions.size`); past it, the least recently used go first. */
  maxBytes?: number;
  /** Lifetime of an entry unless `set` or `getOrLoad` says otherwise. */
  defaultTtlMs: number;
  /** The clock, in milliseconds: monotonic by default, injectable for tests. */
  now?: () => number;
  /** Told of a background refresh that failed; the stale value goes on being served meanwhile. */
  onRefreshError?: (key: string, error: unknown) => void;
  /**
   * Lookups and stores as spans under the traced work that makes them (docs/operations.md,
   * "Tracing"): `cache get` with `cache.hit`, `cache set`, `cache getOrLoad` around its load.
   */
  tracer?: Tracer | null;
}

export interface EntryOptions {
  /** How long the entry is fresh. 0 (with no `staleMs`) stores nothing. */
  ttlMs?: number;
  /** How long after `ttlMs` `getOrLoad` may still answer with the entry while it reloads it. */
  staleMs?: number;
  /** Names under which `invalidateTag` removes the entry. */
  tags?: readonly string[];
  /**
   * The value's size in bytes, when the caller knows it. Otherwise it is estimated once, at set,
   * from the length of its JSON.
   */
  size?: number;
}

export interface CacheStats {
  entries: number;
  /** Estimated bytes held. */
  bytes: number;
  maxEntries: number;
  maxBytes: number;
  /** Lookups answered with a fresh entry. */
  hits: number;
  /** Lookups that found nothing usable (and, through `getOrLoad`, waited for a load). */
  misses: number;
  /** `getOrLoad` lookups answered with an expired entry while it reloads. */
  staleHits: number;
  /** (hits + staleHits) / all lookups; 0 before the first lookup. */
  hitRatio: number;
  /** Loader calls started; concurrent misses of one key share one. */
  loads: number;
  loadErrors: number;
  /** Time loads took, finished ones only, successful or not. */
  loadTimeMs: { total: number; mean: number; max: number };
  evictions: number;
  evictionsByReason: Record<EvictionReason, number>;
}

/** What another cache (one with its own structure, like the API-key cache) reports by name. */
export type ExternalCacheStats = Record<string, number>;

interface Entry {
  value: unknown;
  bytes: number;
  expiresAt: number;
  /** Until then `getOrLoad` may serve it stale; equal to `expiresAt` when it may not. */
  staleUntil: number;
  tags: readonly string[];
}

interface Flight {
  promise: Promise<unknown>;
  tags: ReadonlySet<string>;
  /** Set when the key was invalidated while loading: the loaded value may be the old one. */
  discarded: boolean;
}

/** Bookkeeping a Map entry, its key and tag list cost beyond key and value. */
const ENTRY_OVERHEAD_BYTES = 64;
/** The size assumed for a value JSON cannot encode (cycles, BigInt) when the caller gave none. */
const UNENCODABLE_VALUE_BYTES = 1_024;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * An in-process LRU cache with TTL, bounded both in entries and in estimated bytes, that loads
 * missing values itself (`getOrLoad`): one loader call per key however many callers miss it at
 * once, and, within `staleMs` after expiry, the old value at once while a single background load
 * refreshes it. A Map keeps insertion order, so re-inserting on read makes its first key the
 * least recently used one.
 */
export class Cache {
  private readonly entries = new Map<string, Entry>();
  /** Keys by tag, for `invalidateTag`. */
  private readonly tagged = new Map<string, Set<string>>();
  private readonly flights = new Map<string, Flight>();
  private readonly statsSources = new Map<string, () => ExternalCacheStats>();
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly defaultTtlMs: number;
  private readonly now: () => number;
  private readonly onRefreshError: (key: string, error: unknown) => void;
  private bytes = 0;
  private readonly counters = {
    hits: 0,
    misses: 0,
    staleHits: 0,
    loads: 0,
    loadErrors: 0,
    loadsFinished: 0,
    loadTimeTotalMs: 0,
    loadTimeMaxMs: 0,
  };
  private readonly evictions: Record<EvictionReason, number> = { size: 0, entries: 0, expired: 0 };

  constructor(options: CacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1)
      throw new RangeError('maxEntries must be a positive integer');
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!(maxBytes > 0)) throw new RangeError('maxBytes must be positive');
    if (!(options.defaultTtlMs >= 0)) throw new RangeError('defaultTtlMs must not be negative');
    this.maxEntries = options.maxEntries;
    this.maxBytes = maxBytes;
    this.defaultTtlMs = options.defaultTtlMs;
    this.now = options.now ?? (() => performance.now());
    this.onRefreshError = options.onRefreshError ?? (() => undefined);
    if (options.tracer) traceCache(this, options.tracer);
  }

  /** The fresh value of `key`, or undefined. An expired entry is not returned, even within its `staleMs`. */
  get<T = unknown>(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      const now = this.now();
      if (now < entry.expiresAt) {
        this.touch(key, entry);
        this.counters.hits++;
        return entry.value as T;
      }
      if (now >= entry.staleUntil) this.remove(key, entry, 'expired');
    }
    this.counters.misses++;
    return undefined;
  }

  /**
   * Stores `value` under `key`, replacing what was there; a load of `key` under way will not
   * overwrite it. Returns false when nothing was stored: no lifetime, or larger than `maxBytes`.
   */
  set(key: string, value: unknown, options: EntryOptions = {}): boolean {
    this.discardFlight(key);
    return this.store(key, value, options);
  }

  /** Removes `key`; a load of it under way will not store its result. */
  delete(key: string): boolean {
    this.discardFlight(key);
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.remove(key, entry, null);
    return true;
  }

  /** Removes every entry tagged `tag`, and keeps loads under way with that tag from storing. */
  invalidateTag(tag: string): number {
    for (const [key, flight] of this.flights) if (flight.tags.has(tag)) this.discardFlight(key);
    const keys = this.tagged.get(tag);
    if (!keys) return 0;
    let removed = 0;
    for (const key of [...keys]) {
      const entry = this.entries.get(key);
      if (entry) {
        this.remove(key, entry, null);
        removed++;
      }
    }
    return removed;
  }

  /** Removes everything, and keeps every load under way from storing. */
  clear(): number {
    const removed = this.entries.size;
    for (const flight of this.flights.values()) flight.discarded = true;
    this.flights.clear();
    this.entries.clear();
    this.tagged.clear();
    this.bytes = 0;
    return removed;
  }

  /**
   * The value of `key`: the cached one while fresh; within `staleMs` after expiry the stale one at
   * once, while `loader` refreshes it in the background (one refresh at a time; a failed one
   * leaves the stale value in place); otherwise `loader`'s, shared by every caller that misses
   * the key before it settles. A loader's error reaches its callers and is not cached.
   */
  getOrLoad<T>(key: string, loader: () => Promise<T>, options: EntryOptions = {}): Promise<T> {
    const entry = this.entries.get(key);
    if (entry) {
      const now = this.now();
      if (now < entry.expiresAt) {
        this.touch(key, entry);
        this.counters.hits++;
        return Promise.resolve(entry.value as T);
      }
      if (now < entry.staleUntil) {
        this.touch(key, entry);
        this.counters.staleHits++;
        if (!this.flights.has(key)) {
          this.load(key, loader, options).catch((error) => this.onRefreshError(key, error));
        }
        return Promise.resolve(entry.value as T);
      }
      this.remove(key, entry, 'expired');
    }
    this.counters.misses++;
    const flight = this.flights.get(key);
    if (flight) return flight.promise as Promise<T>;
    return this.load(key, loader, options);
  }

  /**
   * Removes entries past their stale period. Expired entries otherwise leave only when looked up
   * or pushed out, and count against the bounds meanwhile.
   */
  prune(): number {
    const now = this.now();
    let removed = 0;
    for (const [key, entry] of this.entries) {
      if (now >= entry.staleUntil) {
        this.remove(key, entry, 'expired');
        removed++;
      }
    }
    return removed;
  }

  stats(): CacheStats {
    const c = this.counters;
    const lookups = c.hits + c.staleHits + c.misses;
    return {
      entries: this.entries.size,
      bytes: this.bytes,
      maxEntries: this.maxEntries,
      maxBytes: this.maxBytes,
      hits: c.hits,
      misses: c.misses,
      staleHits: c.staleHits,
      hitRatio: lookups === 0 ? 0 : (c.hits + c.staleHits) / lookups,
      loads: c.loads,
      loadErrors: c.loadErrors,
      loadTimeMs: {
        total: c.loadTimeTotalMs,
        mean: c.loadsFinished === 0 ? 0 : c.loadTimeTotalMs / c.loadsFinished,
        max: c.loadTimeMaxMs,
      },
      evictions: this.evictions.size + this.evictions.entries + this.evictions.expired,
      evictionsByReason: { ...this.evictions },
    };
  }

  /**
   * Adds another cache's figures to `sourceStats()` under `name`, so one endpoint shows every
   * cache of the process, including those with structures of their own.
   */
  registerStatsSource(name: string, read: () => ExternalCacheStats): void {
    if (this.statsSources.has(name)) throw new Error(`cache stats source ${name} registered twice`);
    this.statsSources.set(name, read);
  }

  /** The figures of every registered source; a source that throws is left out. */
  sourceStats(): Record<string, ExternalCacheStats> {
    const result: Record<string, ExternalCacheStats> = {};
    for (const [name, read] of this.statsSources) {
      try {
        result[name] = read();
      } catch {
        // Statistics are advisory: one broken source must not break the endpoint showing the others.
      }
    }
    return result;
  }

  private load<T>(key: string, loader: () => Promise<T>, options: EntryOptions): Promise<T> {
    const started = this.now();
    this.counters.loads++;
    const flight: Flight = { promise: Promise.resolve(), tags: new Set(options.tags), discarded: false };
    // Through the Promise constructor, a loader that throws synchronously rejects like one that fails later.
    const promise = new Promise<T>((resolve) => resolve(loader())).then(
      (value) => {
        this.finishLoad(key, flight, started);
        if (!flight.discarded) this.store(key, value, options);
        return value;
      },
      (error: unknown) => {
        this.finishLoad(key, flight, started);
        this.counters.loadErrors++;
        throw error;
      },
    );
    flight.promise = promise;
    this.flights.set(key, flight);
    return promise;
  }

  private finishLoad(key: string, flight: Flight, started: number): void {
    const durationMs = Math.max(0, this.now() - started);
    this.counters.loadsFinished++;
    this.counters.loadTimeTotalMs += durationMs;
    if (durationMs > this.counters.loadTimeMaxMs) this.counters.loadTimeMaxMs = durationMs;
    // A newer load may have taken its place after an invalidation.
    if (this.flights.get(key) === flight) this.flights.delete(key);
  }

  private discardFlight(key: string): void {
    const flight = this.flights.get(key);
    if (!flight) return;
    flight.discarded = true;
    this.flights.delete(key);
  }

  private store(key: string, value: unknown, options: EntryOptions): boolean {
    const ttlMs = options.ttlMs ?? this.defaultTtlMs;
    const staleMs = options.staleMs ?? 0;
    if (!(ttlMs >= 0) || !(staleMs >= 0)) throw new RangeError('ttlMs and staleMs must not be negative');
    const existing = this.entries.get(key);
    if (existing) this.remove(key, existing, null);
    if (ttlMs === 0 && staleMs === 0) return false;
    const bytes = estimateBytes(key, value, options.size);
    if (bytes > this.maxBytes) {
      // Storing it would push out everything else and still not fit.
      this.evictions.size++;
      return false;
    }
    const now = this.now();
    const tags = options.tags ? [...new Set(options.tags)] : [];
    this.entries.set(key, { value, bytes, expiresAt: now + ttlMs, staleUntil: now + ttlMs + staleMs, tags });
    this.bytes += bytes;
    for (const tag of tags) {
      const keys = this.tagged.get(tag);
      if (keys) keys.add(key);
      else this.tagged.set(tag, new Set([key]));
    }
    this.evictOverflow();
    return true;
  }

  private evictOverflow(): void {
    const now = this.now();
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.entries().next();
      if (oldest.done) return;
      const [key, entry] = oldest.value;
      const reason: EvictionReason =
        now >= entry.staleUntil ? 'expired' : this.entries.size > this.maxEntries ? 'entries' : 'size';
      this.remove(key, entry, reason);
    }
  }

  private touch(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  private remove(key: string, entry: Entry, reason: EvictionReason | null): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
    for (const tag of entry.tags) {
      const keys = this.tagged.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.tagged.delete(tag);
    }
    if (reason) this.evictions[reason]++;
  }
}

/**
 * An estimate, not a measurement: V8 holds a string in one or two bytes per character and an
 * object in more than its JSON, so twice the characters of key and JSON, plus a fixed overhead,
 * is a middle figure that keeps the byte bound meaningful at the cost of one stringify per set.
 */
function estimateBytes(key: string, value: unknown, size: number | undefined): number {
  if (size !== undefined) {
    if (!(size >= 0) || !Number.isFinite(size)) throw new RangeError('size must be a finite number of bytes');
    return 2 * key.length + size + ENTRY_OVERHEAD_BYTES;
  }
  let valueBytes: number;
  try {
    // JSON.stringify returns undefined for undefined and functions.
    valueBytes = 2 * (JSON.stringify(value)?.length ?? 0);
  } catch {
    valueBytes = UNENCODABLE_VALUE_BYTES;
  }
  return 2 * key.length + valueBytes + ENTRY_OVERHEAD_BYTES;
}

/**
 * Replaces the cache's lookups and stores with traced ones, once, when it is built: a cache
 * without a tracer runs its methods as they are. Keys are not recorded (they may hold ids a
 * trace has no business with); hits are.
 */
function traceCache(cache: Cache, tracer: Tracer): void {
  const get = cache.get.bind(cache);
  const set = cache.set.bind(cache);
  const getOrLoad = cache.getOrLoad.bind(cache);
  const kind = SpanKind.INTERNAL;
  cache.get = <T>(key: string): T | undefined => {
    const span = startChildSpan(tracer, 'cache get', { kind });
    const value = get<T>(key);
    span?.setAttribute('cache.hit', value !== undefined);
    span?.end();
    return value;
  };
  cache.set = (key, value, options) => {
    const span = startChildSpan(tracer, 'cache set', { kind });
    const stored = set(key, value, options);
    span?.setAttribute('cache.stored', stored);
    span?.end();
    return stored;
  };
  cache.getOrLoad = async <T>(key: string, loader: () => Promise<T>, options?: EntryOptions): Promise<T> => {
    const span = startChildSpan(tracer, 'cache getOrLoad', { kind });
    if (span === undefined) return getOrLoad(key, loader, options);
    let loaded = false;
    try {
      // The load runs inside the span: its queries are the span's children.
      return await context.with(trace.setSpan(context.active(), span), () =>
        getOrLoad(
          key,
          () => {
            loaded = true;
            return loader();
          },
          options,
        ),
      );
    } finally {
      // A miss that another caller's load answered counts as a hit of the shared flight.
      span.setAttribute('cache.hit', !loaded);
      span.end();
    }
  };
}
