import { createHash } from 'node:crypto';
import { type Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { BackupFileCheck } from '../../../shared/devops-backups';
import { ArchiveDecryptError, decryptStream } from './archive-crypto';
import type { ArchiveKey } from './archive-key';
import { ArchiveFileMissingError } from './archive-store';
import type { Manifest, ManifestTable } from './manifest';

/** Opens one stored file of the archive (ArchiveFileMissingError when it is not there). */
export type ArchiveReader = (file: string) => Promise<Readable>;

/** One file's check, as the API reports it (`actual` lacks what could not be measured). */
export type FileCheck = BackupFileCheck;

export interface ArchiveCheck {
  ok: boolean;
  files: FileCheck[];
}

/**
 * Reads every data file once: SHA-256 and size of the stored bytes against the manifest, then
 * (encrypted archives) every chunk's authentication, and the decompressed stream through gunzip,
 * whose CRC and length trailer catch truncation and corruption the checksum would catch too (and
 * a manifest rewritten to match a damaged file would not), counting lines against the manifest's
 * row count. A problem names its cause first: `missing`, `tampered`, `truncated`, `unreadable`.
 */
export async function verifyArchive(
  read: ArchiveReader,
  manifest: Manifest,
  key: ArchiveKey,
): Promise<ArchiveCheck> {
  const files: FileCheck[] = [];
  for (const table of manifest.tables) files.push(await verifyFile(read, table, key.forFile(table.file)));
  return { ok: files.every((f) => f.ok), files };
}

/** The stored bytes of a file as plaintext gzip: decrypted with its key, or as they are (format 1). */
export function decrypting(key: Buffer | null, table: ManifestTable): Transform[] {
  return key ? [decryptStream(key, table.bytes)] : [];
}

async function verifyFile(read: ArchiveReader, table: ManifestTable, key: Buffer | null): Promise<FileCheck> {
  const expected = { sha256: table.sha256, bytes: table.bytes, rows: table.rows };
  const hash = createHash('sha256');
  let bytes = 0;
  let rows = 0;
  let lastByte = 0x0a;
  const problems: string[] = [];
  try {
    await pipeline([
      await read(table.file),
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done(null, chunk);
        },
      }),
      ...decrypting(key, table),
      createGunzip(),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          rows += countLines(chunk);
          lastByte = chunk[chunk.length - 1] ?? lastByte;
          done();
        },
      }),
    ]);
  } catch (error) {
    if (error instanceof ArchiveFileMissingError) problems.push('missing: the file is not in the archive');
    else if (error instanceof ArchiveDecryptError) problems.push(error.message);
    else problems.push(`unreadable: ${(error as Error).message}`);
    return { table: table.name, file: table.file, ok: false, expected, actual: {}, problems };
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== table.sha256) problems.push('SHA-256 differs from the manifest');
  if (bytes !== table.bytes) problems.push(`size ${bytes} differs from the manifest's ${table.bytes}`);
  if (rows !== table.rows) problems.push(`${rows} rows where the manifest says ${table.rows}`);
  if (lastByte !== 0x0a) problems.push('the last row is cut short');
  return {
    table: table.name,
    file: table.file,
    ok: problems.length === 0,
    expected,
    actual: { sha256, bytes, rows },
    problems,
  };
}

/** Newlines in `chunk`: in COPY text format, one per row. */
export function countLines(chunk: Buffer): number {
  let lines = 0;
  let at = chunk.indexOf(0x0a);
  while (at !== -1) {
    lines++;
    at = chunk.indexOf(0x0a, at + 1);
  }
  return lines;
}
