import { describe, expect, it } from 'vitest';
import { MemoryCache } from './memory-cache';

describe('MemoryCache', () => {
  it('returns what was set until its TTL passes', () => {
    let now = 1000;
    const cache = new MemoryCache<string>({ maxEntries: 10, defaultTtlMs: 100, now: () => now });
    cache.set('a', 'one');
    expect(cache.get('a')).toBe('one');
    now += 99;
    expect(cache.get('a')).toBe('one');
    now += 1;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 0, hits: 2, misses: 1 });
  });

  it('evicts the least recently used entry beyond its bound', () => {
    const cache = new MemoryCache<number>({ maxEntries: 2, defaultTtlMs: 60_000 });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.stats().evictions).toBe(1);
  });
});
