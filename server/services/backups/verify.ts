import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { BackupFileCheck } from '../../../shared/devops-backups';
import type { Manifest, ManifestTable } from './manifest';

/** One file's check, as the API reports it (`actual` lacks what could not be measured). */
export type FileCheck = BackupFileCheck;

export interface ArchiveCheck {
  ok: boolean;
  files: FileCheck[];
}

/**
 * Reads every data file once: SHA-256 and size of the compressed bytes against the manifest,
 * and the decompressed stream through gunzip, whose CRC and length trailer catch truncation and
 * corruption the checksum would catch too (and a manifest rewritten to match a damaged file
 * would not), counting lines against the manifest's row count.
 */
export async function verifyArchive(directory: string, manifest: Manifest): Promise<ArchiveCheck> {
  const files: FileCheck[] = [];
  for (const table of manifest.tables) files.push(await verifyFile(directory, table));
  return { ok: files.every((f) => f.ok), files };
}

async function verifyFile(directory: string, table: ManifestTable): Promise<FileCheck> {
  const expected = { sha256: table.sha256, bytes: table.bytes, rows: table.rows };
  const hash = createHash('sha256');
  let bytes = 0;
  let rows = 0;
  let lastByte = 0x0a;
  const problems: string[] = [];
  try {
    await pipeline(
      createReadStream(join(directory, table.file)),
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done(null, chunk);
        },
      }),
      createGunzip(),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          rows += countLines(chunk);
          lastByte = chunk[chunk.length - 1] ?? lastByte;
          done();
        },
      }),
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(code === 'ENOENT' ? 'file missing' : `unreadable: ${(error as Error).message}`);
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
