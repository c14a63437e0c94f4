import { describe, expect, it } from 'vitest';
import { Cache, type CacheOptions } from './cache';

/** A cache on a clock the test moves by hand. */
function cacheWithClock(options: Partial<CacheOptions> = {}) {
  const clock = { now: 1_000 };
  const cache = new Cache({ maxEntries: 100, defaultTtlMs: 1_000, now: () => clock.now, ...options });
  return { cache, clock };
}

/** A promise the test settles when it chooses. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Cache: LRU and TTL', () => {
  it('evicts the least recently used entry beyond maxEntries, a read counting as a use', () => {
    const { cache } = cacheWithClock({ maxEntries: 3 });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    cache.get('a');
    cache.set('d', 4);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
    cache.set('e', 5);
    // 'a' was read before 'c' and 'd' just now, so it is the oldest use.
    expect(cache.get('a')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 3, evictions: 2, evictionsByReason: { entries: 2 } });
  });

  it('returns an entry until its TTL passes, then counts it expired', () => {
    const { cache, clock } = cacheWithClock();
    cache.set('a', 'one', { ttlMs: 100 });
    cache.set('b', 'two');
    clock.now += 99;
    expect(cache.get('a')).toBe('one');
    clock.now += 1;
    expect(cache.get('a')).toBeUndefined();
    // 'b' took the default TTL of 1000 ms.
    expect(cache.get('b')).toBe('two');
    expect(cache.stats()).toMatchObject({
      entries: 1,
      hits: 2,
      misses: 1,
      evictionsByReason: { expired: 1, size: 0, entries: 0 },
    });
  });

  it('stores nothing for a TTL of 0, and drops what the key held', () => {
    const { cache } = cacheWithClock();
    cache.set('a', 1);
    expect(cache.set('a', 2, { ttlMs: 0 })).toBe(false);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.stats().entries).toBe(0);
  });

  it('prune removes entries past their stale period and keeps the others', () => {
    const { cache, clock } = cacheWithClock();
    cache.set('gone', 1, { ttlMs: 10 });
    cache.set('stale', 2, { ttlMs: 10, staleMs: 100 });
    cache.set('fresh', 3, { ttlMs: 1_000 });
    clock.now += 50;
    expect(cache.prune()).toBe(1);
    expect(cache.stats()).toMatchObject({ entries: 2, evictionsByReason: { expired: 1 } });
  });
});

describe('Cache: byte bound', () => {
  it('evicts least recently used entries until the bytes fit, by reason size', () => {
    // Each entry: 2 bytes of key, 400 given, 64 of overhead = 466 bytes; three fit in 1500, not four.
    const { cache } = cacheWithClock({ maxBytes: 1_500 });
    for (const key of ['a', 'b', 'c']) cache.set(key, key, { size: 400 });
    expect(cache.stats().bytes).toBe(3 * 466);
    cache.get('a');
    cache.set('d', 'd', { size: 400 });
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('a');
    expect(cache.stats()).toMatchObject({ entries: 3, bytes: 3 * 466, evictionsByReason: { size: 1 } });
  });

  it('estimates a value from its JSON once, at set, and refuses one larger than the whole cache', () => {
    const { cache } = cacheWithClock({ maxBytes: 10_000 });
    cache.set('small', { text: 'x' });
    const small = cache.stats().bytes;
    cache.set('large', { text: 'x'.repeat(1_000) });
    expect(cache.stats().bytes - small).toBeGreaterThan(2_000);
    expect(cache.set('huge', 'x'.repeat(10_000))).toBe(false);
    expect(cache.get('huge')).toBeUndefined();
    // Refusing it pushed nothing out.
    expect(cache.stats()).toMatchObject({ entries: 2, evictionsByReason: { size: 1 } });
  });

  it('gives back the bytes of deleted, replaced and cleared entries', () => {
    const { cache } = cacheWithClock();
    cache.set('a', 'x'.repeat(100));
    cache.set('a', 'y');
    cache.set('b', 'z');
    const oneEach = cache.stats().bytes / 2;
    cache.delete('b');
    expect(cache.stats().bytes).toBe(oneEach);
    cache.clear();
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});

describe('Cache: getOrLoad', () => {
  it('calls the loader once for 100 concurrent lookups of a cold key', async () => {
    const { cache } = cacheWithClock();
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { loaded: calls };
    };
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.getOrLoad('cold', loader)));
    expect(calls).toBe(1);
    expect(new Set(values).size).toBe(1);
    expect(values[0]).toEqual({ loaded: 1 });
    expect(await cache.getOrLoad('cold', loader)).toBe(values[0]);
    expect(calls).toBe(1);
    expect(cache.stats()).toMatchObject({ loads: 1, misses: 100, hits: 1 });
  });

  it('does not cache a loader error: every waiting caller gets it, and the next lookup loads again', async () => {
    const { cache } = cacheWithClock();
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('database down');
    };
    const outcomes = await Promise.allSettled([cache.getOrLoad('k', failing), cache.getOrLoad('k', failing)]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    await expect(cache.getOrLoad('k', async () => 'recovered')).resolves.toBe('recovered');
    expect(cache.get('k')).toBe('recovered');
    expect(cache.stats()).toMatchObject({ loads: 2, loadErrors: 1 });
  });

  it('turns a loader that throws synchronously into a rejection', async () => {
    const { cache } = cacheWithClock();
    const loader = (() => {
      throw new Error('sync');
    }) as () => Promise<never>;
    await expect(cache.getOrLoad('k', loader)).rejects.toThrow('sync');
    expect(cache.stats().loadErrors).toBe(1);
  });

  it('within staleMs answers with the stale value at once and refreshes it in the background, once', async () => {
    const { cache, clock } = cacheWithClock();
    await cache.getOrLoad('k', async () => 'old', { ttlMs: 100, staleMs: 1_000 });
    clock.now += 150;
    const refresh = deferred<string>();
    let calls = 0;
    const loader = () => {
      calls++;
      return refresh.promise;
    };
    expect(await cache.getOrLoad('k', loader, { ttlMs: 100, staleMs: 1_000 })).toBe('old');
    expect(await cache.getOrLoad('k', loader, { ttlMs: 100, staleMs: 1_000 })).toBe('old');
    expect(calls).toBe(1);
    refresh.resolve('new');
    await settle();
    expect(await cache.getOrLoad('k', loader, { ttlMs: 100, staleMs: 1_000 })).toBe('new');
    expect(calls).toBe(1);
    expect(cache.stats()).toMatchObject({ staleHits: 2, hits: 1, loads: 2 });
  });

  it('keeps serving the stale value after a failed refresh until staleMs ends, then fails', async () => {
    const failures: string[] = [];
    const { cache, clock } = cacheWithClock({ onRefreshError: (key) => failures.push(key) });
    const entry = { ttlMs: 100, staleMs: 200 };
    await cache.getOrLoad('k', async () => 'old', entry);
    const failing = async (): Promise<string> => {
      throw new Error('database down');
    };
    clock.now += 150;
    expect(await cache.getOrLoad('k', failing, entry)).toBe('old');
    await settle();
    expect(failures).toEqual(['k']);
    clock.now += 100;
    expect(await cache.getOrLoad('k', failing, entry)).toBe('old');
    await settle();
    clock.now += 100;
    // 350 ms after the load: past TTL and stale period alike.
    await expect(cache.getOrLoad('k', failing, entry)).rejects.toThrow('database down');
    expect(cache.stats()).toMatchObject({ staleHits: 2, loadErrors: 3 });
  });

  it('waits for the loader once the stale period is over', async () => {
    const { cache, clock } = cacheWithClock();
    await cache.getOrLoad('k', async () => 'old', { ttlMs: 100, staleMs: 100 });
    clock.now += 200;
    expect(await cache.getOrLoad('k', async () => 'new', { ttlMs: 100, staleMs: 100 })).toBe('new');
  });

  it('does not store a load that an invalidation overtook, and starts a fresh one for later callers', async () => {
    const { cache } = cacheWithClock();
    const first = deferred<string>();
    const joined = cache.getOrLoad('k', () => first.promise, { tags: ['t'] });
    cache.invalidateTag('t');
    const fresh = cache.getOrLoad('k', async () => 'after');
    first.resolve('before');
    expect(await joined).toBe('before');
    expect(await fresh).toBe('after');
    expect(cache.get('k')).toBe('after');

    const second = deferred<string>();
    const pending = cache.getOrLoad('j', () => second.promise);
    cache.delete('j');
    second.resolve('before delete');
    await pending;
    expect(cache.get('j')).toBeUndefined();
  });

  it('lets a set win over a load under way', async () => {
    const { cache } = cacheWithClock();
    const load = deferred<string>();
    const pending = cache.getOrLoad('k', () => load.promise);
    cache.set('k', 'set');
    load.resolve('loaded');
    await pending;
    expect(cache.get('k')).toBe('set');
  });

  it('measures load time: total, mean and max', async () => {
    const { cache, clock } = cacheWithClock();
    const slow = (ms: number) => async () => {
      clock.now += ms;
      return ms;
    };
    await cache.getOrLoad('a', slow(10));
    await cache.getOrLoad('b', slow(30));
    expect(cache.stats().loadTimeMs).toEqual({ total: 40, mean: 20, max: 30 });
  });
});

describe('Cache: tags and statistics', () => {
  it('invalidates every entry of a tag and leaves the others', () => {
    const { cache } = cacheWithClock();
    cache.set('user:1', 1, { tags: ['org:a'] });
    cache.set('user:2', 2, { tags: ['org:a', 'admins'] });
    cache.set('user:3', 3, { tags: ['org:b'] });
    expect(cache.invalidateTag('org:a')).toBe(2);
    expect([cache.get('user:1'), cache.get('user:2'), cache.get('user:3')]).toEqual([
      undefined,
      undefined,
      3,
    ]);
    // The tag index forgot user:2 under its other tag too.
    expect(cache.invalidateTag('admins')).toBe(0);
    expect(cache.invalidateTag('unknown')).toBe(0);
  });

  it('counts hits, misses and stale hits into the hit ratio', async () => {
    const { cache, clock } = cacheWithClock();
    expect(cache.stats().hitRatio).toBe(0);
    cache.set('a', 1, { ttlMs: 10, staleMs: 100 });
    cache.get('a');
    cache.get('missing');
    clock.now += 20;
    await cache.getOrLoad('a', async () => 2);
    await settle();
    const stats = cache.stats();
    expect(stats).toMatchObject({ hits: 1, misses: 1, staleHits: 1 });
    expect(stats.hitRatio).toBeCloseTo(2 / 3);
  });

  it('shows other caches registered by name, leaving out one that throws', () => {
    const { cache } = cacheWithClock();
    cache.registerStatsSource('apiKeys', () => ({ hits: 5, misses: 1 }));
    cache.registerStatsSource('broken', () => {
      throw new Error('no figures');
    });
    expect(cache.sourceStats()).toEqual({ apiKeys: { hits: 5, misses: 1 } });
    expect(() => cache.registerStatsSource('apiKeys', () => ({}))).toThrow(/twice/);
  });

  it('refuses bounds that cannot hold anything', () => {
    expect(() => new Cache({ maxEntries: 0, defaultTtlMs: 1 })).toThrow(RangeError);
    expect(() => new Cache({ maxEntries: 1, maxBytes: 0, defaultTtlMs: 1 })).toThrow(RangeError);
  });
});
