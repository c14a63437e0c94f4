import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';

/*
 * Private signing keys sealed at rest under the key-encryption key (AUTH_KEY_ENCRYPTION_KEY), and
 * the key-encryption key itself: parsed, fingerprinted. In the base layer because more than the
 * signing keys seal under it (alert webhook secrets, deployment configuration: sealed-secret.ts)
 * and the composition loads it.
 */

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
