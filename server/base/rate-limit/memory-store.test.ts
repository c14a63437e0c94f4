import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from './memory-store';

const policy = { limit: 2, periodMs: 1_000 };

describe('MemoryRateLimitStore', () => {
  it('refuses once a key has spent its burst and admits again after the refill', async () => {
    const store = new MemoryRateLimitStore();
    expect((await store.consume('k', policy, 1, 0)).allowed).toBe(true);
    expect((await store.consume('k', policy, 1, 0)).allowed).toBe(true);
    expect(await store.consume('k', policy, 1, 0)).toMatchObject({ allowed: false, retryAfterMs: 500 });
    expect((await store.consume('k', policy, 1, 500)).allowed).toBe(true);
  });

  it('keeps no more keys than its bound, sweeping expired keys before live ones', async () => {
    const store = new MemoryRateLimitStore({ maxKeys: 10 });
    for (let i = 0; i < 9; i++) await store.consume(`old:${i}`, policy, 1, 0);
    await store.consume('live', policy, 2, 5_000);
    // At 10 s every old key has expired: the sweep makes room without touching 'live'.
    await store.consume('new', policy, 1, 5_100);
    expect(store.size).toBe(2);
    expect((await store.consume('live', policy, 1, 5_100)).allowed).toBe(false);
  });

  it('drops the least recently used live keys when every key is live', async () => {
    const store = new MemoryRateLimitStore({ maxKeys: 10 });
    for (let i = 0; i < 10; i++) await store.consume(`key:${i}`, policy, 1, 0);
    // Using key:0 again makes key:1 the least recently used.
    await store.consume('key:0', policy, 1, 0);
    await store.consume('newcomer', policy, 1, 0);
    expect(store.size).toBeLessThanOrEqual(10);
    // key:1 was dropped, its debt forgiven: a full burst fits again. key:9 was kept: it does not.
    expect((await store.consume('key:1', policy, 2, 0)).allowed).toBe(true);
    expect((await store.consume('key:9', policy, 2, 0)).allowed).toBe(false);
    expect((await store.consume('key:0', policy, 1, 0)).allowed).toBe(false);
  });
});
