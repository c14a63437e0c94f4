import { createHash } from 'node:crypto';
import { Readable, type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  decryptStream,
  encryptStream,
  fileKey,
  manifestMac,
  openDataKey,
} from '../../server/services/backups/archive-crypto';
import { canonicalManifest, type Manifest, type ManifestTable } from '../../server/services/backups/manifest';

/**
 * What an operator with the key-encryption key (or an attacker with it) can do to an encrypted
 * archive's bytes: read a data file's plaintext, write a new one, and seal a manifest again. The
 * backup tests use it to make archives that pass verification yet fail to load, and to turn an
 * archive into the unencrypted format 1 of older releases.
 */

async function through(input: Buffer, transform: Transform): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from([input]),
    transform,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(chunks);
}

function keys(manifest: Manifest, kek: Uint8Array, table: ManifestTable) {
  if (!manifest.encryption) throw new Error('the archive is not encrypted');
  const dataKey = openDataKey(manifest.encryption.sealedKey, kek, manifest.id);
  return { dataKey, key: fileKey(dataKey, manifest.id, table.file) };
}

/** A data file's rows (COPY text), from its stored bytes. */
export async function readRows(
  stored: Buffer,
  manifest: Manifest,
  kek: Uint8Array,
  table: ManifestTable,
): Promise<string> {
  const { key } = keys(manifest, kek, table);
  return gunzipSync(await through(stored, decryptStream(key, table.bytes))).toString('utf8');
}

/** The stored bytes of `rows` as the archive's file for `table`, and the table's manifest entry for them. */
export async function writeRows(
  rows: string,
  manifest: Manifest,
  kek: Uint8Array,
  table: ManifestTable,
): Promise<{ stored: Buffer; entry: ManifestTable }> {
  const { key } = keys(manifest, kek, table);
  const stored = await through(gzipSync(Buffer.from(rows)), encryptStream(key));
  return {
    stored,
    entry: { ...table, bytes: stored.length, sha256: createHash('sha256').update(stored).digest('hex') },
  };
}

/** The manifest with a MAC that matches its fields again. */
export function resealed(manifest: Manifest, kek: Uint8Array): Manifest {
  const dataKey = openDataKey(manifest.encryption!.sealedKey, kek, manifest.id);
  return { ...manifest, mac: manifestMac(dataKey, manifest.id, canonicalManifest(manifest)) };
}

/** The plain gzip bytes (format 1) of a stored encrypted file. */
export async function plainGzip(
  stored: Buffer,
  manifest: Manifest,
  kek: Uint8Array,
  table: ManifestTable,
): Promise<Buffer> {
  const { key } = keys(manifest, kek, table);
  return through(stored, decryptStream(key, table.bytes));
}
