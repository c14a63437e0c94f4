import { randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCRYPT_PARAMS,
  dummyVerify,
  hashPassword,
  MAX_PASSWORD_BYTES,
  PasswordPolicyError,
  type ScryptParams,
  verifyPassword,
} from './passwords';

// Behaviour that does not depend on the cost runs at a cost of 16, not 131,072.
const FAST: ScryptParams = { ln: 4, r: 1, p: 1 };

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The same bytes, spelled with one of the final character's unused low bits set. */
function withSpareBitSet(text: string): string {
  const last = B64_ALPHABET.indexOf(text.at(-1)!);
  return text.slice(0, -1) + B64_ALPHABET[last | 1];
}

describe('hashPassword and verifyPassword', () => {
  it('accepts the password that was hashed and nothing else', async () => {
    const stored = await hashPassword('correct horse battery staple', FAST);
    expect(stored).toMatch(/^\$scrypt\$ln=4,r=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword('correct horse battery staple', stored, FAST)).toEqual({
      ok: true,
      needsRehash: false,
    });
    for (const wrong of [
      'correct horse battery stapl',
      'Correct horse battery staple',
      ' correct horse battery staple',
    ]) {
      expect(await verifyPassword(wrong, stored, FAST)).toEqual({ ok: false, needsRehash: false });
    }
  });

  it('salts each hash, so the same password never hashes the same way twice', async () => {
    const first = await hashPassword('hunter2hunter2', FAST);
    const second = await hashPassword('hunter2hunter2', FAST);
    expect(first).not.toBe(second);
    expect(first.split('$')[4]).not.toBe(second.split('$')[4]);
    expect((await verifyPassword('hunter2hunter2', second, FAST)).ok).toBe(true);
  });

  it('matches a password typed composed or decomposed, or in full-width forms', async () => {
    const composed = 'caf\u00e9-cr\u00e8me';
    const decomposed = 'cafe\u0301-cre\u0300me';
    expect(composed).not.toBe(decomposed);
    expect((await verifyPassword(decomposed, await hashPassword(composed, FAST), FAST)).ok).toBe(true);
    expect((await verifyPassword(composed, await hashPassword(decomposed, FAST), FAST)).ok).toBe(true);
    expect((await verifyPassword('ｐａｓｓ１２３', await hashPassword('pass123', FAST), FAST)).ok).toBe(true);
  });

  it('asks for a rehash when any stored parameter is below the current ones', async () => {
    const stored = await hashPassword('a long passphrase', FAST);
    for (const current of [{ ...FAST, ln: 5 }, { ...FAST, r: 2 }, { ...FAST, p: 2 }, DEFAULT_SCRYPT_PARAMS]) {
      expect(await verifyPassword('a long passphrase', stored, current)).toEqual({
        ok: true,
        needsRehash: true,
      });
    }
    // Stronger than current is fine as it is; a wrong password never asks for anything.
    expect(await verifyPassword('a long passphrase', stored, { ln: 3, r: 1, p: 1 })).toEqual({
      ok: true,
      needsRehash: false,
    });
    expect(await verifyPassword('another passphrase', stored, DEFAULT_SCRYPT_PARAMS)).toEqual({
      ok: false,
      needsRehash: false,
    });
  });

  it('verifies a hash with a shorter salt and key than ours, and asks for a rehash', async () => {
    const salt = randomBytes(8);
    const key = scryptSync('legacy password', salt, 16, { N: 16, r: 1, p: 1 });
    const stored = `$scrypt$ln=4,r=1,p=1$${b64(salt)}$${b64(key)}`;
    expect(await verifyPassword('legacy password', stored, FAST)).toEqual({ ok: true, needsRehash: true });
  });

  it('answers ok:false, without throwing, for stored strings that are not our hashes', async () => {
    const good = await hashPassword('pw-for-corruption', FAST);
    const [, , params, salt, key] = good.split('$') as [string, string, string, string, string];
    const malformed: unknown[] = [
      '',
      'pw-for-corruption',
      null,
      undefined,
      42,
      '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy',
      `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${key}`,
      `$scrypt$${params}$${salt}`,
      `$scrypt$${params}$${salt}$${key}$`,
      `$scrypt$${params}$${salt}$${key}$extra`,
      ` ${good}`,
      `${good}\n`,
      good.toUpperCase(),
      `$scrypt$ln=04,r=1,p=1$${salt}$${key}`,
      `$scrypt$ln=4,r=1$${salt}$${key}`,
      `$scrypt$r=1,ln=4,p=1$${salt}$${key}`,
      `$scrypt$ln=0,r=1,p=1$${salt}$${key}`,
      `$scrypt$ln=4,r=0,p=1$${salt}$${key}`,
      `$scrypt$ln=4,r=1,p=99$${salt}$${key}`,
      // Valid syntax, but 1 GiB of memory: refused before scrypt is asked to allocate it.
      `$scrypt$ln=20,r=8,p=1$${salt}$${key}`,
      // A different key, one too short to be ours, and a spelling of the key we never write.
      `$scrypt$${params}$${salt}$${key[0] === 'A' ? 'B' : 'A'}${key.slice(1)}`,
      `$scrypt$${params}$${salt}$${key.slice(0, 20)}`,
      `$scrypt$${params}$${salt}$${withSpareBitSet(key)}`,
      `$scrypt$${params}$${salt}$${key}==`,
      `$scrypt$${params}$${salt}$${key.slice(0, -1)}_`,
      `$scrypt$${params}$${salt.slice(0, 4)}$${key}`,
      `$scrypt$${params}$${salt}$${'A'.repeat(200)}`,
      `$scrypt$${params}$${salt}$${key}${'A'.repeat(10_000)}`,
    ];
    for (const stored of malformed) {
      expect(await verifyPassword('pw-for-corruption', stored as string, FAST), String(stored)).toEqual({
        ok: false,
        needsRehash: false,
      });
    }
    expect((await verifyPassword('pw-for-corruption', good, FAST)).ok).toBe(true);
  });

  it('rejects empty, over-long and ill-formed passwords when hashing, with a reason', async () => {
    const cases: [string, string][] = [
      ['', 'empty'],
      ['a'.repeat(MAX_PASSWORD_BYTES + 1), 'too_long'],
      // 513 characters but 1026 bytes: the bound is on bytes.
      ['é'.repeat(513), 'too_long'],
      ['a'.repeat(10_000_000), 'too_long'],
      ['lone \uD800 surrogate', 'not_unicode'],
    ];
    for (const [password, reason] of cases) {
      const error = await hashPassword(password, FAST).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(PasswordPolicyError);
      expect(error).toMatchObject({ reason, name: 'PasswordPolicyError' });
    }
    const longest = 'a'.repeat(MAX_PASSWORD_BYTES);
    expect((await verifyPassword(longest, await hashPassword(longest, FAST), FAST)).ok).toBe(true);
    expect((await verifyPassword('emoji 🔑 ok', await hashPassword('emoji 🔑 ok', FAST), FAST)).ok).toBe(
      true,
    );
  });

  it('answers ok:false, without throwing, when verifying passwords it would not hash', async () => {
    const stored = await hashPassword('a'.repeat(MAX_PASSWORD_BYTES), FAST);
    for (const password of ['', 'a'.repeat(MAX_PASSWORD_BYTES + 1), '\uDFFF', null, undefined]) {
      expect(await verifyPassword(password as string, stored, FAST)).toEqual({
        ok: false,
        needsRehash: false,
      });
    }
  });

  it('refuses cost parameters scrypt cannot run within its memory ceiling', async () => {
    for (const params of [
      { ln: 0, r: 1, p: 1 },
      { ln: 4.5, r: 1, p: 1 },
      { ln: 20, r: 8, p: 1 },
    ]) {
      await expect(hashPassword('fine password', params)).rejects.toThrow(RangeError);
    }
  });
});

