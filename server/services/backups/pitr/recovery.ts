import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DedicatedConnection } from '../../../../db/backup/dedicated-connection';
import { inRecovery } from '../../../../db/backup/physical';
import { handToPostgres, prepareSpool, walArchiveSettings } from '../../../../db/backup/wal-archiving';
import { startEmbeddedPostgres } from '../../../../db/embedded-postgres';
import {
  type BaseBackup,
  listBaseBackups,
  PointInTimeUnavailableError,
  readBaseBackupData,
} from './base-backup';
import { unpackDataDirectory } from './data-directory';
import type { ObjectStore } from './object-store';
import { openObject } from './sealed-object';
import { walKey } from './wal-shipper';

export interface RecoverOptions {
  store: ObjectStore;
  kek: Uint8Array;
  /** The moment to recover to (commits up to it are kept), or 'latest' for everything archived. */
  target: Date | 'latest';
  /**
   * The new DATA_DIR: the cluster goes to `<dataDir>/postgres` (with its password file beside it),
   * where the platform's embedded server looks. Neither may exist yet.
   */
  dataDir: string;
  /** Archive the recovered server's WAL (its new timeline) to `<dataDir>/wal-spool`, as the platform will. */
  archive: boolean;
  onLog?: (line: string) => void;
  onProgress?: (message: string) => void;
}

export interface RecoveryResult {
  baseBackup: BaseBackup;
  /** WAL files fetched from the store and offered to replay. */
  walFiles: number;
  /** What PostgreSQL reported: where it stopped, and the last transaction it kept. */
  stoppedAt: string | null;
  lastTransactionAt: string | null;
  clusterDir: string;
}

/**
 * Point-in-time recovery into a new data directory: the latest base backup that finished before
 * the target, its WAL fetched and decrypted, and a PostgreSQL started on it that replays up to
 * the target and is promoted (a new timeline). The server is stopped at the end; the platform
 * then starts on it with DATA_DIR set to `dataDir`.
 */
