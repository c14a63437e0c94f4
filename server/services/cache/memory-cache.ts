export interface CacheOptions {
  /** Most entries held; the least recently used one goes first. */
  maxEntries: number;
  /** Lifetime of an entry unless `set` says otherwise. */
  defaultTtlMs: number;
  now?: () => number;
}

export interface CacheStats {
  entries: number;
  hits: number;
  misses: number;
  evictions: number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * An in-process LRU cache with per-entry TTL. A Map keeps insertion order, so re-inserting on
 * read makes its first key the least recently used one.
 */
export class MemoryCache<V = unknown> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly options: Required<CacheOptions>;
  private counters = { hits: 0, misses: 0, evictions: 0 };

  constructor(options: CacheOptions) {
    this.options = { now: Date.now, ...options };
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt <= this.options.now()) {
      if (entry) this.entries.delete(key);
      this.counters.misses++;
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.counters.hits++;
    return entry.value;
  }

  set(key: string, value: V, ttlMs = this.options.defaultTtlMs): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.options.now() + ttlMs });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.counters.evictions++;
    }
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  stats(): CacheStats {
    return { entries: this.entries.size, ...this.counters };
  }
}