describe('dummyVerify', () => {
  it('always fails, whatever the password', async () => {
    for (const password of ['', 'anything', 'a'.repeat(5000)]) {
      expect(await dummyVerify(password, FAST)).toEqual({ ok: false, needsRehash: false });
    }
  });
});

describe('the OWASP default parameters', () => {
  it('hash and verify, and an unknown account costs as much as a wrong password', async () => {
    const stored = await hashPassword('correct horse battery staple');
    expect(stored.startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);

    let started = performance.now();
    expect(await verifyPassword('wrong horse battery staple', stored)).toEqual({
      ok: false,
      needsRehash: false,
    });
    const wrongPasswordMs = performance.now() - started;

    started = performance.now();
    expect(await dummyVerify('wrong horse battery staple')).toEqual({ ok: false, needsRehash: false });
    const unknownAccountMs = performance.now() - started;

    expect(await verifyPassword('correct horse battery staple', stored)).toEqual({
      ok: true,
      needsRehash: false,
    });
    // Both run scrypt at N = 2^17 (hundreds of ms); skipping it would take well under one. The
    // wide margin keeps this stable on a loaded machine while still catching a missing dummy.
    expect(unknownAccountMs).toBeGreaterThan(wrongPasswordMs / 4);
    expect(wrongPasswordMs).toBeGreaterThan(unknownAccountMs / 4);
  });
});
