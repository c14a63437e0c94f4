import { createHmac, createPublicKey } from 'node:crypto';
import {
  CompactSign,
  type CryptoKey,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JWK,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AccessTokenClaims,
  InvalidTokenError,
  type InvalidTokenReason,
  signAccessToken,
  verifyAccessToken,
} from './access-tokens';
import {
  generateSigningKey,
  importSigningKey,
  importVerificationKeys,
  publicJwks,
  type SigningKeyHandle,
  type SigningKeyRecord,
  type VerificationKeys,
} from './signing-keys';

const ISSUER = 'https://auth.beauty-crafter.test';
const AUDIENCE = 'beauty-crafter-api';
const CLAIMS: AccessTokenClaims = {
  sub: 'user-1',
  org: 'org-1',
  role: 'member',
  sid: 'session-1',
  scope: 'read',
};
const now = new Date();
const T = Math.floor(now.getTime() / 1000);
const verifyOptions = { issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 5, now };

let ed: SigningKeyRecord;
let es: SigningKeyRecord;
let edSigner: SigningKeyHandle;
let esSigner: SigningKeyHandle;
let keys: VerificationKeys;

beforeAll(async () => {
  [ed, es] = await Promise.all([generateSigningKey('EdDSA'), generateSigningKey('ES256')]);
  [edSigner, esSigner] = await Promise.all([importSigningKey(ed), importSigningKey(es)]);
  keys = await importVerificationKeys(publicJwks([ed, es]).keys);
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A valid access token's payload, as `signAccessToken` would write it at time T. */
const payload = (changes: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'user-1',
  org: 'org-1',
  role: 'member',
  iat: T,
  exp: T + 900,
  jti: 'jti-1',
  ...changes,
});

const header = (changes: Record<string, unknown> = {}) => ({
  alg: 'EdDSA',
  kid: ed.kid,
  typ: 'at+jwt',
  ...changes,
});

/** Signs any header and payload with a real key, so that only what a case changes is wrong. */
function sign(head: Record<string, unknown>, body: unknown, key: CryptoKey = edSigner.privateKey) {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return new CompactSign(bytes).setProtectedHeader(head as { alg: string }).sign(key);
}

function hs256(head: Record<string, unknown>, body: unknown, secret: string | Buffer) {
  const input = `${b64(head)}.${b64(body)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function reasonOf(token: string, options = verifyOptions): Promise<InvalidTokenReason | 'accepted'> {
  try {
    await verifyAccessToken(token, keys, options);
    return 'accepted';
  } catch (error) {
    if (error instanceof InvalidTokenError && error.message === 'invalid access token') return error.reason;
    throw error;
  }
}

describe('signAccessToken and verifyAccessToken', () => {
  for (const alg of ['EdDSA', 'ES256'] as const) {
    it(`round trips an ${alg} token with an RFC 9068 header and registered claims`, async () => {
      const signer = alg === 'EdDSA' ? edSigner : esSigner;
      const token = await signAccessToken(CLAIMS, signer, { issuer: ISSUER, audience: AUDIENCE, now });
      expect(decodeProtectedHeader(token)).toEqual({ alg, kid: signer.kid, typ: 'at+jwt' });

      const verified = await verifyAccessToken(token, keys, verifyOptions);
      expect(verified).toEqual({
        ...CLAIMS,
        iss: ISSUER,
        aud: AUDIENCE,
        iat: T,
        exp: T + 900,
        jti: verified.jti,
      });
      expect(verified.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    });
  }

  it('leaves sid and scope out when not given and honours a custom ttl', async () => {
    const claims = { sub: 'user-2', org: 'org-2', role: 'owner' };
    const token = await signAccessToken(claims, edSigner, {
      issuer: ISSUER,
      audience: AUDIENCE,
      ttlSeconds: 60,
    });
    const verified = await verifyAccessToken(token, keys, { issuer: ISSUER, audience: AUDIENCE });
    expect(verified).not.toHaveProperty('sid');
    expect(verified).not.toHaveProperty('scope');
    expect(verified.exp - verified.iat).toBe(60);
  });

  it('gives every token its own jti', async () => {
    const options = { issuer: ISSUER, audience: AUDIENCE };
    const tokens = await Promise.all([1, 2, 3].map(() => signAccessToken(CLAIMS, edSigner, options)));
    const jtis = await Promise.all(tokens.map(async (t) => (await verifyAccessToken(t, keys, options)).jti));
    expect(new Set(jtis).size).toBe(3);
  });

  it('never lets the claims object set iss, aud, exp or other registered claims', async () => {
    const smuggled = { ...CLAIMS, iss: 'https://evil.test', aud: 'other', exp: T + 10 ** 8, jti: 'mine' };
    const token = await signAccessToken(smuggled, edSigner, { issuer: ISSUER, audience: AUDIENCE, now });
    const verified = await verifyAccessToken(token, keys, verifyOptions);
    expect(verified).toMatchObject({ iss: ISSUER, aud: AUDIENCE, exp: T + 900 });
    expect(verified.jti).not.toBe('mine');
  });

  it('refuses to sign a ttl given in milliseconds or claims without org or role', async () => {
    const options = { issuer: ISSUER, audience: AUDIENCE };
    await expect(signAccessToken(CLAIMS, edSigner, { ...options, ttlSeconds: 900_000 })).rejects.toThrow(
      RangeError,
    );
    await expect(signAccessToken({ ...CLAIMS, org: '' }, edSigner, options)).rejects.toThrow(
      /org is required/,
    );
    const noRole = { sub: 'user-1', org: 'org-1' } as AccessTokenClaims;
    await expect(signAccessToken(noRole, edSigner, options)).rejects.toThrow(/role is required/);
  });

  it('accepts a token expired 5 s ago with 10 s of clock tolerance, and not with none', async () => {
    const issued = new Date(now.getTime() - 905_000);
    const token = await signAccessToken(CLAIMS, edSigner, {
      issuer: ISSUER,
      audience: AUDIENCE,
      now: issued,
    });
    const options = { issuer: ISSUER, audience: AUDIENCE, now };
    await expect(
      verifyAccessToken(token, keys, { ...options, clockToleranceSeconds: 10 }),
    ).resolves.toMatchObject({
      sub: 'user-1',
    });
    expect(await reasonOf(token, { ...options, clockToleranceSeconds: 0 })).toBe('expired');
  });

  it('accepts a token issued 3 s in the future within 5 s of tolerance, and not with none', async () => {
    const issued = new Date(now.getTime() + 3_000);
    const token = await signAccessToken(CLAIMS, edSigner, {
      issuer: ISSUER,
      audience: AUDIENCE,
      now: issued,
    });
    expect(await reasonOf(token)).toBe('accepted');
    expect(await reasonOf(token, { ...verifyOptions, clockToleranceSeconds: 0 })).toBe('issued_in_future');
  });

  it('treats a negative clock tolerance as a programming error, not as an invalid token', async () => {
    const token = await signAccessToken(CLAIMS, edSigner, { issuer: ISSUER, audience: AUDIENCE });
    await expect(
      verifyAccessToken(token, keys, { issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: -1 }),
    ).rejects.toThrow(RangeError);
  });

  it('verifies a retired key’s tokens while it is in the key set, and refuses them once it is removed', async () => {
    const token = await signAccessToken(CLAIMS, esSigner, { issuer: ISSUER, audience: AUDIENCE, now });
    expect(await reasonOf(token)).toBe('accepted');
    const withoutOld = await importVerificationKeys(publicJwks([ed]).keys);
    await expect(verifyAccessToken(token, withoutOld, verifyOptions)).rejects.toMatchObject({
      reason: 'unknown_kid',
    });
  });

  it('accepts the media-type spelling application/at+jwt (RFC 9068 §4)', async () => {
    expect(await reasonOf(await sign(header({ typ: 'application/at+jwt' }), payload()))).toBe('accepted');
  });
});

describe('the forged-token corpus', () => {
  it('rejects every forged token with the same error', async () => {
    const attacker = await generateKeyPair('EdDSA');
    const attackerJwk: JWK = { ...(await exportJWK(attacker.publicKey)), kid: ed.kid, alg: 'EdDSA' };
    const spkiPem = createPublicKey({ key: ed.publicJwk, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const valid = await sign(header(), payload());
    const [h, p, s] = valid.split('.') as [string, string, string];
    const flipped = Buffer.from(s, 'base64url');
    flipped[10]! ^= 0x01;

    const corpus: Array<[name: string, reason: InvalidTokenReason, token: string | Promise<string>]> = [
      ['alg none, no signature', 'malformed', `${b64(header({ alg: 'none' }))}.${b64(payload())}.`],
      [
        'alg none, junk signature',
        'alg_not_allowed',
        `${b64(header({ alg: 'none' }))}.${b64(payload())}.AAAA`,
      ],
      ['alg NONE, no kid', 'bad_kid', `${b64({ alg: 'NONE', typ: 'at+jwt' })}.${b64(payload())}.AAAA`],
      [
        'HS256, public key PEM as secret',
        'alg_not_allowed',
        hs256(header({ alg: 'HS256' }), payload(), spkiPem),
      ],
      [
        'HS256, public JWK as secret',
        'alg_not_allowed',
        hs256(header({ alg: 'HS256' }), payload(), JSON.stringify(ed.publicJwk)),
      ],
      [
        'HS256, raw public key bytes as secret',
        'alg_not_allowed',
        hs256(header({ alg: 'HS256' }), payload(), Buffer.from(ed.publicJwk.x!, 'base64url')),
      ],
      ['signature stripped', 'malformed', `${h}.${p}.`],
      ['signature segment removed', 'malformed', `${h}.${p}`],
      ['signature byte flipped', 'bad_signature', `${h}.${p}.${flipped.toString('base64url')}`],
      ['role edited, old signature', 'bad_signature', `${h}.${b64(payload({ role: 'owner' }))}.${s}`],
      ['exp missing', 'missing_claim', sign(header(), payload({ exp: undefined }))],
      ['exp not a number', 'invalid_claim', sign(header(), payload({ exp: String(T + 900) }))],
      ['exp 60 s past (tolerance 5 s)', 'expired', sign(header(), payload({ iat: T - 960, exp: T - 60 }))],
      ['nbf 60 s ahead', 'not_yet_valid', sign(header(), payload({ nbf: T + 60 }))],
      ['iat 60 s ahead', 'issued_in_future', sign(header(), payload({ iat: T + 60, exp: T + 960 }))],
      ['iat missing', 'missing_claim', sign(header(), payload({ iat: undefined }))],
      ['sub missing', 'missing_claim', sign(header(), payload({ sub: undefined }))],
      ['org missing', 'missing_claim', sign(header(), payload({ org: undefined }))],
      ['wrong iss', 'wrong_issuer', sign(header(), payload({ iss: 'https://evil.test' }))],
      ['wrong aud', 'wrong_audience', sign(header(), payload({ aud: 'another-api' }))],
      ['payload not JSON', 'malformed', sign(header(), 'not json')],
      ['typ refresh+jwt', 'wrong_typ', sign(header({ typ: 'refresh+jwt' }), payload())],
      ['typ JWT', 'wrong_typ', sign(header({ typ: 'JWT' }), payload())],
      ['typ missing', 'wrong_typ', sign(header({ typ: undefined }), payload())],
      ['unknown kid', 'unknown_kid', sign(header({ kid: 'AAAAAAAAAAAAAAAAAAAAAA' }), payload())],
      ['kid __proto__', 'unknown_kid', sign(header({ kid: '__proto__' }), payload())],
      ['kid path traversal', 'bad_kid', sign(header({ kid: '../../etc/passwd' }), payload())],
      ['kid 65 characters', 'bad_kid', sign(header({ kid: 'a'.repeat(65) }), payload())],
      ['kid 4000 characters', 'bad_kid', sign(header({ kid: 'a'.repeat(4000) }), payload())],
      ['kid SQL', 'bad_kid', sign(header({ kid: "x' OR '1'='1" }), payload())],
      ['kid empty', 'bad_kid', sign(header({ kid: '' }), payload())],
      ['kid a number', 'bad_kid', sign(header({ kid: 42 }), payload())],
      ['kid missing', 'bad_kid', sign(header({ kid: undefined }), payload())],
      ['jku header', 'forbidden_header', sign(header({ jku: 'https://evil.test/jwks.json' }), payload())],
      ['x5u header', 'forbidden_header', sign(header({ x5u: 'https://evil.test/cert.pem' }), payload())],
      ['x5c header', 'forbidden_header', sign(header({ x5c: ['MIIB'] }), payload())],
      [
        'embedded jwk, signed by it',
        'forbidden_header',
        sign(header({ jwk: attackerJwk }), payload(), attacker.privateKey),
      ],
      ['crit header', 'forbidden_header', sign(header({ b64: true, crit: ['b64'] }), payload())],
      ['1 MB token', 'too_large', sign(header(), payload({ pad: 'x'.repeat(1024 * 1024) }))],
      ['other key, same kid', 'bad_signature', sign(header(), payload(), attacker.privateKey)],
      [
        'ES256 token, EdDSA kid',
        'alg_not_allowed',
        sign(header({ alg: 'ES256', kid: ed.kid }), payload(), esSigner.privateKey),
      ],
      ['EdDSA token, ES256 kid', 'alg_not_allowed', sign(header({ kid: es.kid }), payload())],
      ['JWE-shaped, five segments', 'malformed', `${h}.${p}.${s}.${s}.${s}`],
      ['whitespace inside', 'malformed', `${h}. ${p}.${s}`],
    ];

    const outcomes = [];
    for (const [name, , token] of corpus) outcomes.push({ name, reason: await reasonOf(await token) });
    const rejected = outcomes.filter((outcome) => outcome.reason !== 'accepted').length;
    console.log(`forged tokens rejected: ${rejected} of ${corpus.length}`);

    expect(await reasonOf(valid)).toBe('accepted');
    expect(rejected).toBe(corpus.length);
    expect(outcomes).toEqual(corpus.map(([name, reason]) => ({ name, reason })));
  });
});
