import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { openSecret, SealedSecretError, sealSecret } from '../../base/sealed-secret';

/*
 * Archives at rest: each backup has its own random 256-bit data key, sealed under the
 * key-encryption key (AUTH_KEY_ENCRYPTION_KEY, base/sealed-secret) in the manifest. Each data file
 * is encrypted with a key derived from the data key and the file's name (HKDF-SHA256), in fixed
 * chunks of AES-256-GCM (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, as
 * age and Tink's streaming AEAD use it):
 * - the nonce of chunk i is i (96 bits, big-endian), unique because the key is the file's own;
 * - the additional data is the chunk's index and a flag saying whether it is the last chunk, so a
 *   chunk moved, dropped or cut off at a chunk boundary fails authentication;
 * - every chunk but the last holds exactly CHUNK_BYTES of plaintext; the last holds 0..CHUNK_BYTES
 *   (a file always ends with one, so an archive cut at a chunk boundary is caught).
 * Streamed both ways: at most one chunk is held in memory.
 */

/** Plaintext bytes of every chunk but the last. */
export const CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;
/** The scheme's name as the manifest records it. */
export const ENCRYPTION_SCHEME = 'aes-256-gcm-stream-64k';

/** Why a file could not be decrypted; `reason` is stable (verify and restore report it). */
export class ArchiveDecryptError extends Error {
  override name = 'ArchiveDecryptError';
  constructor(
    readonly reason: 'tampered' | 'truncated' | 'wrong_key',
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
}

/** A fresh data key for one backup. */
export function newDataKey(): Buffer {
  return randomBytes(32);
}

/** The data key sealed under the key-encryption key, bound to the backup's id. */
export function sealDataKey(dataKey: Buffer, kek: Uint8Array, backupId: string): string {
  return sealSecret(dataKey.toString('base64'), kek, `backup:${backupId}`);
}

/** Opens a sealed data key; a wrong key-encryption key or a key of another backup is `wrong_key`. */
export function openDataKey(sealed: string, kek: Uint8Array, backupId: string): Buffer {
  try {
    return Buffer.from(openSecret(sealed, kek, `backup:${backupId}`), 'base64');
  } catch (error) {
    if (error instanceof SealedSecretError) throw new ArchiveDecryptError('wrong_key', error.message);
    throw error;
  }
}

function derive(dataKey: Buffer, backupId: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, backupId, `beauty-crafter/backup/v2|${purpose}`, 32));
}

/** The key of one data file (its name is part of the derivation: files cannot be swapped). */
export function fileKey(dataKey: Buffer, backupId: string, file: string): Buffer {
  return derive(dataKey, backupId, `file|${file}`);
}

/**
 * HMAC-SHA256 over the manifest's text without its `mac`: a manifest read back from a bucket is
 * trusted only when it carries the MAC of its own data key (which only the key-encryption key opens).
 */
export function manifestMac(dataKey: Buffer, backupId: string, canonical: string): string {
  return createHmac('sha256', derive(dataKey, backupId, 'manifest'))
    .update(canonical)
    .digest('hex');
}

export function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function nonce(index: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(index), 4);
  return iv;
}

function additionalData(index: number, last: boolean): Buffer {
  const aad = Buffer.alloc(9);
  aad.writeBigUInt64BE(BigInt(index), 0);
  aad[8] = last ? 1 : 0;
  return aad;
}

/** Encrypts a stream chunk by chunk (see above). */
export function encryptStream(key: Buffer): Transform {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  const seal = (plaintext: Buffer, last: boolean): Buffer => {
    const cipher = createCipheriv('aes-256-gcm', key, nonce(index)).setAAD(additionalData(index, last));
    index++;
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      // A full chunk is sealed only once a byte beyond it exists: only then is it known not to be the last.
      if (pendingBytes > CHUNK_BYTES) {
        let buffer = Buffer.concat(pending);
        while (buffer.length > CHUNK_BYTES) {
          this.push(seal(buffer.subarray(0, CHUNK_BYTES), false));
          buffer = buffer.subarray(CHUNK_BYTES);
        }
        pending = [buffer];
        pendingBytes = buffer.length;
      }
      done();
    },
    flush(done: TransformCallback) {
      done(null, seal(Buffer.concat(pending), true));
    },
  });
}

/**
 * Decrypts what encryptStream wrote, refusing (ArchiveDecryptError) a file that ends before its
 * last chunk (`truncated`: shorter than `expectedBytes`, the size the manifest recorded, or cut at a
 * chunk boundary) and a chunk that fails authentication (`tampered`).
 */
export function decryptStream(key: Buffer, expectedBytes: number): Transform {
  const record = CHUNK_BYTES + TAG_BYTES;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let seen = 0;
  let index = 0;
  const open = (sealed: Buffer, at: number, last: boolean): Buffer => {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce(at), { authTagLength: TAG_BYTES })
      .setAAD(additionalData(at, last))
      .setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new ArchiveDecryptError('tampered', `chunk ${at} failed authentication`);
    }
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      seen += chunk.length;
      try {
        if (pendingBytes > record) {
          let buffer = Buffer.concat(pending);
          while (buffer.length > record) {
            this.push(open(buffer.subarray(0, record), index++, false));
            buffer = buffer.subarray(record);
          }
          pending = [buffer];
          pendingBytes = buffer.length;
        }
        done();
      } catch (error) {
        done(error as Error);
      }
    },
    flush(done: TransformCallback) {
      const rest = Buffer.concat(pending);
      try {
        if (seen < expectedBytes || rest.length < TAG_BYTES) {
          throw new ArchiveDecryptError('truncated', `the file ends after ${seen} of ${expectedBytes} bytes`);
        }
        done(null, openLast(rest));
      } catch (error) {
        done(error as Error);
      }
    },
  });

  function openLast(sealed: Buffer): Buffer {
    try {
      return open(sealed, index, true);
    } catch (error) {
      // A whole chunk that opens as a middle one: the chunks after it were cut off.
      if (sealed.length === record && opensAsMiddle(sealed, index)) {
        throw new ArchiveDecryptError('truncated', `the file ends after chunk ${index}, not the last`);
      }
      throw error;
    }
  }

  function opensAsMiddle(sealed: Buffer, at: number): boolean {
    try {
      open(sealed, at, false);
      return true;
    } catch {
      return false;
    }
  }
}
