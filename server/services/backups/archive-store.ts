import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  type ArchiveFileOpener,
  ArchiveWriteError,
  isDiskError,
  openArchiveFile,
  syncFile,
  writeDurably,
} from './archive-writer';

/** An archive's manifest: written last, so that its presence means the archive is whole. */
export const MANIFEST_FILE = 'manifest.json';

/** The store's folder for point-in-time recovery (WAL and base backups): never an archive. */
export const PITR_FOLDER = 'pitr';

/**
 * Where archives live: a directory on this machine (BACKUP_DIR) or a bucket of S3-compatible
 * object storage (s3-archive-store.ts). An archive is one location (a backup row's `path`)
 * holding its data files and, written last, manifest.json: an archive without its manifest is
 * unfinished, never listed, verified or restored.
 */
export interface ArchiveStore {
  /** Where the archive of backup `id` is written. */
  locationOf(id: string): string;
  /** Whether `location` is one of this store's. */
  holds(location: string): boolean;
  /** Starts writing an archive at `location`; nothing of it is visible until `commit`. */
  begin(location: string): Promise<ArchiveDraft>;
  /** Streams one stored file; ArchiveFileMissingError when it is not there. */
  read(location: string, file: string): Promise<Readable>;
  /** Deletes an archive (its manifest first, so that it stops being an archive at once). */
  remove(location: string): Promise<void>;
  /** The locations of every finished archive (one with its manifest). */
  list(): Promise<string[]>;
  /** Removes what unfinished archives left behind; call only while no backup runs (BACKUP_LOCK). */
  removeDrafts(): Promise<string[]>;
}

/** An archive being written. */
export interface ArchiveDraft {
  /** A new data file; the stream finishes once the file is stored (written, or uploaded). */
  open(file: string): Writable;
  /** Called once a data file's stream finished: makes it durable where that takes a step. */
  stored(file: string): Promise<void>;
  /** Writes the manifest, last: from then on the archive exists, whole. */
  commit(manifest: string): Promise<void>;
  /** Removes whatever was written. */
  abandon(): Promise<void>;
}

export class ArchiveFileMissingError extends Error {
  override name = 'ArchiveFileMissingError';
  constructor(file: string) {
    super(`${file} is missing`);
  }
}

/** Archives in a directory (BACKUP_DIR), one sub-directory per backup. */
export class LocalArchiveStore implements ArchiveStore {
  readonly directory: string;

  constructor(
    directory: string,
    private readonly openFile: ArchiveFileOpener = openArchiveFile,
  ) {
    this.directory = resolve(directory);
  }

  locationOf(id: string): string {
    return join(this.directory, id);
  }

  holds(location: string): boolean {
    return !location.includes('://');
  }

  async begin(location: string): Promise<ArchiveDraft> {
    await this.ensureDirectory();
    // Written beside its final place and renamed at the end: a reader never sees half an archive.
    const partial = join(dirname(location), `.partial-${basename(location)}`);
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true, mode: 0o700 });
    return {
      open: (file) => this.openFile(join(partial, file)),
      stored: async (file) => {
        // The stream closed its descriptor; fsync through another (on Linux any descriptor will do).
        try {
          await syncFile(join(partial, file));
        } catch (error) {
          throw isDiskError(error) ? new ArchiveWriteError(error) : error;
        }
      },
      commit: async (manifest) => {
        await writeDurably(join(partial, MANIFEST_FILE), manifest);
        await syncFile(partial);
        await rename(partial, location);
        await syncFile(dirname(location));
      },
      abandon: () => rm(partial, { recursive: true, force: true }),
    };
  }

  /** BACKUP_DIR itself, made if need be: pg_dump's passing files go there whatever the store. */
  async workDirectory(): Promise<string> {
    await this.ensureDirectory();
    return this.directory;
  }

  async read(location: string, file: string): Promise<Readable> {
    try {
      const handle = await open(join(location, file), 'r');
      return handle.createReadStream();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ArchiveFileMissingError(file);
      throw error;
    }
  }

  async remove(location: string): Promise<void> {
    // Never outside BACKUP_DIR, whatever a row says.
    const path = resolve(location);
    if (!path.startsWith(`${this.directory}/`)) return;
    await rm(join(path, MANIFEST_FILE), { force: true });
    await rm(path, { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.directory).catch(() => [] as string[]);
    const found: string[] = [];
    for (const entry of entries) {
      if (entry.startsWith('.')) continue;
      const manifest = await stat(join(this.directory, entry, MANIFEST_FILE)).catch(() => null);
      if (manifest?.isFile()) found.push(join(this.directory, entry));
    }
    return found;
  }

  async removeDrafts(): Promise<string[]> {
    const removed: string[] = [];
    for (const entry of await readdir(this.directory).catch(() => [] as string[])) {
      if (!entry.startsWith('.partial-')) continue;
      await rm(join(this.directory, entry), { recursive: true, force: true });
      removed.push(entry);
    }
    return removed;
  }

  /**
   * The backup directory is private (0700); the folders above it keep the usual mode. A recursive
   * mkdir would give them 0700 too, and DATA_DIR made private that way is one the embedded
   * PostgreSQL, run as the `postgres` user when we are root, can no longer reach.
   */
  private async ensureDirectory(): Promise<void> {
    await mkdir(dirname(this.directory), { recursive: true });
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
  }
}

/** Reads a small stored file (the manifest) whole. */
export async function readSmallFile(store: ArchiveStore, location: string, file: string): Promise<string> {
  return (await readWhole(await store.read(location, file), file)).toString('utf8');
}

/** A stream's bytes, refusing (and ending) one over 16 MiB: for manifests and descriptions only. */
export async function readWhole(stream: Readable, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024 * 1024) {
      stream.destroy();
      throw new Error(`${what} is larger than 16 MiB`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
