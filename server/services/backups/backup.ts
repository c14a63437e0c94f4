import { readSchemaVersion, readTables } from '../../../db/backup/catalogue';
import { DedicatedConnection } from '../../../db/backup/dedicated-connection';
import {
  beginSnapshot,
  commit,
  exportSnapshot,
  readServerVersion,
  rollback,
} from '../../../db/backup/session';
import { copyToStatement, lockForBackup } from '../../../db/backup/statements';
import { newArchiveKey } from './archive-key';
import type { ArchiveStore } from './archive-store';
import { type WrittenFile, writeCompressed } from './archive-writer';
import { loadOrder, UNARCHIVED_TABLES } from './catalogue';
import { copyOut } from './copy-protocol';
import { dataFileName, MANIFEST_FORMAT, type Manifest, type ManifestTable } from './manifest';
import { canDump, dumpTable, type PgDumpTool } from './pg-dump';

/**
 * Held (session-level) by whoever backs up or restores the platform's database: one at a time
 * across every instance. Its value spells "bkup".
 */
export const BACKUP_LOCK = 0x626b7570n;

export class BackupInProgressError extends Error {
  override name = 'BackupInProgressError';
  constructor() {
    super('another backup or restore of this database is running');
  }
}

export interface BackupRunOptions {
  id: string;
  /** Where the archive is stored, and its location there (nothing is visible before the manifest). */
  store: ArchiveStore;
  location: string;
  /** The key-encryption key the archive's data key is sealed under (the files are encrypted with it). */
  kek: Uint8Array;
  /** A pg_dump to use when it can dump this server; otherwise (or null) the COPY export. */
  pgDump: PgDumpTool | null;
  /** A private local directory for pg_dump's output of one table at a time (removed once read). */
  workDirectory: string;
}

/** A backup stopped from outside (shutdown's deadline): recorded with its reason. */
export class BackupCancelledError extends Error {
  override name = 'BackupCancelledError';
}

/**
 * One backup of a database on a session of its own, holding BACKUP_LOCK from `open` to `close`.
 *
 * Consistency: everything is read in one REPEATABLE READ, READ ONLY transaction, so every table
 * is seen as of the same instant however long the export takes and whatever is written meanwhile
 * (pg_dump, when used, joins that snapshot through pg_export_snapshot). Tables are locked in
 * ACCESS SHARE mode, which blocks no write, only DDL that would drop or rewrite them under us.
 */
export class BackupSession {
  private readonly cancelled = new AbortController();

  private constructor(
    private readonly connection: DedicatedConnection,
    private readonly url: string,
  ) {}

  /** Opens the session and takes the lock; throws BackupInProgressError when it is held elsewhere. */
  static async open(url: string): Promise<BackupSession> {
    const connection = await DedicatedConnection.open(url, 'beauty-crafter-backup');
    try {
      if (!(await connection.tryLock(BACKUP_LOCK))) throw new BackupInProgressError();
    } catch (error) {
      await connection.close();
      throw error;
    }
    return new BackupSession(connection, url);
  }

  /** Writes the archive, encrypted; on failure nothing of it is left in the store. */
  async run({ id, store, location, kek, pgDump, workDirectory }: BackupRunOptions): Promise<Manifest> {
    const { signal } = this.cancelled;
    const started = performance.now();
    const createdAt = new Date().toISOString();
    const { db, client } = this.connection;
    const archiveKey = newArchiveKey(kek, id);
    const draft = await store.begin(location);
    try {
      await beginSnapshot(db);
      const { version, num } = await readServerVersion(db);
      const schemaVersion = await readSchemaVersion(db);
      if (!schemaVersion)
        throw new Error('the database has no migrations applied: it is not a platform database');
      const catalogue = (await readTables(db)).filter((t) => !UNARCHIVED_TABLES.has(t.name));
      await lockForBackup(
        db,
        catalogue.map((t) => t.name),
      );
      const byName = new Map(catalogue.map((t) => [t.name, t]));
      const method = canDump(pgDump, num) ? 'pg_dump' : 'copy';
      const snapshot = method === 'pg_dump' ? await exportSnapshot(db) : null;

      const tables: ManifestTable[] = [];
      for (const [index, name] of loadOrder(catalogue).order.entries()) {
        const table = byName.get(name)!;
        const file = dataFileName(index + 1, name);
        const write = { signal, key: archiveKey.key.forFile(file) ?? undefined };
        let written: WrittenFile;
        if (snapshot && pgDump) {
          const dump = await dumpTable(pgDump, {
            url: this.url,
            snapshot,
            table: name,
            workDirectory,
            signal,
          });
          try {
            written = await writeCompressed(dump.stream, () => draft.open(file), write);
          } finally {
            await dump.cleanUp();
          }
        } else {
          const copy = copyOut(client, copyToStatement(db, table));
          let copied = false;
          copy.rows.then(
            () => (copied = true),
            () => (copied = true),
          );
          try {
            written = await writeCompressed(copy.stream, () => draft.open(file), write);
          } catch (error) {
            // The rest of the table would still be read and dropped: stop the server sending it.
            if (!copied && !signal.aborted) await this.connection.cancelStatement();
            throw error;
          }
          const reported = await copy.rows;
          if (reported !== written.rows) {
            throw new Error(
              `${name}: the server sent ${reported} rows but ${written.rows} lines were written`,
            );
          }
        }
        await draft.stored(file);
        tables.push({
          name,
          file,
          columns: table.columns,
          primaryKey: table.primaryKey,
          references: table.references,
          rows: written.rows,
          bytes: written.bytes,
          sha256: written.sha256,
        });
      }
      await commit(db);

      const manifest: Manifest = archiveKey.seal({
        format: MANIFEST_FORMAT,
        id,
        createdAt,
        schemaVersion,
        server: { version, versionNum: num },
        method,
        copyFormat: 'text',
        compression: 'gzip',
        tables,
        durationMs: Math.round(performance.now() - started),
        totalBytes: tables.reduce((sum, t) => sum + t.bytes, 0),
        totalRows: tables.reduce((sum, t) => sum + t.rows, 0),
        encryption: archiveKey.encryption,
      });
      // Last: the archive appears whole or not at all, a reader never sees a half-written one.
      await draft.commit(`${JSON.stringify(manifest, null, 2)}\n`);
      return manifest;
    } catch (error) {
      // Cancelled, the session is already cut: nothing to roll back (the server did).
      if (!signal.aborted) await rollback(db).catch(() => undefined);
      // Bounded: a cancelled backup ends at once even when the storage is out of reach (what is
      // left of an unfinished archive is never listed, and the next start removes it).
      await withinMs(draft.abandon(), signal.aborted ? 2_000 : 30_000);
      throw signal.aborted ? signal.reason : error;
    }
  }

  /**
   * Stops a running backup at once, whatever it waits for (a COPY, a lock, pg_dump, the disk):
   * the statement under way is cancelled and the session's socket cut, pg_dump killed, the write
   * aborted. `run` then removes the
   * partial archive and rejects with BackupCancelledError(reason).
   */
  async cancel(reason: string): Promise<void> {
    if (this.cancelled.signal.aborted) return;
    this.cancelled.abort(new BackupCancelledError(reason));
    // A backend waiting for a lock (or busy in a statement) notices a closed socket only once it
    // next talks to us, holding BACKUP_LOCK until then: it is told to stop first.
    await this.connection.cancelStatement();
    this.connection.destroy();
  }

  /** Ends the session, releasing the lock. */
  close(): Promise<void> {
    return this.connection.close();
  }
}

/** Waits for `work` (its failure ignored) at most `ms`. */
async function withinMs(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    work.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
