import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
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

// --- Sealing private keys at rest -----------------------------------------------------------------

/** A sealed private key could not be opened: wrong key-encryption key, tampering, or not a sealed key. */
export class SealedKeyError extends Error {
  override name = 'SealedKeyError';
}

const SEAL_VERSION = 'v1';

/**
 * Parses the key-encryption key (AUTH_KEY_ENCRYPTION_KEY, e.g. `openssl rand -base64 32`). The
 * messages never echo the value: it is a secret and they end up in start-up logs.
 */
export function parseKeyEncryptionKey(base64: string): Uint8Array {
  const text = base64.trim();
  const bytes = Buffer.from(text, 'base64');
  if (text === '' || bytes.toString('base64') !== text) {
    throw new Error('the key-encryption key must be standard base64 (e.g. `openssl rand -base64 32`)');
  }
  if (bytes.length !== 32) {
    throw new Error(`the key-encryption key must be 32 bytes (AES-256); it is ${bytes.length}`);
  }
  return new Uint8Array(bytes);
}

/**
 * A short public fingerprint of a key-encryption key, stored in every sealed key so that after a
 * rotation each row says which key opens it (and a wrong key is named as such, not as tampering).
 */
export function keyEncryptionKeyId(kek: Uint8Array): string {
  assertKek(kek);
  return createHash('sha256')
    .update('beauty-crafter/kek-id/v1')
    .update(kek)
    .digest()
    .subarray(0, 9)
    .toString('base64url');
}

/** The id of the key-encryption key a sealed key was sealed with (for a re-sealing job). */
export function sealedKeyEncryptionKeyId(sealed: string): string {
  return parseSealed(sealed).kekId;
}

/**
 * Seals a private JWK with AES-256-GCM: `v1.<kek id>.<iv>.<ciphertext>.<tag>`, base64url parts.
 * The version and kek id are the additional authenticated data, so they cannot be swapped either.
 * A random 96-bit IV per seal is safe far beyond the number of signing keys ever sealed.
 */
export function sealPrivateKey(privateJwk: JWK, kek: Uint8Array): string {
  if (typeof privateJwk.d !== 'string') throw new Error('only a private JWK is sealed');
  const header = `${SEAL_VERSION}.${keyEncryptionKeyId(kek)}`;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv).setAAD(Buffer.from(header));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(privateJwk), 'utf8'), cipher.final()]);
  const parts = [iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url'));
  return [header, ...parts].join('.');
}

/**
 * Opens a sealed private JWK. Given several key-encryption keys (during a rotation), the one whose
 * id the sealed text names is used.
 */
export function openPrivateKey(sealed: string, kek: Uint8Array | readonly Uint8Array[]): JWK {
  const { header, kekId, iv, ciphertext, tag } = parseSealed(sealed);
  const key = (kek instanceof Uint8Array ? [kek] : kek).find((k) => keyEncryptionKeyId(k) === kekId);
  if (!key) throw new SealedKeyError(`the key was sealed with another key-encryption key (id ${kekId})`);
  let plaintext: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(header)).setAuthTag(tag);
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedKeyError('the sealed key failed authentication: it was altered or is corrupt');
  }
  const jwk = parseJson(plaintext);
  if (typeof jwk !== 'object' || jwk === null || typeof (jwk as JWK).d !== 'string') {
    throw new SealedKeyError('the sealed text does not hold a private JWK');
  }
  return jwk as JWK;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseSealed(sealed: string) {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== SEAL_VERSION) {
    throw new SealedKeyError(`not a sealed key of version ${SEAL_VERSION}`);
  }
  const [version, kekId, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  return {
    header: `${version}.${kekId}`,
    kekId,
    iv: strictBase64url(iv, 12),
    ciphertext: strictBase64url(ciphertext),
    tag: strictBase64url(tag, 16),
  };
}

// Node's decoder skips characters outside the alphabet and ignores a last character's spare bits,
// so two different texts can decode to the same bytes; only the canonical spelling is accepted.
function strictBase64url(text: string, length?: number): Buffer {
  const bytes = Buffer.from(text, 'base64url');
  if (
    text === '' ||
    bytes.toString('base64url') !== text ||
    (length !== undefined && bytes.length !== length)
  ) {
    throw new SealedKeyError('the sealed key is malformed');
  }
  return bytes;
}

function assertKek(kek: Uint8Array): void {
  if (!(kek instanceof Uint8Array) || kek.length !== 32) {
    throw new Error('a key-encryption key is 32 bytes');
  }
}
