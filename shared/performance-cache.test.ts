import { describe, expect, it } from 'vitest';
import { cacheInvalidateInput, cacheWarmInput } from './performance-cache';

describe('performance.cache inputs', () => {
  it('accepts exactly one of key, tag or all: true', () => {
    expect(cacheInvalidateInput.safeParse({ key: 'system:status' }).success).toBe(true);
    expect(cacheInvalidateInput.safeParse({ tag: 'database-settings' }).success).toBe(true);
    expect(cacheInvalidateInput.safeParse({ all: true }).success).toBe(true);
    expect(cacheInvalidateInput.safeParse({ key: 'a', all: false }).success).toBe(true);
  });

  it('refuses none, two, all: false alone, empty strings and NUL', () => {
    for (const input of [{}, { key: 'a', tag: 'b' }, { tag: 'b', all: true }, { all: false }, { key: '' }]) {
      expect(cacheInvalidateInput.safeParse(input).success).toBe(false);
    }
    expect(cacheInvalidateInput.safeParse({ key: 'a\u0000b' }).success).toBe(false);
  });

  it('takes no input, or a non-empty list of warmer names', () => {
    expect(cacheWarmInput.safeParse(undefined).success).toBe(true);
    expect(cacheWarmInput.safeParse({ warmers: ['database-settings'] }).success).toBe(true);
    expect(cacheWarmInput.safeParse({ warmers: [] }).success).toBe(false);
  });
});