export async function recoverToPointInTime(options: RecoverOptions): Promise<RecoveryResult> {
  const { store, kek, target } = options;
  const progress = options.onProgress ?? (() => undefined);
  const clusterDir = join(options.dataDir, 'postgres');
  const walDir = join(options.dataDir, 'wal-restore');
  // It goes into restore_command, which a shell runs: quoted, so it may hold no quote itself.
  if (walDir.includes("'"))
    throw new PointInTimeUnavailableError(`${options.dataDir}: a data directory without quotes, please`);
  for (const path of [clusterDir, `${clusterDir}.password`]) {
    if (await stat(path).catch(() => null)) {
      throw new PointInTimeUnavailableError(`${path} exists: recovery writes a new data directory only`);
    }
  }

  const backups = await listBaseBackups(store, kek);
  const base = [...backups]
    .reverse()
    .find((b) => target === 'latest' || new Date(b.finishedAt).getTime() <= target.getTime());
  if (!base) {
    throw new PointInTimeUnavailableError(
      backups.length === 0
        ? `no base backup in ${store.where}`
        : `no base backup finished before ${(target as Date).toISOString()}; the earliest point to recover to is ${backups[0]!.finishedAt}`,
    );
  }
  progress(`base backup ${base.id} (finished ${base.finishedAt})`);

  await mkdir(options.dataDir, { recursive: true });
  const restored = await unpackDataDirectory(await readBaseBackupData(store, kek, base.id), clusterDir);
  progress(`data directory restored: ${restored.files} files, ${restored.bytes} bytes`);
  await writeFile(join(clusterDir, 'backup_label'), base.labelFile, { mode: 0o600 });
  if (base.tablespaceMap)
    await writeFile(join(clusterDir, 'tablespace_map'), base.tablespaceMap, { mode: 0o600 });
  for (const folder of ['pg_wal', 'pg_wal/archive_status', 'pg_wal/summaries']) {
    await mkdir(join(clusterDir, folder), { recursive: true, mode: 0o700 });
  }
  await writeFile(join(clusterDir, 'recovery.signal'), '', { mode: 0o600 });
  if (base.embeddedPassword === undefined) {
    throw new PointInTimeUnavailableError(
      'the base backup holds no embedded server password (it was not the embedded server)',
    );
  }
  await writeFile(`${clusterDir}.password`, base.embeddedPassword, { mode: 0o600 });

  const walFiles = await fetchWal(store, kek, base, walDir);
  progress(`${walFiles} WAL files fetched`);

  const spoolDir = join(options.dataDir, 'wal-spool');
  if (options.archive) await prepareSpool(spoolDir);
  await handToPostgres(clusterDir, walDir);

  let stoppedAt: string | null = null;
  let lastTransactionAt: string | null = null;
  const lines: string[] = [];
  const onLog = (line: string) => {
    lines.push(line);
    if (lines.length > 50) lines.shift();
    stoppedAt ??= /recovery stopping (?:before|after) .*?time ([0-9-]+ [0-9:.+-]+)/.exec(line)?.[1] ?? null;
    lastTransactionAt =
      /last completed transaction was at log time ([0-9-]+ [0-9:.+-]+)/.exec(line)?.[1] ?? lastTransactionAt;
    options.onLog?.(line);
  };
  const server = await startEmbeddedPostgres({
    dataDir: clusterDir,
    onLog,
    smartStopMs: 5_000,
    settings: {
      restore_command: `cp '${walDir}/%f' %p`,
      recovery_target_timeline: 'latest',
      ...(target === 'latest'
        ? {}
        : { recovery_target_time: postgresTime(target), recovery_target_action: 'promote' }),
      ...(options.archive ? walArchiveSettings(spoolDir, { archiveTimeoutSeconds: 60 }) : {}),
    },
  }).catch((error) => {
    throw new PointInTimeUnavailableError(
      `PostgreSQL did not finish the recovery: ${lines.filter((l) => /FATAL|PANIC|ERROR/.test(l)).join(' | ') || (error as Error)?.message || 'it exited'}`,
    );
  });
  try {
    const connection = await DedicatedConnection.open(server.url, 'beauty-crafter recovery');
    try {
      if (await inRecovery(connection.db))
        throw new PointInTimeUnavailableError('the server is still in recovery');
    } finally {
      await connection.close();
    }
  } finally {
    await server.stop();
    await rm(walDir, { recursive: true, force: true });
  }
  return { baseBackup: base, walFiles, stoppedAt, lastTransactionAt, clusterDir };
}

/**
 * Every archived WAL file replay may ask for: the segments from the base backup's first one on
 * (of any timeline) and every timeline history file, decrypted into `walDir`.
 */
async function fetchWal(
  store: ObjectStore,
  kek: Uint8Array,
  base: BaseBackup,
  walDir: string,
): Promise<number> {
  await mkdir(walDir, { recursive: true, mode: 0o700 });
  const firstSegment = base.startWalFile.slice(8);
  let count = 0;
  for (const object of await store.list('wal/')) {
    const file = object.key.slice('wal/'.length);
    const history = file.endsWith('.history');
    if (!history && (file.slice(8, 24) < firstSegment || file.endsWith('.backup'))) continue;
    const plain = await openObject(await store.get(walKey(file)), kek, walKey(file));
    await pipeline(plain, createWriteStream(join(walDir, file), { mode: 0o600 }));
    count++;
  }
  if ((await readdir(walDir)).length === 0) {
    throw new PointInTimeUnavailableError(`no archived WAL from ${base.startWalFile} on in ${store.where}`);
  }
  return count;
}

/** A time as recovery_target_time takes it (it refuses ISO 8601's `T…Z` form): `2026-12-06 21:30:00.123+00`. */
function postgresTime(time: Date): string {
  return time.toISOString().replace('T', ' ').replace('Z', '+00');
}
