import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  keyEncryptionKeyId,
  openPrivateKey,
  parseKeyEncryptionKey,
  SealedKeyError,
  sealedKeyEncryptionKeyId,
  sealPrivateKey,
} from '../../base/key-sealing';
import {
  generateSigningKey,
  importSigningKey,
  importVerificationKeys,
  KID_PATTERN,
  publicJwks,
} from './signing-keys';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];

describe('generateSigningKey', () => {
  for (const alg of ['EdDSA', 'ES256'] as const) {
    it(`makes an ${alg} key whose signatures verify through the published JWKS`, async () => {
      const key = await generateSigningKey(alg);
      expect(key.kid).toMatch(KID_PATTERN);
      expect(key.publicJwk).toMatchObject({ kid: key.kid, alg, use: 'sig' });
      expect(key.publicJwk).not.toHaveProperty('d');
      expect(key.privateJwk).toMatchObject({ kid: key.kid, alg });

      const signer = await importSigningKey(key);
      expect(signer.privateKey.extractable).toBe(false);
      const token = await new SignJWT({ hello: 'world' })
        .setProtectedHeader({ alg, kid: key.kid })
        .sign(signer.privateKey);

      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(publicJwks([key])));
      expect(payload.hello).toBe('world');
      expect(protectedHeader.kid).toBe(key.kid);
    });
  }

  it('gives every key its own kid', async () => {
    const [a, b] = await Promise.all([generateSigningKey('EdDSA'), generateSigningKey('EdDSA')]);
    expect(a.kid).not.toBe(b.kid);
  });

  it('refuses an algorithm other than EdDSA and ES256', async () => {
    await expect(generateSigningKey('HS256' as 'EdDSA')).rejects.toThrow(/must be one of EdDSA, ES256/);
  });
});

describe('importSigningKey and importVerificationKeys', () => {
  it('refuse a private JWK that names another kid than its record', async () => {
    const key = await generateSigningKey('EdDSA');
    await expect(importSigningKey({ ...key, kid: 'another' })).rejects.toThrow(/another kid or alg/);
  });

  it('import public keys by kid, each bound to its own alg', async () => {
    const [ed, es] = await Promise.all([generateSigningKey('EdDSA'), generateSigningKey('ES256')]);
    const keys = await importVerificationKeys(publicJwks([ed, es]).keys);
    expect(keys.get(ed.kid)?.alg).toBe('EdDSA');
    expect(keys.get(es.kid)?.alg).toBe('ES256');
    expect(keys.get(es.kid)?.publicKey.type).toBe('public');
  });

  it('refuse a verification key without alg, with a bad kid, or twice the same kid', async () => {
    const { publicJwk } = await generateSigningKey('EdDSA');
    await expect(importVerificationKeys([{ ...publicJwk, alg: undefined }])).rejects.toThrow(/algorithm/);
    await expect(importVerificationKeys([{ ...publicJwk, alg: 'HS256' }])).rejects.toThrow(/algorithm/);
    await expect(importVerificationKeys([{ ...publicJwk, kid: '../etc' }])).rejects.toThrow(/kid/);
    await expect(importVerificationKeys([publicJwk, publicJwk])).rejects.toThrow(/twice/);
  });
});

describe('publicJwks', () => {
  it('publishes no private member, even when handed a private JWK', async () => {
    const keys = await Promise.all([generateSigningKey('EdDSA'), generateSigningKey('ES256')]);
    const leaky = keys.map((key) => ({ publicJwk: { ...key.privateJwk, p: 'x', k: 'y', priv: 'z' } }));
    for (const jwks of [publicJwks(keys), publicJwks(leaky)]) {
      expect(jwks.keys).toHaveLength(2);
      for (const jwk of jwks.keys) {
        for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
      }
      const text = JSON.stringify(jwks);
      for (const key of keys) expect(text).not.toContain(key.privateJwk.d);
    }
  });
});

