import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { keyEncryptionKeyId } from './key-sealing';

/**
 * Secrets the platform must use again (a webhook's HMAC secret signs every delivery), so they
 * cannot be hashed: they are sealed with AES-256-GCM under the key-encryption key, as the
 * signing keys are (server/services/auth/signing-keys.ts). `v1.<kek id>.<iv>.<ciphertext>.<tag>`,
 * base64url parts. The version, the kek id and a caller-chosen context (e.g. the row's id) are the
 * additional authenticated data: a sealed value copied to another row does not open there.
 */

export class SealedSecretError extends Error {
  override name = 'SealedSecretError';
}

const VERSION = 'v1';

export function sealSecret(plaintext: string, kek: Uint8Array, context: string): string {
  const header = `${VERSION}.${keyEncryptionKeyId(kek)}`;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv).setAAD(additionalData(header, context));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [header, ...[iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url'))].join(
    '.',
  );
}

/** Opens a sealed secret; given several keys (during a rotation), the one the sealed text names. */
export function openSecret(sealed: string, kek: Uint8Array | readonly Uint8Array[], context: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION)
    throw new SealedSecretError(`not a sealed secret of version ${VERSION}`);
  const [version, kekId, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  const key = (kek instanceof Uint8Array ? [kek] : kek).find((k) => keyEncryptionKeyId(k) === kekId);
  if (!key)
    throw new SealedSecretError(`the secret was sealed with another key-encryption key (id ${kekId})`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
      authTagLength: 16,
    });
    decipher.setAAD(additionalData(`${version}.${kekId}`, context)).setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new SealedSecretError(
      'the sealed secret failed authentication: altered, corrupt or of another row',
    );
  }
}

function additionalData(header: string, context: string): Buffer {
  // The header never holds '|', so no other (header, context) pair gives the same bytes.
  return Buffer.from(`${header}|${context}`);
}
