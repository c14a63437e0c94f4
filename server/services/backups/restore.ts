import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { type Migration, Migrator } from 'kysely';
import { readSchemaVersion, readSequenceColumns, readTables } from '../../../db/backup/catalogue';
import type { DedicatedConnection, SchemalessKysely } from '../../../db/backup/dedicated-connection';
import {
  begin,
  commit,
  rollback,
  setLocalLockTimeout,
  setLocalReplicaMode,
} from '../../../db/backup/session';
import {
  advanceSequence,
  analyze,
  copyFromStatement,
  hasRows,
  truncateTables,
} from '../../../db/backup/statements';
import type { ArchiveKey } from './archive-key';
import { BackupInProgressError } from './backup';
import { loadOrder, UNARCHIVED_TABLES } from './catalogue';
import { copyIn } from './copy-protocol';
import type { Manifest, ManifestTable } from './manifest';
import { type ArchiveCheck, type ArchiveReader, decrypting, verifyArchive } from './verify';

export interface RestoreOptions {
  /** Reads the archive's files (from a directory or a bucket), its manifest and its key. */
  read: ArchiveReader;
  manifest: Manifest;
  key: ArchiveKey;
  /**
   * Opens the session on the target, called once the archive has been verified (so a damaged
   * archive is refused before any connection is attempted).
   */
  connect: () => Promise<DedicatedConnection>;
  /** Replace the data of a target whose tables hold rows; without it such a target is refused. */
  confirm: boolean;
  /** The platform's migrations: the target's schema is built by migrating to the archive's version. */
  migrations: Record<string, Migration>;
  /** An advisory lock to hold on the target for the duration (BACKUP_LOCK for the platform's own database). */
  lockKey?: bigint;
  /** Bound on waiting for the target's table locks (the platform's own tables are busy). Default 30 s. */
  lockTimeoutMs?: number;
}

export interface RestoreResult {
  schemaVersion: string;
  /** Migrations applied to the target to reach the archive's schema. */
  migrated: string[];
  /** Whether the target had rows that the archive's replaced. */
  replacedData: boolean;
  tables: { name: string; rows: number }[];
  durationMs: number;
}

/** The archive fails verification: refused before the target is touched. */
export class ArchiveCorruptError extends Error {
  override name = 'ArchiveCorruptError';
  constructor(readonly check: ArchiveCheck) {
    const bad = check.files.filter((f) => !f.ok);
    super(
      `the archive is damaged: ${bad
        .slice(0, 5)
        .map((f) => `${f.file} (${f.problems.join('; ')})`)
        .join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''}`,
    );
  }
}

