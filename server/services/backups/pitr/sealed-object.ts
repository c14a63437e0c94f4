import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import {
  ArchiveDecryptError,
  decryptStream,
  encryptStream,
  fileKey,
  newDataKey,
  openDataKey,
  sealDataKey,
} from '../archive-crypto';

/*
 * One object of point-in-time recovery (a WAL segment, a base backup's data or its description)
 * as stored: compressed, then encrypted like the archives' files (archive-crypto.ts: 64 KiB
 * AES-256-GCM chunks, the last one flagged), under a data key of its own sealed under the
 * key-encryption key and bound to the object's name. Each object carries its sealed key in a
 * header, so a segment can be restored without anything else from the store:
 *
 *   "BCPITR1\n" | u16 length | sealed data key (utf8) | encrypted gzip stream
 *
 * A segment renamed in the bucket (to stand in for another) fails: its key is bound to its name.
 */

const MAGIC = Buffer.from('BCPITR1\n');

/** The object `name`'s bytes as stored, from its plain bytes. */
export function sealObject(plain: Readable, kek: Uint8Array, name: string): Readable {
  const dataKey = newDataKey();
  const sealedKey = Buffer.from(sealDataKey(dataKey, kek, `pitr:${name}`));
  const length = Buffer.alloc(2);
  length.writeUInt16BE(sealedKey.length);
  const out = new PassThrough();
  out.write(Buffer.concat([MAGIC, length, sealedKey]));
  pipeline(plain, createGzip({ level: 1 }), encryptStream(fileKey(dataKey, `pitr:${name}`, name)), out).catch(
    (error) => out.destroy(error),
  );
  return out;
}

/**
 * The plain bytes of the stored object `name`. Throws (or fails the stream with)
 * ArchiveDecryptError: `wrong_key` for another key-encryption key, `tampered` for changed bytes
 * or another object's, `truncated` for one cut short.
 */
export async function openObject(stored: Readable, kek: Uint8Array, name: string): Promise<Readable> {
  const chunks = stored[Symbol.asyncIterator]();
  let buffered = Buffer.alloc(0);
  const need = async (bytes: number) => {
    while (buffered.length < bytes) {
      const next = await chunks.next();
      if (next.done) throw new ArchiveDecryptError('truncated', `${name} ends inside its header`);
      buffered = Buffer.concat([buffered, next.value as Buffer]);
    }
  };
  await need(MAGIC.length + 2);
  if (!buffered.subarray(0, MAGIC.length).equals(MAGIC)) {
    stored.destroy();
    throw new ArchiveDecryptError('tampered', `${name} is not a point-in-time recovery object`);
  }
  const keyLength = buffered.readUInt16BE(MAGIC.length);
  await need(MAGIC.length + 2 + keyLength);
  const sealedKey = buffered.subarray(MAGIC.length + 2, MAGIC.length + 2 + keyLength).toString();
  const dataKey = openDataKey(sealedKey, kek, `pitr:${name}`);
  const rest = buffered.subarray(MAGIC.length + 2 + keyLength);
  async function* body() {
    if (rest.length > 0) yield rest;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value as Buffer;
  }
  const out = new PassThrough();
  pipeline(
    Readable.from(body(), { objectMode: false }),
    decryptStream(fileKey(dataKey, `pitr:${name}`, name), 0),
    createGunzip(),
    out,
  ).catch((error) => out.destroy(error));
  return out;
}
