import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { syncFile } from '../archive-writer';

/**
 * What point-in-time recovery keeps in the backup store: plain objects by key (`wal/<segment>`,
 * `base/<id>/…`), under the store's `pitr/` folder, beside the logical backups' archives.
 */
export interface ObjectStore {
  /** Where the objects are, for messages (a directory, or s3://bucket/prefix/pitr/). */
  readonly where: string;
  /** Stores `body` under `key`, replacing what was there; readers see it only once whole. */
  put(key: string, body: Readable): Promise<void>;
  /** Streams an object; ObjectMissingError when there is none. */
  get(key: string): Promise<Readable>;
  /** The objects whose keys start with `prefix`, in key order. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Deletes an object (nothing when it is not there). */
  delete(key: string): Promise<void>;
}

export interface StoredObject {
  key: string;
  size: number;
  /** When it was stored (the file's modification time, the object's Last-Modified). */
  modifiedAt: Date;
}

export class ObjectMissingError extends Error {
  override name = 'ObjectMissingError';
  constructor(readonly key: string) {
    super(`${key} is not in the backup store`);
  }
}

/** Keys are a few path segments of safe characters: never `..`, never absolute. */
export function checkKey(key: string): string {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(key) || key.split('/').some((p) => /^\.+$/.test(p))) {
    throw new Error(`invalid object key: ${key}`);
  }
  return key;
}

/** Objects as files under a directory (BACKUP_DIR/pitr), written beside their place and renamed. */
export class LocalObjectStore implements ObjectStore {
  readonly where: string;

  constructor(directory: string) {
    this.where = resolve(directory);
  }

  private pathOf(key: string): string {
    return join(this.where, ...checkKey(key).split('/'));
  }

  async put(key: string, body: Readable): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = join(dirname(path), `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(body, createWriteStream(temporary, { mode: 0o600 }));
      await syncFile(temporary);
      await rename(temporary, path);
      await syncFile(dirname(path));
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const handle = await open(this.pathOf(key), 'r');
      return handle.createReadStream();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectMissingError(key);
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const found: StoredObject[] = [];
    const walk = async (directory: string): Promise<void> => {
      const entries = await readdir(directory, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (entry.name.startsWith('.tmp-')) continue;
        const path = join(directory, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile()) {
          const key = relative(this.where, path).split(sep).join('/');
          if (!key.startsWith(prefix)) continue;
          const info = await stat(path);
          found.push({ key, size: info.size, modifiedAt: info.mtime });
        }
      }
    };
    await walk(this.where);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
