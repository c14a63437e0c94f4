import { readFile, realpath } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { DedicatedConnection } from '../../../../db/backup/dedicated-connection';
import { backupStart, backupStop, readArchiveSettings } from '../../../../db/backup/physical';
import { readWhole } from '../archive-store';
import { packDataDirectory } from './data-directory';
import type { ObjectStore } from './object-store';
import { openObject, sealObject } from './sealed-object';

/** What recovery needs to know of a base backup, stored (sealed) beside its data. */
export interface BaseBackup {
  format: 1;
  id: string;
  /** The server's clock when pg_backup_start returned, and after pg_backup_stop did. */
  startedAt: string;
  finishedAt: string;
  startLsn: string;
  stopLsn: string;
  /** The first WAL segment replay needs, and the last one the backup itself needs. */
  startWalFile: string;
  stopWalFile: string;
  timeline: number;
  /** The backup_label (and tablespace_map) pg_backup_stop gave, written into the restored directory. */
  labelFile: string;
  tablespaceMap: string;
  serverVersionNum: number;
  systemIdentifier: string;
  /** Uncompressed bytes of the data directory copied. */
  dataBytes: number;
  /**
   * The embedded server's superuser password (DATA_DIR/postgres.password), so that a new machine
   * restored from the bucket alone can start it; absent for a server the platform did not start.
   */
  embeddedPassword?: string;
}

export class PointInTimeUnavailableError extends Error {
  override name = 'PointInTimeUnavailableError';
}

const dataKey = (id: string) => `base/${id}/data`;
const descriptionKey = (id: string) => `base/${id}/backup.json`;

export interface TakeBaseBackupOptions {
  id: string;
  /** The server to back up (a superuser's URL). */
  databaseUrl: string;
  /** Its data directory, readable by this process. */
  dataDir: string;
  store: ObjectStore;
  kek: Uint8Array;
  /** The embedded server's password file, kept in the backup's description when it exists. */
  passwordFile?: string;
}

/**
 * A physical base backup: pg_backup_start, the data directory streamed to the store (compressed,
 * encrypted), pg_backup_stop (which waits until the WAL the copy needs is archived), then the
 * description, last: a base backup without one is unfinished and never used.
 */
export async function takeBaseBackup(options: TakeBaseBackupOptions): Promise<BaseBackup> {
  const connection = await DedicatedConnection.open(options.databaseUrl, 'beauty-crafter base backup');
  try {
    const settings = await readArchiveSettings(connection.db);
    if (settings.versionNum < 150000) {
      throw new PointInTimeUnavailableError('base backups need PostgreSQL 15 or later (pg_backup_start)');
    }
    if (settings.archiveMode === 'off' || settings.walLevel === 'minimal') {
      throw new PointInTimeUnavailableError(
        `the server does not archive WAL (archive_mode=${settings.archiveMode}, wal_level=${settings.walLevel})`,
      );
    }
    const [ours, theirs] = await Promise.all([
      realpath(options.dataDir),
      realpath(settings.dataDirectory).catch(() => ''),
    ]);
    if (ours !== theirs) {
      throw new PointInTimeUnavailableError(
        `the server's data directory is ${settings.dataDirectory}, not ${options.dataDir}: a base backup copies the server's own files`,
      );
    }
    const start = await backupStart(connection.db, `beauty-crafter ${options.id}`);
    let dataBytes = 0;
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of packDataDirectory(ours)) {
          dataBytes += chunk.length;
          yield chunk;
        }
      })(),
    );
    await options.store.put(dataKey(options.id), sealObject(counted, options.kek, dataKey(options.id)));
    const stop = await backupStop(connection.db);
    const description: BaseBackup = {
      format: 1,
      id: options.id,
      startedAt: start.at.toISOString(),
      finishedAt: stop.at.toISOString(),
      startLsn: start.lsn,
      stopLsn: stop.lsn,
      startWalFile: start.walFile,
      stopWalFile: stop.walFile,
      timeline: start.timeline,
      labelFile: stop.labelFile,
      tablespaceMap: stop.tablespaceMap,
      serverVersionNum: settings.versionNum,
      systemIdentifier: settings.systemIdentifier,
      dataBytes,
      embeddedPassword: options.passwordFile
        ? (await readFile(options.passwordFile, 'utf8').catch(() => undefined))?.trim()
        : undefined,
    };
    const name = descriptionKey(options.id);
    await options.store.put(
      name,
      sealObject(Readable.from([Buffer.from(JSON.stringify(description))]), options.kek, name),
    );
    return description;
  } finally {
    // A failure between start and stop ends the session: PostgreSQL then aborts the backup.
    await connection.close();
  }
}

/**
 * The finished base backups in the store, oldest first (each description opened and checked).
 * A description never changes once stored: with `known` (kept by the caller between calls) each
 * is fetched and opened once, and one no longer listed is forgotten.
 */
export async function listBaseBackups(
  store: ObjectStore,
  kek: Uint8Array,
  known: Map<string, BaseBackup> = new Map(),
): Promise<BaseBackup[]> {
  const found: BaseBackup[] = [];
  const listed = new Set<string>();
  for (const object of await store.list('base/')) {
    if (!object.key.endsWith('/backup.json')) continue;
    listed.add(object.key);
    let description = known.get(object.key);
    if (!description) {
      description = await readBaseBackup(store, kek, object.key);
      if (descriptionKey(description.id) !== object.key) continue; // moved from another backup
      known.set(object.key, description);
    }
    found.push(description);
  }
  for (const key of known.keys()) if (!listed.has(key)) known.delete(key);
  return found.sort((a, b) => (a.startedAt < b.startedAt ? -1 : 1));
}

async function readBaseBackup(store: ObjectStore, kek: Uint8Array, key: string): Promise<BaseBackup> {
  const plain = await readWhole(await openObject(await store.get(key), kek, key), key);
  return JSON.parse(plain.toString('utf8')) as BaseBackup;
}

/** A base backup's data directory stream, decrypted. */
export async function readBaseBackupData(store: ObjectStore, kek: Uint8Array, id: string): Promise<Readable> {
  return openObject(await store.get(dataKey(id)), kek, dataKey(id));
}

/** Deletes a base backup, its description first (from then on it is no longer one). */
export async function deleteBaseBackup(store: ObjectStore, id: string): Promise<void> {
  await store.delete(descriptionKey(id));
  await store.delete(dataKey(id));
}

/**
 * The ids of base backups whose data has been there without a description for over `olderThanMs`
 * (an interrupted backup; a younger one may still be under way on another instance).
 */
export async function unfinishedBaseBackups(store: ObjectStore, olderThanMs: number): Promise<string[]> {
  const objects = await store.list('base/');
  const described = new Set(
    objects.filter((o) => o.key.endsWith('/backup.json')).map((o) => o.key.split('/')[1]),
  );
  const before = Date.now() - olderThanMs;
  return objects
    .filter((o) => o.key.endsWith('/data') && o.modifiedAt.getTime() < before)
    .map((o) => o.key.split('/')[1]!)
    .filter((id) => !described.has(id));
}
