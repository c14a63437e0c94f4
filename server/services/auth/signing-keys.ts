import { randomBytes } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

/** The signature algorithms the platform signs with. Anything else is refused at every step. */
export const SIGNING_ALGORITHMS = ['EdDSA', 'ES256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** A key id is opaque to clients and checked against this before any lookup (it arrives from a token). */
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A signing key as it is stored: JWKs (serialisable), the private one to be sealed before it rests. */
export interface SigningKeyRecord {
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: JWK;
  privateJwk: JWK;
  createdAt: Date;
}

/** A private key ready to sign with; the CryptoKey is not extractable. */
export interface SigningKeyHandle {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
}

/** A public key ready to verify with, bound to the one algorithm its JWK names. */
export interface VerificationKey {
  kid: string;
  alg: SigningAlgorithm;
  publicKey: CryptoKey;
}

/** Verification keys by kid, built once by `importVerificationKeys` and reused for every request. */
export type VerificationKeys = ReadonlyMap<string, VerificationKey>;

/** Generates a fresh key pair with a random 128-bit kid (base64url, 22 characters). */
export async function generateSigningKey(alg: SigningAlgorithm, now = new Date()): Promise<SigningKeyRecord> {
  assertAlgorithm(alg);
  const pair = await generateKeyPair(alg, { extractable: true });
  const kid = randomBytes(16).toString('base64url');
  const members = { kid, alg, use: 'sig' };
  const publicJwk = { ...publicMembers(await exportJWK(pair.publicKey)), ...members };
  const privateJwk = { ...(await exportJWK(pair.privateKey)), ...members };
  return { kid, alg, publicJwk, privateJwk, createdAt: now };
}

/** Imports a record's private JWK for signing. */
export async function importSigningKey(
  record: Pick<SigningKeyRecord, 'kid' | 'alg' | 'privateJwk'>,
): Promise<SigningKeyHandle> {
  assertAlgorithm(record.alg);
  if (record.privateJwk.kid !== record.kid || record.privateJwk.alg !== record.alg) {
    throw new Error(`signing key ${record.kid}: the private JWK names another kid or alg`);
  }
  if (typeof record.privateJwk.d !== 'string') {
    throw new Error(`signing key ${record.kid}: the private JWK has no private member`);
  }
  const privateKey = await importJWK(record.privateJwk, record.alg, { extractable: false });
  return { kid: record.kid, alg: record.alg, privateKey: privateKey as CryptoKey };
}

/**
 * Imports public JWKs (a JWKS's `keys`, or records' `publicJwk`) for verification. Each key must
 * name its kid and one allowed alg: the alg is what a token's header is checked against, so a key
 * without one could be made to verify under an algorithm an attacker picks.
 */
export async function importVerificationKeys(jwks: Iterable<JWK>): Promise<VerificationKeys> {
  const keys = new Map<string, VerificationKey>();
  for (const jwk of jwks) {
    const { kid, alg } = jwk;
    if (typeof kid !== 'string' || !KID_PATTERN.test(kid))
      throw new Error('a verification key has no valid kid');
    if (keys.has(kid)) throw new Error(`verification key ${kid} appears twice`);
    assertAlgorithm(alg);
    if (jwk.use !== undefined && jwk.use !== 'sig')
      throw new Error(`verification key ${kid} is not for signatures`);
    const publicKey = await importJWK(publicMembers(jwk), alg);
    keys.set(kid, { kid, alg, publicKey: publicKey as CryptoKey });
  }
  return keys;
}

/**
 * The body of `/.well-known/jwks.json`. Members are copied by allow-list, not by deleting `d`, so a
 * private member of any key type (RSA's p, q, dp…, AKP's priv) can never leak through.
 */
export function publicJwks(keys: Iterable<Pick<SigningKeyRecord, 'publicJwk'>>): { keys: JWK[] } {
  return { keys: Array.from(keys, (key) => publicMembers(key.publicJwk)) };
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use'] as const;

function publicMembers(jwk: JWK): JWK {
  const out: JWK = {};
  for (const name of PUBLIC_MEMBERS) {
    if (jwk[name] !== undefined) Object.assign(out, { [name]: jwk[name] });
  }
  return out;
}

function assertAlgorithm(alg: unknown): asserts alg is SigningAlgorithm {
  if (!SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm)) {
    throw new Error(`signing algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  }
}
