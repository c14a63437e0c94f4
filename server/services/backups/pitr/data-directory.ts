import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/*
 * A PostgreSQL data directory as one stream, for base backups taken between pg_backup_start and
 * pg_backup_stop (the low-level API: the files change while they are read, which WAL replay from
 * the backup's start repairs). A sequence of entries:
 *
 *   'D' | u16 path length | path                      a directory
 *   'F' | u16 path length | path | u64 size | bytes   a file
 *   'E'                                               the end
 *
 * What is left out is what pg_basebackup leaves out (PostgreSQL's basebackup.c): WAL (replayed
 * from the archive instead), the running server's pid and options, temporary and statistics
 * files, and the contents of the directories PostgreSQL empties at start.
 */

/** Directories whose contents a base backup leaves out (the directories themselves are kept). */
const EMPTIED = new Set([
  'pg_wal',
  'pg_stat_tmp',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_subtrans',
]);
/** Files left out wherever they are. */
const LEFT_OUT = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'pg_internal.init',
  'backup_label',
  'backup_label.old',
  'tablespace_map',
  'recovery.signal',
  'standby.signal',
  'postgresql.auto.conf.tmp',
  'current_logfiles',
]);
/** Sent last, as pg_basebackup does: the control file ends the copy. */
const CONTROL_FILE = 'global/pg_control';
const READ_BYTES = 1024 * 1024;

export class DataDirectoryError extends Error {
  override name = 'DataDirectoryError';
}

function header(type: 'D' | 'F', path: string, size?: number): Buffer {
  const name = Buffer.from(path);
  const head = Buffer.alloc(3 + name.length + (size === undefined ? 0 : 8));
  head.write(type, 0, 'latin1');
  head.writeUInt16BE(name.length, 1);
  name.copy(head, 3);
  if (size !== undefined) head.writeBigUInt64BE(BigInt(size), 3 + name.length);
  return head;
}

/**
 * Streams `dataDir` (see above). A file that disappears while it is read is left out, one that
 * shrinks is padded with zeros to the size it had (as pg_basebackup does: WAL replay rewrites it).
 * Tablespaces (links in pg_tblspc) are refused: only the data directory is copied.
 */
export async function* packDataDirectory(dataDir: string): AsyncGenerator<Buffer> {
  const files: string[] = [];
  async function* walk(relative: string): AsyncGenerator<Buffer> {
    const entries = await readdir(join(dataDir, relative), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.name.startsWith('pgsql_tmp')) continue; // temporary files and their folders
      if (entry.isDirectory()) {
        yield header('D', path);
        if (!(relative === '' && EMPTIED.has(entry.name))) yield* walk(path);
      } else if (entry.isSymbolicLink()) {
        throw new DataDirectoryError(
          `${path} is a link (a tablespace): base backups copy the data directory only`,
        );
      } else if (entry.isFile() && !LEFT_OUT.has(entry.name)) {
        if (path !== CONTROL_FILE) files.push(path);
      }
    }
  }
  // Directories first (so that unpacking never meets a file before its folder), then the files.
  yield* walk('');
  for (const path of [...files, CONTROL_FILE]) yield* packFile(dataDir, path);
  yield Buffer.from('E');
}

async function* packFile(dataDir: string, path: string): AsyncGenerator<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(join(dataDir, path), 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // dropped meanwhile
    throw error;
  }
  try {
    const size = (await handle.stat()).size;
    yield header('F', path, size);
    let sent = 0;
    while (sent < size) {
      const buffer = Buffer.alloc(Math.min(READ_BYTES, size - sent));
      // Shrunk while read: what is no longer there stays zeros (Buffer.alloc fills with them).
      await handle.read(buffer, 0, buffer.length, sent);
      sent += buffer.length;
      yield buffer;
    }
  } finally {
    await handle.close();
  }
}

/** Unpacks what packDataDirectory wrote into the empty directory `target` (owner-only modes). */
export async function unpackDataDirectory(
  source: Readable,
  target: string,
): Promise<{ files: number; bytes: number }> {
  const reader = new ByteReader(source);
  await mkdir(target, { recursive: true, mode: 0o700 });
  let files = 0;
  let bytes = 0;
  for (;;) {
    const type = (await reader.take(1)).toString('latin1');
    if (type === 'E') return { files, bytes };
    if (type !== 'D' && type !== 'F')
      throw new DataDirectoryError(`unknown entry type ${JSON.stringify(type)}`);
    const path = (await reader.take((await reader.take(2)).readUInt16BE(0))).toString();
    if (
      path.startsWith('/') ||
      path.split('/').some((part) => part === '' || part === '.' || part === '..')
    ) {
      throw new DataDirectoryError(`refused path ${JSON.stringify(path)}`);
    }
    if (type === 'D') {
      await mkdir(join(target, path), { recursive: true, mode: 0o700 });
      continue;
    }
    const size = Number((await reader.take(8)).readBigUInt64BE(0));
    const out = createWriteStream(join(target, path), { mode: 0o600, flags: 'wx' });
    for await (const piece of reader.stream(size)) {
      if (!out.write(piece)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    files++;
    bytes += size;
  }
}

/** Reads exact byte counts from a stream. */
class ByteReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private buffered: Buffer = Buffer.alloc(0);

  constructor(source: Readable) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  private async more(): Promise<void> {
    const next = await this.chunks.next();
    if (next.done) throw new DataDirectoryError('the data directory stream ends before its end mark');
    this.buffered = this.buffered.length === 0 ? next.value : Buffer.concat([this.buffered, next.value]);
  }

  async take(bytes: number): Promise<Buffer> {
    while (this.buffered.length < bytes) await this.more();
    const taken = this.buffered.subarray(0, bytes);
    this.buffered = this.buffered.subarray(bytes);
    return taken;
  }

  /** `bytes` bytes, piece by piece as they arrive. */
  async *stream(bytes: number): AsyncGenerator<Buffer> {
    let left = bytes;
    while (left > 0) {
      if (this.buffered.length === 0) await this.more();
      const piece = this.buffered.subarray(0, Math.min(left, this.buffered.length));
      this.buffered = this.buffered.subarray(piece.length);
      left -= piece.length;
      yield piece;
    }
  }
}