/** The target is not one this archive may be restored into as asked; nothing was changed. */
export class RestoreRefusedError extends Error {
  override name = 'RestoreRefusedError';
  constructor(
    readonly reason: 'not_empty' | 'schema_newer' | 'unknown_schema',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Restores an archive into the database `connect` opens, all or nothing.
 *
 * 1. The archive is verified first (checksums, chunk authentication, gzip integrity, row counts):
 *    a damaged, tampered or truncated one is refused before any connection to the target is made.
 * 2. In ONE transaction on the target: a target whose tables hold rows is refused unless
 *    `confirm`; the schema is brought to the archive's version by the platform's migrations
 *    (a target with a newer schema is refused: its tables may not fit the archive's rows); the
 *    archive's tables are truncated and loaded with COPY, referenced tables first; identity
 *    sequences are moved past the restored ids; commit.
 * 3. Any failure rolls the transaction back: schema, rows and sequences are as they were. Each
 *    file is hashed again while it is loaded, so a file changed after verification fails too.
 */
export async function restoreArchive(options: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const { manifest, migrations } = options;
  if (!(manifest.schemaVersion in migrations)) {
    throw new RestoreRefusedError(
      'unknown_schema',
      `the archive's schema (${manifest.schemaVersion}) is not one this release knows: restore it with a release at least as new`,
    );
  }
  const check = await verifyArchive(options.read, manifest, options.key);
  if (!check.ok) throw new ArchiveCorruptError(check);

  const connection = await options.connect();
  try {
    if (options.lockKey !== undefined && !(await connection.tryLock(options.lockKey))) {
      throw new BackupInProgressError();
    }
    const { db } = connection;
    await begin(db);
    try {
      const result = await restoreInTransaction(connection, options);
      await commit(db);
      await analyze(
        db,
        result.tables.map((t) => t.name),
      ).catch(() => undefined);
      return { ...result, durationMs: Math.round(performance.now() - started) };
    } catch (error) {
      await rollback(db).catch(() => undefined);
      throw error;
    }
  } finally {
    await connection.close();
  }
}

async function restoreInTransaction(
  connection: DedicatedConnection,
  { read, key, manifest, confirm, migrations, lockTimeoutMs = 30_000 }: RestoreOptions,
): Promise<Omit<RestoreResult, 'durationMs'>> {
  const { db } = connection;
  await setLocalLockTimeout(db, lockTimeoutMs);

  const targetVersion = await readSchemaVersion(db);
  if (targetVersion !== null && !(targetVersion in migrations)) {
    throw new RestoreRefusedError(
      'unknown_schema',
      `the target's schema (${targetVersion}) is not one this release knows`,
    );
  }
  if (targetVersion !== null && targetVersion > manifest.schemaVersion) {
    throw new RestoreRefusedError(
      'schema_newer',
      `the target's schema (${targetVersion}) is newer than the archive's (${manifest.schemaVersion}): restore into an empty database`,
    );
  }

  const occupied: string[] = [];
  for (const table of await readTables(db)) {
    if (!UNARCHIVED_TABLES.has(table.name) && (await hasRows(db, table.name))) occupied.push(table.name);
  }
  if (occupied.length > 0 && !confirm) {
    throw new RestoreRefusedError(
      'not_empty',
      `the target holds data (${occupied.slice(0, 5).join(', ')}${occupied.length > 5 ? ', …' : ''}): confirm to replace it`,
    );
  }

  const migrated =
    targetVersion === manifest.schemaVersion ? [] : await migrateTo(db, migrations, manifest.schemaVersion);
  await checkTablesFit(db, manifest.tables);

  const { order, cyclic } = loadOrder(manifest.tables);
  // No order satisfies foreign keys around a cycle; replica mode skips their checks (the rows
  // come from one consistent snapshot). It needs privileges the target may not grant: then the
  // restore fails, and rolls back, rather than loading without the checks some other way.
  if (cyclic.length > 0) await setLocalReplicaMode(db);

  await truncateTables(
    db,
    manifest.tables.map((t) => t.name),
  );
  const byName = new Map(manifest.tables.map((t) => [t.name, t]));
  const tables: RestoreResult['tables'] = [];
  for (const name of order) {
    const table = byName.get(name)!;
    tables.push({ name, rows: await loadTable(connection, read, table, key.forFile(table.file)) });
  }

  const archived = new Set(byName.keys());
  for (const sequence of await readSequenceColumns(db)) {
    if (archived.has(sequence.table)) await advanceSequence(db, sequence);
  }
  return { schemaVersion: manifest.schemaVersion, migrated, replacedData: occupied.length > 0, tables };
}

/** Runs the platform's migrations up to `version` inside the restore's transaction. */
async function migrateTo(
  db: SchemalessKysely,
  migrations: Record<string, Migration>,
  version: string,
): Promise<string[]> {
  // disableTransactions: the migrations run inside the restore's own transaction, on its session,
  // so a failure later in the restore undoes them too.
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    disableTransactions: true,
  });
  const result = await migrator.migrateTo(version);
  if (result.error) throw result.error;
  return (result.results ?? []).filter((r) => r.direction === 'Up').map((r) => r.migrationName);
}

/** Every table and column the archive loads exists on the target (else a clear error, before any COPY). */
async function checkTablesFit(db: SchemalessKysely, tables: readonly ManifestTable[]): Promise<void> {
  const target = new Map((await readTables(db)).map((t) => [t.name, new Set(t.columns)]));
  for (const table of tables) {
    const columns = target.get(table.name);
    if (!columns) throw new Error(`the target has no table ${table.name}`);
    const missing = table.columns.filter((c) => !columns.has(c));
    if (missing.length > 0)
      throw new Error(`the target's ${table.name} lacks column(s) ${missing.join(', ')}`);
  }
}

/**
 * COPY FROM STDIN of one data file, hashed and (encrypted archives) authenticated again on the way
 * in; returns the rows loaded.
 */
async function loadTable(
  connection: DedicatedConnection,
  read: ArchiveReader,
  table: ManifestTable,
  key: Buffer | null,
): Promise<number> {
  const hash = createHash('sha256');
  const gunzip = createGunzip();
  const feeding = (async () =>
    pipeline([
      await read(table.file),
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      }),
      ...decrypting(key, table),
      gunzip,
    ]))();
  // A read or gunzip failure reaches copyIn through the stream it iterates.
  feeding.catch(() => undefined);
  let rows: number;
  try {
    rows = await copyIn(connection.client, copyFromStatement(connection.db, table), gunzip);
    await feeding;
  } catch (error) {
    gunzip.destroy();
    throw new Error(`loading ${table.name} failed: ${(error as Error).message}`, { cause: error });
  }
  if (hash.digest('hex') !== table.sha256) throw new Error(`${table.file} changed after it was verified`);
  if (rows !== table.rows)
    throw new Error(`${table.name}: ${rows} rows loaded where the manifest says ${table.rows}`);
  return rows;
}