describe('sealing private keys', () => {
  const kek = randomBytes(32);

  it('opens a sealed key with the key-encryption key that sealed it', async () => {
    const key = await generateSigningKey('ES256');
    const sealed = sealPrivateKey(key.privateJwk, kek);
    expect(sealed).not.toContain(key.privateJwk.d);
    expect(sealed.startsWith(`v1.${keyEncryptionKeyId(kek)}.`)).toBe(true);

    const opened = openPrivateKey(sealed, kek);
    expect(opened).toEqual(key.privateJwk);
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).sign(await importJWK(opened));
    await expect(jwtVerify(token, await importJWK(key.publicJwk))).resolves.toBeDefined();
  });

  it('seals the same key differently each time (random IV)', async () => {
    const { privateJwk } = await generateSigningKey('EdDSA');
    expect(sealPrivateKey(privateJwk, kek)).not.toBe(sealPrivateKey(privateJwk, kek));
  });

  it('refuses a wrong key-encryption key, naming the one it needs', async () => {
    const sealed = sealPrivateKey((await generateSigningKey('EdDSA')).privateJwk, kek);
    expect(() => openPrivateKey(sealed, randomBytes(32))).toThrow(SealedKeyError);
    expect(() => openPrivateKey(sealed, randomBytes(32))).toThrow(
      `the key was sealed with another key-encryption key (id ${keyEncryptionKeyId(kek)})`,
    );
  });

  it('opens with the matching key among several during a key-encryption key rotation', async () => {
    const { privateJwk } = await generateSigningKey('EdDSA');
    const next = randomBytes(32);
    const sealed = sealPrivateKey(privateJwk, kek);
    expect(sealedKeyEncryptionKeyId(sealed)).toBe(keyEncryptionKeyId(kek));
    expect(openPrivateKey(sealed, [next, kek])).toEqual(privateJwk);
  });

  it('refuses the sealed text with any one character changed, added or removed', async () => {
    const sealed = sealPrivateKey((await generateSigningKey('EdDSA')).privateJwk, kek);
    const variants = [sealed.slice(1), sealed.slice(0, -1), `${sealed}A`, `${sealed}.A`];
    // Flipping the lowest bit of a segment's last character only touches its spare bits, the
    // change a lenient base64 decoder would not see; the highest bit always changes data.
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [1, 32]) {
        const index = BASE64URL.indexOf(sealed[i]!);
        const replacement = index < 0 ? 'A' : BASE64URL[index ^ bit];
        variants.push(sealed.slice(0, i) + replacement + sealed.slice(i + 1));
      }
    }
    let refused = 0;
    for (const variant of variants) {
      try {
        openPrivateKey(variant, kek);
      } catch (error) {
        if (error instanceof SealedKeyError) refused++;
      }
    }
    expect(refused).toBe(variants.length);
  });

  it('refuses to seal a public JWK or with a key-encryption key of the wrong size', async () => {
    const key = await generateSigningKey('EdDSA');
    expect(() => sealPrivateKey(key.publicJwk, kek)).toThrow(/private JWK/);
    expect(() => sealPrivateKey(key.privateJwk, randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('parseKeyEncryptionKey', () => {
  it('reads 32 bytes of standard base64', () => {
    const bytes = randomBytes(32);
    expect(Buffer.from(parseKeyEncryptionKey(`${bytes.toString('base64')}\n`))).toEqual(bytes);
  });

  it('refuses other lengths and non-base64 without echoing the value', () => {
    const short = randomBytes(16).toString('base64');
    const long = randomBytes(33).toString('base64');
    expect(() => parseKeyEncryptionKey(short)).toThrow('must be 32 bytes (AES-256); it is 16');
    expect(() => parseKeyEncryptionKey(long)).toThrow('must be 32 bytes (AES-256); it is 33');
    for (const bad of ['', 'not base64 at all!', randomBytes(32).toString('hex')]) {
      expect(() => parseKeyEncryptionKey(bad)).toThrow(/key-encryption key must be/);
    }
    try {
      parseKeyEncryptionKey(short);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
  });
});
