import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { countLines } from './verify';

/** What went into one data file. */
export interface WrittenFile {
  /** Lines of the uncompressed data: rows, in COPY text format. */
  rows: number;
  /** Size of the compressed file. */
  bytes: number;
  /** SHA-256 of the compressed file, as written. */
  sha256: string;
}

/**
 * Streams `source` through gzip into a new file at `path` (readable by the owner only: an
 * archive holds password hashes and sealed keys), hashing the compressed bytes on their way to
 * disk, and makes the file durable before returning.
 */
export async function writeCompressed(source: Readable, path: string): Promise<WrittenFile> {
  const hash = createHash('sha256');
  let rows = 0;
  let bytes = 0;
  await pipeline(
    source,
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        rows += countLines(chunk);
        done(null, chunk);
      },
    }),
    createGzip({ level: 6 }),
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    }),
    createWriteStream(path, { flags: 'wx', mode: 0o600 }),
  );
  // The stream closed its descriptor; fsync through another (on Linux any descriptor of the file will do).
  await syncFile(path);
  return { rows, bytes, sha256: hash.digest('hex') };
}

/** Writes a small file durably (the manifest). */
export async function writeDurably(path: string, content: string): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync of a file or a directory (so a rename or a new file in it survives a crash). */
export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
