import { describe, expect, it } from 'vitest';
import {
  generateApiKey,
  generateRefreshToken,
  hashSecret,
  parseApiKey,
  parseRefreshToken,
  secretsEqual,
} from './secrets';

const HEX_SHA256 = /^[0-9a-f]{64}$/;

describe('generateApiKey', () => {
  it('writes the environment into the key and shows only a short prefix', () => {
    const live = generateApiKey({ environment: 'live' });
    const test = generateApiKey({ environment: 'test' });
    expect(live.key).toMatch(/^bc_live_[A-Za-z0-9_-]{32}$/);
    expect(test.key).toMatch(/^bc_test_[A-Za-z0-9_-]{32}$/);
    expect(live.prefix).toBe(live.key.slice(0, 12));
    expect(test.prefix).toBe(test.key.slice(0, 12));
    expect(live.hash).toMatch(HEX_SHA256);
  });

  it('carries 192 random bits, of which the prefix shows 24', () => {
    const { key, prefix } = generateApiKey({ environment: 'live' });
    const body = key.slice('bc_live_'.length);
    const bytes = Buffer.from(body, 'base64url');
    expect(bytes.length).toBe(24);
    expect(bytes.toString('base64url')).toBe(body);
    expect((prefix.length - 'bc_live_'.length) * 6).toBe(24);
  });

  it('hashes the whole key, stably, and differently for different keys', () => {
    const first = generateApiKey({ environment: 'live' });
    const second = generateApiKey({ environment: 'live' });
    expect(first.hash).toBe(hashSecret(first.key));
    expect(hashSecret(first.key)).toBe(hashSecret(first.key));
    expect(first.hash).not.toBe(second.hash);
  });

  it('never repeats a key in 10,000', () => {
    const keys = new Set<string>();
    const hashes = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const { key, hash } = generateApiKey({ environment: i % 2 === 0 ? 'live' : 'test' });
      keys.add(key.slice('bc_live_'.length));
      hashes.add(hash);
    }
    expect(keys.size).toBe(10_000);
    expect(hashes.size).toBe(10_000);
  });
});

describe('parseApiKey', () => {
  it('accepts a generated key and gives the hash to look it up by', () => {
    for (const environment of ['live', 'test'] as const) {
      const generated = generateApiKey({ environment });
      expect(parseApiKey(generated.key)).toEqual({ ...generated, environment });
    }
  });

  it('rejects anything that is not exactly the shape of a key', () => {
    const { key } = generateApiKey({ environment: 'live' });
    const body = key.slice('bc_live_'.length);
    const rejected: unknown[] = [
      // wrong or missing prefix
      `bc_prod_${body}`,
      `BC_LIVE_${body}`,
      `sk_live_${body}`,
      // (a body starting with `_` would make this one a key: never that)
      `bc_live${body.replace(/^_/, 'A')}x`,
      `bc-live-${body}`,
      `${body}12345678`,
      // characters outside base64url
      `bc_live_${body.slice(0, -1)}+`,
      `bc_live_${body.slice(0, -1)}/`,
      `bc_live_${body.slice(0, -1)}=`,
      `bc_live_${body.slice(0, -1)}.`,
      `bc_live_${body.slice(0, -1)}é`,
      // too short, too long
      '',
      'bc_live_',
      key.slice(0, -1),
      `${key}A`,
      `${key}${'A'.repeat(1_000_000)}`,
      // whitespace anywhere
      ` ${key}`,
      `${key} `,
      `${key}\n`,
      `bc_live_${body.slice(0, 16)} ${body.slice(17)}`,
      `Bearer ${key}`,
      // not strings
      undefined,
      null,
      42,
      { key },
    ];
    for (const candidate of rejected) {
      expect(parseApiKey(candidate), String(candidate).slice(0, 60)).toBeNull();
    }
  });
});

describe('generateRefreshToken and parseRefreshToken', () => {
  it('makes 256-bit base64url tokens whose hash is all that needs storing', () => {
    const { token, hash } = generateRefreshToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url').length).toBe(32);
    expect(hash).toBe(hashSecret(token));
    expect(hash).toMatch(HEX_SHA256);
    expect(generateRefreshToken().token).not.toBe(token);
  });

  it('parses a generated token and rejects other shapes', () => {
    const generated = generateRefreshToken();
    expect(parseRefreshToken(generated.token)).toEqual(generated);
    // The last character holds 4 data bits; flipping a spare bit gives a spelling we never produce.
    const last = generated.token.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sparesSet = alphabet[alphabet.indexOf(last) | 1];
    for (const candidate of [
      `${generated.token.slice(0, -1)}${sparesSet}`,
      generated.token.slice(0, -1),
      `${generated.token}A`,
      `${generated.token}=`,
      ` ${generated.token}`,
      generated.token.replace(/.$/, '+'),
      '',
      null,
      generateApiKey({ environment: 'live' }).key,
    ]) {
      expect(parseRefreshToken(candidate), String(candidate)).toBeNull();
    }
  });
});

describe('hashSecret', () => {
  it('is hex SHA-256', () => {
    // FIPS 180-2 test vector.
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('secretsEqual', () => {
  it('is true for the same hash and false for any other', () => {
    const { token, hash } = generateRefreshToken();
    expect(secretsEqual(hash, hashSecret(token))).toBe(true);
    expect(secretsEqual(hash, generateRefreshToken().hash)).toBe(false);
    expect(secretsEqual(hash, hash.slice(0, -1))).toBe(false);
    expect(secretsEqual(hash, `${hash}0`)).toBe(false);
    expect(secretsEqual('', '')).toBe(true);
    // Same number of UTF-16 units, different number of bytes: false, not a RangeError.
    expect(secretsEqual('é', 'e')).toBe(false);
  });
});
