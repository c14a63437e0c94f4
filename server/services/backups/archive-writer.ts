import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { encryptStream } from './archive-crypto';
import { countLines } from './verify';

/** What went into one data file. */
export interface WrittenFile {
  /** Lines of the uncompressed data: rows, in COPY text format. */
  rows: number;
  /** Size of the stored file (compressed, and encrypted when it is). */
  bytes: number;
  /** SHA-256 of the stored file, as written. */
  sha256: string;
}

/**
 * Opens the new file a data file is written to. The default creates it readable by the owner
 * only (an archive holds password hashes and sealed keys); tests inject one whose writes fail
 * part-way, as a full disk's do.
 */
export type ArchiveFileOpener = (path: string) => Writable;

export const openArchiveFile: ArchiveFileOpener = (path) =>
  createWriteStream(path, { flags: 'wx', mode: 0o600 });

/** Writing the archive to disk failed (ENOSPC, EIO…): the reason, with the system's error as cause. */
export class ArchiveWriteError extends Error {
  override name = 'ArchiveWriteError';
  readonly code: string | undefined;
  constructor(cause: unknown) {
    super(`archive write failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.code = (cause as NodeJS.ErrnoException | null)?.code;
  }
}

export interface WriteCompressedOptions {
  /** Aborts the write (the backup was cancelled): every stream of it is destroyed. */
  signal?: AbortSignal;
  /** The file's own key (archive-crypto fileKey): the compressed bytes are encrypted with it. */
  key?: Buffer;
}

/**
 * Streams `source` through gzip (and encryption, given a key) into `file`, hashing the bytes on
 * their way to storage. A failure of the file itself rejects with ArchiveWriteError; `source` is
 * destroyed whatever fails. The caller makes the file durable once this resolves.
 */
export async function writeCompressed(
  source: Readable,
  openFile: () => Writable,
  { signal, key }: WriteCompressedOptions = {},
): Promise<WrittenFile> {
  const hash = createHash('sha256');
  let rows = 0;
  let bytes = 0;
  let file: Writable;
  try {
    file = openFile();
  } catch (error) {
    source.destroy();
    throw new ArchiveWriteError(error);
  }
  let fileError: unknown = null;
  file.once('error', (error) => {
    fileError = error;
  });
  const counting = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      rows += countLines(chunk);
      done(null, chunk);
    },
  });
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    if (key) {
      await pipeline(source, counting, createGzip({ level: 6 }), encryptStream(key), hashing, file, {
        signal,
      });
    } else {
      await pipeline(source, counting, createGzip({ level: 6 }), hashing, file, { signal });
    }
  } catch (error) {
    if (fileError !== null && error === fileError) throw new ArchiveWriteError(error);
    if (isDiskError(error)) throw new ArchiveWriteError(error);
    throw error;
  }
  return { rows, bytes, sha256: hash.digest('hex') };
}

/** Writes a small file durably (the manifest). */
export async function writeDurably(path: string, content: string): Promise<void> {
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw isDiskError(error) ? new ArchiveWriteError(error) : error;
  }
}

/** The errors of a disk that cannot take more (or of one failing), as opposed to a mistake of ours. */
export function isDiskError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EFBIG' || code === 'EROFS';
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
