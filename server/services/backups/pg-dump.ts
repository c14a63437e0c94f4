import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { promisify } from 'node:util';
import pg from 'pg';
import { ArchiveWriteError } from './archive-writer';

const run = promisify(execFile);

/** A pg_dump found on this machine. */
export interface PgDumpTool {
  path: string;
  /** As it reports itself: `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`. */
  version: string;
  major: number;
}

/**
 * `pg_dump --version`, or null when there is no pg_dump at `path` (by default, on PATH).
 * pg_dump refuses to dump a server of a newer major version than its own, so the caller compares
 * `major` with the server's before choosing it.
 */
export async function detectPgDump(path = 'pg_dump'): Promise<PgDumpTool | null> {
  try {
    const { stdout } = await run(path, ['--version'], { timeout: 10_000 });
    const match = /\(PostgreSQL\) (\d+)/.exec(stdout);
    return match ? { path, version: stdout.trim(), major: Number(match[1]) } : null;
  } catch {
    return null;
  }
}

/** Whether `tool` can dump a server whose `server_version_num` is `serverVersionNum` (e.g. 180001). */
export function canDump(tool: PgDumpTool | null, serverVersionNum: number): tool is PgDumpTool {
  return tool !== null && tool.major >= Math.floor(serverVersionNum / 10_000);
}

/**
 * One table's data as pg_dump writes it, inside the exported `snapshot` (so every table is read at
 * the same instant as the COPY method would): directory format, uncompressed, data only, then the
 * data file streamed without pg_dump's end-of-data marker. What comes out is COPY text format in
 * attnum order without generated columns, the same bytes COPY TO STDOUT writes (in another row
 * order). `cleanUp` removes pg_dump's temporary directory once the stream has been read.
 */
export async function dumpTable(
  tool: PgDumpTool,
  {
    url,
    snapshot,
    table,
    workDirectory,
    signal,
  }: {
    url: string;
    snapshot: string;
    table: string;
    workDirectory: string;
    /** Kills pg_dump (the backup was cancelled). */
    signal?: AbortSignal;
  },
): Promise<{ stream: Readable; cleanUp: () => Promise<void> }> {
  const target = await mkdtemp(join(workDirectory, '.pg_dump-'));
  const output = join(target, 'dump');
  const { args, env } = connectionArguments(url);
  // The pattern quoted as identifiers: wildcards and dots in the name are then literal.
  const pattern = `${pg.escapeIdentifier('public')}.${pg.escapeIdentifier(table)}`;
  try {
    await run(
      tool.path,
      [
        ...args,
        '--format=directory',
        '--compress=0',
        '--data-only',
        '--no-sync',
        `--snapshot=${snapshot}`,
        `--table=${pattern}`,
        `--file=${output}`,
      ],
      { env: { ...process.env, ...env }, timeout: 0, maxBuffer: 1 << 20, signal },
    ).catch((error: Error & { stderr?: string }) => {
      // pg_dump writes its output into the archive's directory: a full disk there is the archive's.
      if (/No space left on device/i.test(error.stderr ?? '')) {
        throw new ArchiveWriteError(
          Object.assign(new Error(`ENOSPC: ${error.stderr!.trim().split('\n').at(-1)}`), { code: 'ENOSPC' }),
        );
      }
      throw error;
    });
    const dataFiles = (await readdir(output)).filter((name) => /^\d+\.dat$/.test(name));
    if (dataFiles.length !== 1) throw new Error(`pg_dump wrote ${dataFiles.length} data files for ${table}`);
    const stream = createReadStream(join(output, dataFiles[0]!)).pipe(withoutEndMarker());
    return { stream, cleanUp: () => rm(target, { recursive: true, force: true }) };
  } catch (error) {
    await rm(target, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The connection as pg_dump's arguments and environment: the password goes in PGPASSWORD, never
 * on the command line, where any local user could read it.
 */
function connectionArguments(url: string): { args: string[]; env: Record<string, string> } {
  const parsed = new URL(url);
  const env: Record<string, string> = {};
  if (parsed.password) env.PGPASSWORD = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { args: [`--dbname=${parsed.toString()}`], env };
}

/**
 * pg_dump ends a table's data with `\.` and blank lines (the COPY end marker of its plain
 * format). The last few bytes are held back until the end, where the marker is checked and dropped.
 */
function withoutEndMarker(): Transform {
  const MARKER = Buffer.from('\\.\n');
  let tail = Buffer.alloc(0);
  const KEEP = 16;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const joined = Buffer.concat([tail, chunk]);
      const cut = Math.max(0, joined.length - KEEP);
      tail = joined.subarray(cut);
      done(null, cut > 0 ? joined.subarray(0, cut) : undefined);
    },
    flush(done) {
      const trimmed = trimTrailingNewlines(tail);
      const atLineStart = trimmed.length === MARKER.length - 1 || trimmed[trimmed.length - 3] === 0x0a;
      if (trimmed.length < 2 || trimmed.subarray(-2).toString() !== '\\.' || !atLineStart) {
        done(new Error("pg_dump's data file does not end with its end-of-data marker"));
        return;
      }
      done(null, trimmed.subarray(0, trimmed.length - 2));
    },
  });
}

function trimTrailingNewlines(buffer: Buffer): Buffer {
  let end = buffer.length;
  while (end > 0 && buffer[end - 1] === 0x0a) end--;
  return buffer.subarray(0, end);
}
