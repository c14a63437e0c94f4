import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { TRPCError } from '@trpc/server';
import { type Kysely, sql } from 'kysely';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DedicatedConnection } from '../../db/backup/dedicated-connection';
import type { PlatformDatabase } from '../../db/connect';
import type { Database } from '../../db/database';
import { freePort } from '../../db/local-processes';
import { migrateToLatest } from '../../db/migrate';
import type { Actor } from '../../server/base/actor';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { PlatformError } from '../../server/base/errors';
import { createLogger } from '../../server/base/logger';
import { createMetrics } from '../../server/base/metrics/metrics';
import type { Principal } from '../../server/base/principal';
import { appRouter } from '../../server/http/routers/index';
import { createCallerFactory } from '../../server/http/trpc';
import { BACKUP_LOCK } from '../../server/services/backups/backup';
import { type Manifest, parseManifest } from '../../server/services/backups/manifest';
import { bindBackupMetrics } from '../../server/services/backups/metrics';
import { BackupScheduler } from '../../server/services/backups/scheduler';
import { BackupService } from '../../server/services/backups/service';
import { type Backup, parseRestoreTargetEntry, type RestoreTargetAddress } from '../../shared/devops-backups';
import { startTestApp, type TestApp } from '../helpers/app';
import { createApiKey, createOrganization, createUser, login } from '../helpers/auth';
import { readRows, resealed, writeRows } from '../helpers/backup-archives';
import {
  createTestDatabase,
  type OpenedTestDatabase,
  openTestDatabase,
  type TestDatabase,
} from '../helpers/database';
import { callProcedure } from '../helpers/http';
import { closeRouterDeps, routerContext, routerDeps } from '../helpers/router-context';
import { PROCEDURES, procedureAt } from '../helpers/router-walk';
import { withDatabase } from '../helpers/table-diff';

const logger = createLogger({ level: 'silent' });
const metrics = createMetrics({ build: readBuildInfo(), defaultMetrics: false });

let source: OpenedTestDatabase;
let database: PlatformDatabase;
let backupDir: string;
let service: BackupService;
let inMaintenance = false;
const scratch: TestDatabase[] = [];
let organizationId: string;
let otherOrganizationId: string;
let admin: Actor;
/** The key-encryption key the archives' data keys are sealed under. */
const kek = new Uint8Array(randomBytes(32));
/** BACKUP_RESTORE_TARGETS of the service under test: every database the test makes is added. */
const restoreTargets: RestoreTargetAddress[] = [];

function buildService(
  on: PlatformDatabase,
  overrides: Partial<ConstructorParameters<typeof BackupService>[0]> = {},
) {
  return new BackupService({
    database: on,
    databaseUrl: source.url,
    directory: backupDir,
    audit: new AuditLog(metrics),
    logger,
    inMaintenance: () => inMaintenance,
    restoreTargets,
    kek,
    ...overrides,
  });
}

/** A user of `orgId` with an organization role and a platform role (none: a tenant's user). */
function user(orgId: string, role: Principal['role'], platformRole: Principal['platformRole']): Actor {
  return { kind: 'user', userId: randomUUID(), organizationId: orgId, role, platformRole, sessionId: 'test' };
}

/** `host:port/database` of a URL, as BACKUP_RESTORE_TARGETS spells it. */
function addressOf(url: string): RestoreTargetAddress {
  const parsed = new URL(url);
  return parseRestoreTargetEntry(`${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`)!;
}

/** A fresh, empty database, allow-listed as a restore target. */
async function freshDatabase(): Promise<TestDatabase> {
  const created = await createTestDatabase();
  scratch.push(created);
  restoreTargets.push(addressOf(created.url));
  return created;
}

/** A TCP server that counts connections and answers nothing: where a refused restore must not go. */
async function listeningTrap(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Everything a restore could change: every table's rows, the columns, the sequences' positions
 * and the applied migrations. Equal fingerprints: the database was not touched.
 */
async function fingerprint(url: string): Promise<string> {
  return withDatabase(url, async (db) => {
    const tables = await sql<{ name: string }>`
      select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1
    `.execute(db);
    const contents: string[] = [];
    for (const { name } of tables.rows) {
      const { rows } = await sql<{ n: string; digest: string }>`
        select count(*)::text as n, md5(coalesce(string_agg(x::text, E'\n' order by x::text), '')) as digest
        from ${sql.table(name)} x
      `.execute(db);
      contents.push(`${name}:${rows[0]!.n}:${rows[0]!.digest}`);
    }
    const columns = await sql`
      select table_name, column_name, data_type from information_schema.columns
      where table_schema = 'public' order by 1, ordinal_position
    `.execute(db);
    const sequences = await sql`
      select sequencename, last_value from pg_sequences where schemaname = 'public' order by 1
    `.execute(db);
    return JSON.stringify({ contents, columns: columns.rows, sequences: sequences.rows });
  });
}

/** MD5 of a table's rows as text, in primary-key order, optionally only ids up to `maxId`. */
async function digest(
  db: Kysely<Database>,
  table: string,
  primaryKey: string[],
  maxId?: number,
): Promise<string> {
  const order = sql.join(primaryKey.map((column) => sql.ref(`x.${column}`)));
  const bound = maxId === undefined ? sql`` : sql`where x.id <= ${maxId}`;
  const { rows } = await sql<{ digest: string }>`
    select md5(coalesce(string_agg(x::text, E'\n' order by ${order}), '')) as digest from ${sql.table(table)} x ${bound}
  `.execute(db);
  return rows[0]!.digest;
}

async function refusal(call: Promise<unknown>): Promise<PlatformError> {
  const error = await call.then(
    () => null,
    (e) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

/** A backup with no writes going on (its duration is the quiet figure of the note). */
async function newBackup(): Promise<Backup> {
  const backup = await service.create(admin, { wait: true });
  expect(backup.status).toBe('succeeded');
  figures.quietBackupMs ??= backup.durationMs!;
  return backup;
}

/** The source: the platform's schema and 101,550 rows, with text that COPY must escape. */
async function fill(db: Kysely<Database>): Promise<number> {
  await sql`
    insert into organizations (id, name) values (${organizationId}, 'Backup Org'), (${otherOrganizationId}, 'Other Org')
  `.execute(db);
  await sql`
    insert into organizations (name) select 'org ' || i from generate_series(1, 48) i
  `.execute(db);
  await sql`
    insert into users (organization_id, email, name, password_hash, role)
    select ${organizationId}, 'user' || i || '@example.test', E'Ünïcödé \\ name\t' || i, '$scrypt$ln=10,r=8,p=1$x$y', 'viewer'
    from generate_series(1, 500) i
  `.execute(db);
  await sql`
    insert into annotations (organization_id, text, tags, idempotency_key)
    select ${organizationId}, E'note ' || i || E'\twith a tab\nand a newline, a backslash \\ and "quotes" — ü',
      array['tag' || (i % 7), E'sp ace,comma'], case when i % 3 = 0 then 'key-' || i end
    from generate_series(1, 60000) i
  `.execute(db);
  await sql`
    insert into audit_events (organization_id, type, result, target_type, target_id, details)
    select ${organizationId}, 'login', case when i % 5 = 0 then 'failure' else 'success' end,
      case when i % 2 = 0 then 'user' end, i::text, jsonb_build_object('i', i, 'nested', jsonb_build_object('s', E'x\ny'))
    from generate_series(1, 40000) i
  `.execute(db);
  await sql`
    insert into rate_limits (key, tat, last_allowed)
    select 'ip:' || i, 1.8e12 + i / 3.0, i % 2 = 0 from generate_series(1, 1000) i
  `.execute(db);
  const { rows } = await sql<{ n: number }>`
    select (select count(*) from organizations) + (select count(*) from users) + (select count(*) from annotations)
      + (select count(*) from audit_events) + (select count(*) from rate_limits) as n
  `.execute(db);
  return Number(rows[0]!.n);
}

/** Inserts an annotation and an audit event per transaction, until stopped; records what committed. */
function startWriter(on: PlatformDatabase) {
  const committed: { n: number; annotationId: number; auditId: number }[] = [];
  let stopping = false;
  const done = (async () => {
    for (let n = 1; !stopping; n++) {
      const ids = await on.transaction(
        async (trx) => {
          const a = await trx
            .insertInto('annotations')
            .values({ organization_id: organizationId, text: `writer ${n}`, tags: ['writer'] })
            .returning('id')
            .executeTakeFirstOrThrow();
          const e = await trx
            .insertInto('audit_events')
            .values({ type: 'login', result: 'success', details: JSON.stringify({ writer: n }) })
            .returning('id')
            .executeTakeFirstOrThrow();
          return { annotationId: Number(a.id), auditId: Number(e.id) };
        },
        { retry: false },
      );
      committed.push({ n, ...ids });
    }
  })();
  return {
    committed,
    async waitFor(count: number) {
      while (committed.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
    },
    async stop() {
      stopping = true;
      await done;
    },
  };
}

const figures: Record<string, string | number> = {};
let first: { backup: Backup; manifest: Manifest; restoredInto: TestDatabase };

beforeAll(async () => {
  // A minute per statement: room for the fill below and for the backups' COPY of each table.
  source = await openTestDatabase({ statementTimeoutMs: 60_000 });
  backupDir = await mkdtemp(join(tmpdir(), 'bc-backups-'));
  database = source.database;
  organizationId = randomUUID();
  otherOrganizationId = randomUUID();
  admin = user(organizationId, 'admin', 'admin');
  // An allow-listed target where nothing listens.
  restoreTargets.push(parseRestoreTargetEntry('127.0.0.1:1/none')!);
  figures.rows = await fill(database.db);
  service = buildService(database);
}, 120_000);

afterAll(async () => {
  await service?.stop();
  for (const db of scratch) await db.drop().catch(() => undefined);
  await source?.close();
  if (backupDir) await rm(backupDir, { recursive: true, force: true });
  console.log('backup figures', JSON.stringify(figures));
});

describe('backup and restore', () => {
  it('exports zeros before a first backup succeeded (a staleness alert then fires)', async () => {
    const registry = new client.Registry();
    bindBackupMetrics(registry, buildService(database));
    const text = await registry.metrics();
    expect(text).toMatch(/^backup_last_success_timestamp_seconds 0$/m);
    expect(text).toMatch(/^backup_last_duration_seconds 0$/m);
    expect(text).toMatch(/^backup_last_size_bytes 0$/m);
  });

  it('backs up while writes go on, and a fresh database restored from it holds exactly the snapshot', async () => {
    expect(figures.rows).toBeGreaterThanOrEqual(100_000);
    const writer = startWriter(database);
    await writer.waitFor(20);
    const committedBeforeStart = writer.committed.length;
    const backup = await service.create(admin, { wait: true });
    const committedAtEnd = writer.committed.length;
    await writer.waitFor(committedAtEnd + 20);
    await writer.stop();

    expect(backup).toMatchObject({ status: 'succeeded', method: 'copy', error: null });
    const row = await database.db
      .selectFrom('backups')
      .selectAll()
      .where('id', '=', backup.id)
      .executeTakeFirstOrThrow();
    const manifest = parseManifest(row.manifest);
    expect(manifest.totalRows).toBeGreaterThanOrEqual(100_000 + committedBeforeStart * 2);
    expect(manifest.tables.map((t) => t.name)).not.toContain('backups');
    expect(manifest.tables.map((t) => t.name)).not.toContain('kysely_migration');
    const latestMigration = await database.db
      .selectFrom('kysely_migration' as never)
      .select(sql<string>`max(name)`.as('name'))
      .executeTakeFirstOrThrow();
    expect(manifest.schemaVersion).toBe((latestMigration as { name: string }).name);
    expect((await stat(join(backupDir, backup.id, 'manifest.json'))).mode & 0o777).toBe(0o600);
    figures.backupUnderWritesMs = manifest.durationMs;
    figures.archiveBytes = manifest.totalBytes;
    figures.archiveRows = manifest.totalRows;

    const target = await freshDatabase();
    const restored = await service.restore(admin, {
      id: backup.id,
      targetDatabaseUrl: target.url,
      confirm: false,
    });
    expect(restored).toMatchObject({ replacedData: false, schemaVersion: manifest.schemaVersion });
    expect(restored.migrated.at(-1)).toBe(manifest.schemaVersion);
    expect(restored.target).toEqual({ host: expect.any(String), database: target.name, platform: false });
    figures.restoreMs = restored.durationMs;

    await withDatabase(target.url, async (restoredDb) => {
      // Tables nobody wrote to during the backup: identical, row for row, in key order.
      for (const table of manifest.tables) {
        if (table.name === 'annotations' || table.name === 'audit_events') continue;
        expect(await digest(restoredDb, table.name, table.primaryKey), table.name).toBe(
          await digest(database.db, table.name, table.primaryKey),
        );
      }
      // The written tables: the restore holds an id-prefix of the source, equal byte for byte to
      // the source's rows up to its largest id, hence every row committed before the snapshot
      // and none after it.
      for (const table of ['annotations', 'audit_events']) {
        const { rows } = await sql<{ max: string; n: string }>`
          select max(id)::text as max, count(*)::text as n from ${sql.table(table)}
        `.execute(restoredDb);
        const maxId = Number(rows[0]!.max);
        expect(await digest(restoredDb, table, ['id']), table).toBe(
          await digest(database.db, table, ['id'], maxId),
        );
        const sourceCount = await sql<{ n: string }>`
          select count(*)::text as n from ${sql.table(table)} where id <= ${maxId}
        `.execute(database.db);
        expect(rows[0]!.n).toBe(sourceCount.rows[0]!.n);
        const inManifest = manifest.tables.find((t) => t.name === table)!;
        expect(Number(rows[0]!.n)).toBe(inManifest.rows);
      }
      // Both rows of a writer transaction, or neither: one snapshot for every table.
      const writtenAnnotations = await sql<{ n: number }>`
        select substring(text from 8)::int as n from annotations where text like 'writer %' order by 1
      `.execute(restoredDb);
      const writtenEvents = await sql<{ n: number }>`
        select (details->>'writer')::int as n from audit_events where details ? 'writer' order by 1
      `.execute(restoredDb);
      const ns = writtenAnnotations.rows.map((r) => r.n);
      expect(writtenEvents.rows.map((r) => r.n)).toEqual(ns);
      expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => i + 1));
      expect(ns.length).toBeGreaterThanOrEqual(committedBeforeStart);
      expect(ns.length).toBeLessThanOrEqual(committedAtEnd);
      figures.writerCommitsInSnapshot = ns.length;
      figures.writerCommitsTotal = writer.committed.length;

      // Identity sequences continue after the restored ids.
      const maxAnnotation = Number(
        (await sql<{ max: string }>`select max(id)::text as max from annotations`.execute(restoredDb))
          .rows[0]!.max,
      );
      const inserted = await sql<{ id: string }>`
        insert into annotations (organization_id, text) values (${organizationId}, 'after restore') returning id
      `.execute(restoredDb);
      expect(Number(inserted.rows[0]!.id)).toBe(maxAnnotation + 1);
      await sql`delete from annotations where text = 'after restore'`.execute(restoredDb);
    });
    first = { backup, manifest, restoredInto: target };
  }, 180_000);

  it('verifies an intact archive file by file and records when', async () => {
    const started = performance.now();
    const verification = await service.verify(admin, first.backup.id);
    figures.verifyMs = Math.round(performance.now() - started);
    expect(verification.ok).toBe(true);
    expect(verification.problems).toEqual([]);
    expect(verification.files).toHaveLength(first.manifest.tables.length);
    for (const file of verification.files) {
      expect(file.ok, file.file).toBe(true);
      expect(file.actual).toEqual(file.expected);
    }
    expect((await service.get(first.backup.id)).verifiedAt).not.toBeNull();
  }, 60_000);

  it('reports the latest success through the metrics', async () => {
    const registry = new client.Registry();
    bindBackupMetrics(registry, buildService(database));
    const text = await registry.metrics();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    const latest = await database.db
      .selectFrom('backups')
      .select(['finished_at', 'size_bytes', 'duration_ms'])
      .where('status', '=', 'succeeded')
      .orderBy('finished_at', 'desc')
      .executeTakeFirstOrThrow();
    expect(value('backup_last_success_timestamp_seconds')).toBeCloseTo(
      latest.finished_at!.getTime() / 1000,
      3,
    );
    expect(value('backup_last_size_bytes')).toBe(Number(latest.size_bytes));
    expect(value('backup_last_duration_seconds')).toBeCloseTo(latest.duration_ms! / 1000, 3);
  });

  it('refuses an archive with one flipped byte, before touching the target', async () => {
    const backup = await newBackup();
    const manifest = await rowManifest(backup.id);
    const largest = [...manifest.tables].sort((a, b) => b.bytes - a.bytes)[0]!;
    const path = join(backupDir, backup.id, largest.file);
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(path, bytes);

    const verification = await service.verify(admin, backup.id);
    expect(verification.ok).toBe(false);
    const damaged = verification.files.filter((f) => !f.ok);
    expect(damaged.map((f) => f.table)).toEqual([largest.name]);
    expect(damaged[0]!.problems.join(' ')).toMatch(/^tampered: chunk \d+ failed authentication/);

    const target = await freshDatabase();
    const before = await fingerprint(target.url);
    const refused = await refusal(
      service.restore(admin, { id: backup.id, targetDatabaseUrl: target.url, confirm: true }),
    );
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toMatch(/damaged/);
    expect(await fingerprint(target.url)).toBe(before);
    // Refused before any connection: a target that does not even exist gets the same answer.
    const nowhere = await refusal(
      service.restore(admin, {
        id: backup.id,
        targetDatabaseUrl: 'postgres://nobody@127.0.0.1:1/none',
        confirm: true,
      }),
    );
    expect(nowhere.message).toMatch(/damaged/);
  }, 120_000);

  it('refuses a truncated archive, leaving a non-empty target as it was', async () => {
    const backup = await newBackup();
    const manifest = await rowManifest(backup.id);
    const largest = [...manifest.tables].sort((a, b) => b.bytes - a.bytes)[0]!;
    await truncate(join(backupDir, backup.id, largest.file), Math.floor(largest.bytes / 2));

    const verification = await service.verify(admin, backup.id);
    expect(verification.ok).toBe(false);
    expect(verification.files.find((f) => f.table === largest.name)!.problems.join(' ')).toMatch(
      /^truncated: the file ends after \d+ of \d+ bytes/,
    );

    const target = first.restoredInto;
    const before = await fingerprint(target.url);
    const refused = await refusal(
      service.restore(admin, { id: backup.id, targetDatabaseUrl: target.url, confirm: true }),
    );
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toMatch(/damaged/);
    expect(await fingerprint(target.url)).toBe(before);
  }, 120_000);

  it('refuses a non-empty target without confirmation, and replaces its data with it', async () => {
    const target = first.restoredInto;
    await withDatabase(target.url, (db) =>
      sql`insert into annotations (organization_id, text) values (${organizationId}, 'only in the target')`.execute(
        db,
      ),
    );
    const before = await fingerprint(target.url);
    const refused = await refusal(
      service.restore(admin, { id: first.backup.id, targetDatabaseUrl: target.url, confirm: false }),
    );
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toMatch(/holds data .*confirm/);
    expect(await fingerprint(target.url)).toBe(before);

    const restored = await service.restore(admin, {
      id: first.backup.id,
      targetDatabaseUrl: target.url,
      confirm: true,
    });
    expect(restored).toMatchObject({ replacedData: true, migrated: [] });
    figures.restoreReplacingMs = restored.durationMs;
    await withDatabase(target.url, async (db) => {
      const stray = await sql<{ n: string }>`
        select count(*)::text as n from annotations where text = 'only in the target'
      `.execute(db);
      expect(stray.rows[0]!.n).toBe('0');
      const annotations = first.manifest.tables.find((t) => t.name === 'annotations')!;
      const count = await sql<{ n: string }>`select count(*)::text as n from annotations`.execute(db);
      expect(Number(count.rows[0]!.n)).toBe(annotations.rows);
    });
  }, 120_000);

  it('rolls back a restore that fails mid-way: the target is unchanged', async () => {
    const backup = await newBackup();
    const manifest = await rowManifest(backup.id);
    // The last table loaded that has rows: every table before it is truncated and loaded first.
    const victim = [...manifest.tables].reverse().find((t) => t.rows > 0)!;
    expect(manifest.tables.indexOf(victim)).toBeGreaterThan(2);
    const path = join(backupDir, backup.id, victim.file);
    const lines = (await readRows(await readFile(path), manifest, kek, victim)).split('\n');
    lines[0] = `${lines[0]}\tan extra column`;
    const damaged = await writeRows(lines.join('\n'), manifest, kek, victim);
    await writeFile(path, damaged.stored);
    // Checksums (and the manifest's MAC) that match again: verification passes, and only the load
    // itself can fail.
    const rewritten = resealed(
      { ...manifest, tables: manifest.tables.map((t) => (t === victim ? damaged.entry : t)) },
      kek,
    );
    await writeFile(join(backupDir, backup.id, 'manifest.json'), JSON.stringify(rewritten));
    await database.db
      .updateTable('backups')
      .set({ manifest: JSON.stringify(rewritten) })
      .where('id', '=', backup.id)
      .execute();
    expect((await service.verify(admin, backup.id)).ok).toBe(true);

    const target = first.restoredInto;
    const before = await fingerprint(target.url);
    const failed = await refusal(
      service.restore(admin, { id: backup.id, targetDatabaseUrl: target.url, confirm: true }),
    );
    expect(failed.code).toBe('CONFLICT');
    expect(failed.message).toMatch(new RegExp(`rolled back.*loading ${victim.name} failed`));
    expect(await fingerprint(target.url)).toBe(before);

    // And into a fresh database: the migrations it ran are undone too.
    const fresh = await freshDatabase();
    const empty = await fingerprint(fresh.url);
    await refusal(service.restore(admin, { id: backup.id, targetDatabaseUrl: fresh.url, confirm: false }));
    expect(await fingerprint(fresh.url)).toBe(empty);
  }, 120_000);

  it('rolls back a restore into a target whose table lacks a column', async () => {
    const target = await freshDatabase();
    await withDatabase(target.url, async (db) => {
      await migrateToLatest(db);
      await sql`alter table annotations drop column idempotency_key`.execute(db);
      await sql`insert into organizations (id, name) values (${organizationId}, 'Target Org')`.execute(db);
      await sql`insert into annotations (organization_id, text) values (${organizationId}, 'kept')`.execute(
        db,
      );
    });
    const before = await fingerprint(target.url);
    const failed = await refusal(
      service.restore(admin, { id: first.backup.id, targetDatabaseUrl: target.url, confirm: true }),
    );
    expect(failed.message).toMatch(/annotations lacks column\(s\) idempotency_key/);
    expect(await fingerprint(target.url)).toBe(before);
  }, 60_000);

  it('refuses a target whose schema is newer than the archive', async () => {
    const target = await freshDatabase();
    await withDatabase(target.url, (db) => migrateToLatest(db));
    // An archive that says it was taken at the first migration (sealed again with its key: an
    // edited manifest is otherwise refused as tampered before anything else is looked at).
    const backup = await newBackup();
    const manifest = await rowManifest(backup.id);
    const older = resealed({ ...manifest, schemaVersion: '2026-11-25T00-00-00_initial' }, kek);
    await writeFile(join(backupDir, backup.id, 'manifest.json'), JSON.stringify(older));
    await database.db
      .updateTable('backups')
      .set({ manifest: JSON.stringify(older) })
      .where('id', '=', backup.id)
      .execute();
    const before = await fingerprint(target.url);
    const refused = await refusal(
      service.restore(admin, { id: backup.id, targetDatabaseUrl: target.url, confirm: true }),
    );
    expect(refused.message).toMatch(/newer than the archive's/);
    expect(await fingerprint(target.url)).toBe(before);
  }, 60_000);

  it('refuses a second backup while one runs, on any instance', async () => {
    const holder = await DedicatedConnection.open(source.url, 'test-holder');
    try {
      expect(await holder.tryLock(BACKUP_LOCK)).toBe(true);
      const refused = await refusal(buildService(source.open()).create(admin, { wait: true }));
      expect(refused.code).toBe('CONFLICT');
      // And interrupted-backup recovery keeps its hands off while someone holds the lock.
      await database.db
        .insertInto('backups')
        .values({
          id: randomUUID(),
          organization_id: organizationId,
          status: 'running',
          path: join(backupDir, 'x'),
        })
        .execute();
      expect(await service.recoverInterrupted()).toEqual({ failed: [], removed: [] });
    } finally {
      await holder.close();
    }
    await mkdir(join(backupDir, '.partial-leftover'));
    const recovered = await service.recoverInterrupted();
    expect(recovered.failed).toHaveLength(1);
    expect(recovered.removed).toEqual(['.partial-leftover']);
    const failed = await database.db
      .selectFrom('backups')
      .selectAll()
      .where('id', '=', recovered.failed[0]!)
      .executeTakeFirstOrThrow();
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted/) });
  }, 60_000);

  it("restores into the platform's own database only with confirmation and in maintenance", async () => {
    const { backup, manifest } = first;
    inMaintenance = false;
    expect((await refusal(service.restore(admin, { id: backup.id, confirm: false }))).message).toMatch(
      /confirm/,
    );
    expect((await refusal(service.restore(admin, { id: backup.id, confirm: true }))).message).toMatch(
      /maintenance/,
    );

    const backupsBefore = await database.db.selectFrom('backups').select('id').orderBy('id').execute();
    inMaintenance = true;
    const restored = await service.restore(admin, { id: backup.id, confirm: true });
    inMaintenance = false;
    expect(restored).toMatchObject({ replacedData: true, migrated: [], target: { platform: true } });
    figures.restoreOwnDatabaseMs = restored.durationMs;
    // The writer's later rows are gone: the database is as the snapshot was.
    const annotations = await database.db
      .selectFrom('annotations')
      .select(sql<string>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(annotations.n)).toBe(manifest.tables.find((t) => t.name === 'annotations')!.rows);
    // The bookkeeping of the archives is not part of them and survives.
    expect(await database.db.selectFrom('backups').select('id').orderBy('id').execute()).toEqual(
      backupsBefore,
    );
    const event = await database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'backup_restored')
      .where('result', '=', 'success')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    // The platform's event: in the platform's log, the actor's organization only in its details.
    expect(event).toMatchObject({ target_id: backup.id, organization_id: null, scope: 'platform' });
    expect(event.details).toMatchObject({
      target: { platform: true },
      replacedData: true,
      actorOrganizationId: organizationId,
    });
    expect(JSON.stringify(event.details)).not.toContain('password');
  }, 120_000);
});

describe('devops.backups procedures', () => {
  afterAll(closeRouterDeps);
  // The app's router over its own dependencies (maintenance off), with this file's backup service in place.
  const callerFor = (principal: Principal) =>
    createCallerFactory(appRouter)(
      routerContext(
        principal,
        routerDeps((deps) => ({ devops: { ...deps.devops, backups: service } })),
      ),
    ).devops;
  async function codeOf(call: Promise<unknown>): Promise<string> {
    try {
      await call;
    } catch (error) {
      if (error instanceof TRPCError) return error.code;
      throw error;
    }
    return 'OK';
  }

  it('lets platform operators back up, list, read and verify; only platform admins delete, restore and schedule', async () => {
    const operator = callerFor(user(organizationId, 'viewer', 'operator'));
    // An organization's admin without a platform role: a tenant, whatever his role there.
    const tenantAdmin = callerFor(user(organizationId, 'admin', null));
    const adminCaller = callerFor(admin);

    expect(await codeOf(tenantAdmin.backups.list())).toBe('FORBIDDEN');
    const started = await operator.backups.create({ wait: false });
    expect(started.status).toBe('running');
    await service.stop();
    const done = await operator.backups.get({ id: started.id });
    expect(done.status).toBe('succeeded');
    expect((await operator.backups.list({ limit: 100 })).items.map((b) => b.id)).toContain(started.id);
    expect((await operator.backups.verify({ id: started.id })).ok).toBe(true);
    // An intact archive and an allow-listed target nobody answers at: our words, not the driver's.
    const unreachable = await adminCaller.backups
      .restore({
        id: started.id,
        targetDatabaseUrl: 'postgres://nobody:secret@127.0.0.1:1/none',
        confirm: true,
      })
      .catch((e) => e);
    expect(unreachable).toBeInstanceOf(TRPCError);
    expect(unreachable.code).toBe('BAD_REQUEST');
    expect(unreachable.message).toBe('the restore target could not be reached');

    expect(await codeOf(operator.backups.delete({ id: started.id }))).toBe('FORBIDDEN');
    expect(await codeOf(operator.backups.restore({ id: started.id, confirm: true }))).toBe('FORBIDDEN');
    expect(await codeOf(operator.backups.schedules.create({ cron: '@daily' }))).toBe('FORBIDDEN');
    expect(
      await codeOf(
        adminCaller.backups.restore({ id: started.id, targetDatabaseUrl: 'http://x/y', confirm: true }),
      ),
    ).toBe('BAD_REQUEST');

    const schedule = await adminCaller.backups.schedules.create({ cron: '0 3 * * *', retentionCount: 7 });
    expect(schedule).toMatchObject({
      cron: '0 3 * * *',
      retentionCount: 7,
      retentionDays: null,
      enabled: true,
    });
    expect(new Date(schedule.nextRunAt).getUTCHours()).toBe(3);
    expect(await codeOf(adminCaller.backups.schedules.create({ cron: '0 0 30 2 *' }))).toBe('BAD_REQUEST');
    expect(await codeOf(adminCaller.backups.schedules.create({ cron: '61 * * * *' }))).toBe('BAD_REQUEST');
    const updated = await adminCaller.backups.schedules.update({
      id: schedule.id,
      enabled: false,
      retentionDays: 30,
    });
    expect(updated).toMatchObject({ enabled: false, retentionDays: 30, retentionCount: 7 });
    expect((await operator.backups.schedules.list()).map((s) => s.id)).toContain(schedule.id);
    await adminCaller.backups.schedules.delete({ id: schedule.id });

    await adminCaller.backups.delete({ id: started.id });
    expect(await codeOf(operator.backups.get({ id: started.id }))).toBe('NOT_FOUND');
    await expect(stat(join(backupDir, started.id))).rejects.toThrow(/ENOENT/);

    const events = await database.db
      .selectFrom('audit_events')
      .select(['type', 'result', 'scope', 'organization_id'])
      .where('target_id', 'in', [started.id, schedule.id])
      .orderBy('id')
      .execute();
    expect(events.map(({ type, result }) => ({ type, result }))).toEqual([
      { type: 'backup_created', result: 'success' },
      { type: 'backup_verified', result: 'success' },
      { type: 'backup_restored', result: 'failure' },
      { type: 'backup_schedule_created', result: 'success' },
      { type: 'backup_schedule_updated', result: 'success' },
      { type: 'backup_schedule_deleted', result: 'success' },
      { type: 'backup_deleted', result: 'success' },
    ]);
    // In the platform's log, not in the organization of whoever asked.
    for (const event of events) expect(event).toMatchObject({ scope: 'platform', organization_id: null });
  }, 120_000);

  it('shows every backup and schedule to platform roles, whichever organization they are in', async () => {
    const elsewhere = callerFor(user(otherOrganizationId, 'viewer', 'admin'));
    const mine = await newBackup();
    const schedule = await service.schedules.create(admin, {
      cron: '@daily',
      retentionCount: null,
      retentionDays: null,
      enabled: false,
    });
    expect(await elsewhere.backups.get({ id: mine.id })).toMatchObject({
      id: mine.id,
      createdBy: admin.userId,
    });
    expect((await elsewhere.backups.list({ limit: 100 })).items.map((b) => b.id)).toContain(mine.id);
    expect((await elsewhere.backups.verify({ id: mine.id })).ok).toBe(true);
    expect((await elsewhere.backups.schedules.list()).map((s) => s.id)).toContain(schedule.id);
    expect(await elsewhere.backups.schedules.update({ id: schedule.id, retentionCount: 3 })).toMatchObject({
      retentionCount: 3,
    });
    await elsewhere.backups.schedules.delete({ id: schedule.id });
    // Who asked is still recorded in the row, without being a filter.
    const row = await database.db
      .selectFrom('backups')
      .select(['organization_id', 'created_by'])
      .where('id', '=', mine.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ organization_id: organizationId, created_by: admin.userId });
  });

  it('pages through every backup, and answers a cursor naming no backup with an empty page', async () => {
    const operator = callerFor(user(otherOrganizationId, 'viewer', 'operator'));
    const all = await database.db.selectFrom('backups').select('id').execute();
    expect(all.length).toBeGreaterThan(2);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await operator.backups.list({ limit: 2, cursor });
      seen.push(...page.items.map((b) => b.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen.sort()).toEqual(all.map((b) => b.id).sort());
    expect((await operator.backups.list({ limit: 2, cursor: randomUUID() })).items).toEqual([]);
    for (const bad of ['', 'not-a-uuid', `${randomUUID()}x`, '\u0000', 'x'.repeat(10_000)]) {
      expect(await codeOf(operator.backups.list({ limit: 2, cursor: bad }))).toBe('BAD_REQUEST');
    }
  });
});

describe('restore targets', () => {
  /** What a refused or failed restore answered, and what the logs say about it. */
  async function answerOf(targetDatabaseUrl: string): Promise<{ code: string; message: string }> {
    const error = await refusal(
      service.restore(admin, { id: first.backup.id, targetDatabaseUrl, confirm: true }),
    );
    return { code: error.code, message: error.message };
  }

  it('refuses a target off the allow-list before any connection, and any parameter that could move it', async () => {
    const trap = await listeningTrap();
    const source = new URL(first.restoredInto.url);
    try {
      const before = await fingerprint(source.toString());
      const offList = [
        `postgres://postgres:x@127.0.0.1:${trap.port}/postgres`,
        // The allow-listed server, spelled another way, or another database on it, or port.
        `postgres://postgres:x@localhost:${source.port}/${first.restoredInto.name}`,
        `postgres://postgres:x@[::1]:${source.port}/${first.restoredInto.name}`,
        `postgres://postgres:x@127.0.0.1:${source.port}/postgres`,
        `postgres://postgres:x@127.0.0.1:${trap.port}/${first.restoredInto.name}`,
      ];
      for (const url of offList) {
        expect(await answerOf(url), url).toEqual({
          code: 'FORBIDDEN',
          message:
            'the restore target is not on the allow-list: an operator adds its host:port/database to BACKUP_RESTORE_TARGETS',
        });
      }
      // An allow-listed URL whose parameters would send the driver elsewhere (node-postgres obeys
      // host and port in the query string) or make it read the server's files.
      const allowed = new URL(first.restoredInto.url);
      for (const query of [
        `host=127.0.0.1&port=${trap.port}`,
        `port=${trap.port}`,
        'sslrootcert=/etc/passwd',
        'options=-c%20search_path%3Devil',
      ]) {
        allowed.search = query;
        const answer = await answerOf(allowed.toString());
        expect(answer.code, query).toBe('BAD_REQUEST');
        expect(answer.message).toBe('the target URL may carry no parameter but sslmode');
      }
      expect(trap.connections()).toBe(0);
      expect(await fingerprint(source.toString())).toBe(before);
      const refusals = await database.db
        .selectFrom('audit_events')
        .select(['scope', 'result', 'details'])
        .where('type', '=', 'backup_restored')
        .where(sql<boolean>`details->>'refused' is not null`)
        .execute();
      expect(refusals.length).toBeGreaterThanOrEqual(offList.length + 4);
      for (const event of refusals) expect(event).toMatchObject({ scope: 'platform', result: 'failure' });
    } finally {
      await trap.close();
    }
  }, 60_000);

  it('gives one answer for a closed port, a silent server, a wrong password and a missing database', async () => {
    const lines: Record<string, unknown>[] = [];
    const logged = buildService(database, {
      logger: createLogger({
        level: 'warn',
        destination: new Writable({
          write(chunk, _encoding, done) {
            for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
            done();
          },
        }),
      }),
    });
    const trap = await listeningTrap();
    const closedPort = await freePort();
    const server = new URL(first.restoredInto.url);
    const wrongPassword = new URL(first.restoredInto.url);
    wrongPassword.password = 'not-the-password';
    const missing = new URL(first.restoredInto.url);
    missing.pathname = '/no_such_database';
    const cases = {
      closedPort: `postgres://postgres:x@127.0.0.1:${closedPort}/restore_here`,
      // Accepts the connection and never answers, as a filtering firewall's black hole would not
      // even do: the driver's connect timeout ends it.
      silentServer: `postgres://postgres:x@127.0.0.1:${trap.port}/restore_here`,
      wrongPassword: wrongPassword.toString(),
      missingDatabase: missing.toString(),
    };
    restoreTargets.push(
      parseRestoreTargetEntry(`127.0.0.1:${closedPort}/restore_here`)!,
      parseRestoreTargetEntry(`127.0.0.1:${trap.port}/restore_here`)!,
      parseRestoreTargetEntry(`${server.hostname}:${server.port}/no_such_database`)!,
    );
    try {
      const before = await fingerprint(first.restoredInto.url);
      const answers: Record<string, unknown> = {};
      for (const [name, url] of Object.entries(cases)) {
        const error = await refusal(
          logged.restore(admin, { id: first.backup.id, targetDatabaseUrl: url, confirm: true }),
        );
        answers[name] = { code: error.code, message: error.message };
      }
      const one = { code: 'BAD_REQUEST', message: 'the restore target could not be reached' };
      expect(answers).toEqual({
        closedPort: one,
        silentServer: one,
        wrongPassword: one,
        missingDatabase: one,
      });
      expect(await fingerprint(first.restoredInto.url)).toBe(before);
      // The causes are in the server's log, for the operator.
      const causes = lines
        .filter((line) => line.msg === 'restore target could not be reached')
        .map((line) => JSON.stringify(line.err));
      expect(causes).toHaveLength(4);
      expect(causes.join('\n')).toMatch(/ECONNREFUSED/);
      expect(causes.join('\n')).toMatch(/password authentication failed/);
      expect(causes.join('\n')).toMatch(/no_such_database/);
      // And not in the audit log, which platform admins read back.
      const recent = await database.db
        .selectFrom('audit_events')
        .select('details')
        .where('type', '=', 'backup_restored')
        .orderBy('id', 'desc')
        .limit(4)
        .execute();
      for (const event of recent) {
        expect(event.details).toMatchObject({ error: 'the restore target could not be reached' });
        expect(JSON.stringify(event.details)).not.toMatch(/ECONNREFUSED|password|no_such_database.*exist/);
      }
    } finally {
      await trap.close();
    }
  }, 60_000);
});

describe('platform scope over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  /** Calls a procedure as a client does (queries by GET, mutations by POST). */
  const call = (path: string, input: unknown, headers: Record<string, string>) =>
    callProcedure(t.app, path, procedureAt(path).type, input, headers);

  /** Everything a backup procedure could change: rows, archives on disk, backup audit events. */
  async function backupState() {
    const db = t.deps.database.db;
    return {
      backups: await db.selectFrom('backups').selectAll().orderBy('id').execute(),
      schedules: await db.selectFrom('backup_schedules').selectAll().orderBy('id').execute(),
      archives: (await readdir(t.deps.config.BACKUP_DIR!)).sort(),
      events: await db
        .selectFrom('audit_events')
        .select(['id', 'type'])
        .where('type', 'like', 'backup%')
        .orderBy('id')
        .execute(),
    };
  }

  it("answers FORBIDDEN to a tenant's admin, operator and keys on every devops.backups procedure, changing nothing", async () => {
    const made = await call('devops.backups.create', { wait: true }, t.admin);
    expect(made).toMatchObject({ status: 200, data: { status: 'succeeded' } });
    const schedule = await call(
      'devops.backups.schedules.create',
      { cron: '@daily', enabled: false },
      t.admin,
    );
    expect(schedule.status).toBe(200);

    const tenantAdmin = await createOrganization(t);
    const tenantOperator = await createUser(t, 'operator', tenantAdmin);
    const callers = {
      adminSession: (await login(t, tenantAdmin)).headers,
      adminKey: (await createApiKey(t, tenantAdmin)).headers,
      operatorSession: (await login(t, tenantOperator)).headers,
      operatorKey: (await createApiKey(t, tenantOperator)).headers,
    };
    const backupId: string = made.data.id;
    const scheduleId: string = schedule.data.id;
    // Inputs that a platform admin's call would act on: real ids, the platform's own database.
    const inputs: Record<string, unknown> = {
      'devops.backups.create': { wait: true },
      'devops.backups.list': { limit: 10 },
      'devops.backups.get': { id: backupId },
      'devops.backups.verify': { id: backupId },
      'devops.backups.delete': { id: backupId },
      'devops.backups.restore': { id: backupId, confirm: true },
      'devops.backups.schedules.list': undefined,
      'devops.backups.schedules.create': { cron: '@hourly' },
      'devops.backups.schedules.update': { id: scheduleId, enabled: true },
      'devops.backups.schedules.delete': { id: scheduleId },
      'devops.backups.pointInTime.status': undefined,
      'devops.backups.pointInTime.baseBackup': undefined,
    };
    const paths = PROCEDURES.map((p) => p.path).filter((path) => path.startsWith('devops.backups.'));
    expect(paths.sort()).toEqual(Object.keys(inputs).sort());

    const before = await backupState();
    for (const [caller, headers] of Object.entries(callers)) {
      for (const path of paths) {
        const answer = await call(path, inputs[path], headers);
        expect({ caller, path, status: answer.status, code: answer.code }).toEqual({
          caller,
          path,
          status: 403,
          code: 'FORBIDDEN',
        });
      }
    }
    expect(await backupState()).toEqual(before);
    // The platform's admin still sees and acts on them.
    expect((await call('devops.backups.get', { id: backupId }, t.admin)).data).toMatchObject({
      id: backupId,
    });
    expect((await call('devops.backups.verify', { id: backupId }, t.admin)).data).toMatchObject({ ok: true });
  }, 120_000);
});

describe('backup schedules', () => {
  it('fires a due schedule once across two instances, then applies retention', async () => {
    // Yearly: once claimed, the next run is months away, whatever the minute the test runs in.
    const schedule = await service.schedules.create(admin, {
      cron: '0 0 1 1 *',
      retentionCount: 2,
      retentionDays: null,
      enabled: true,
    });
    const instances = [0, 1].map(() => {
      const on = source.open();
      const backups = buildService(on);
      return new BackupScheduler({ database: on, backups, schedules: backups.schedules, logger });
    });
    const makeDue = () =>
      database.db
        .updateTable('backup_schedules')
        .set({ next_run_at: new Date(Date.now() - 60_000) })
        .where('id', '=', schedule.id)
        .execute();
    const scheduled = () =>
      database.db
        .selectFrom('backups')
        .select(['id', 'status', 'path'])
        .where('schedule_id', '=', schedule.id)
        .orderBy('created_at')
        .execute();

    await makeDue();
    const rounds = await Promise.all(instances.map((s) => s.runDue()));
    expect(rounds.flatMap((r) => r.backups)).toHaveLength(1);
    expect(await scheduled()).toHaveLength(1);
    const claimed = await database.db
      .selectFrom('backup_schedules')
      .selectAll()
      .where('id', '=', schedule.id)
      .executeTakeFirstOrThrow();
    expect(claimed.last_run_at).not.toBeNull();
    expect(claimed.next_run_at.getTime()).toBeGreaterThan(Date.now());
    // Not due any more: another round starts nothing.
    expect((await instances[1]!.runDue()).backups).toEqual([]);

    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      await makeDue();
      const round = await instances[i % 2]!.runDue();
      made.push(...round.backups);
    }
    const kept = await scheduled();
    expect(kept.map((b) => b.id)).toEqual(made.slice(-2));
    for (const backup of kept) expect((await stat(backup.path)).isDirectory()).toBe(true);
    const deletedEvents = await database.db
      .selectFrom('audit_events')
      .select(['target_id', 'details'])
      .where('type', '=', 'backup_deleted')
      .where(sql<boolean>`details->>'reason' = 'retention'`)
      .execute();
    expect(deletedEvents).toHaveLength(2);
    for (const event of deletedEvents) {
      await expect(stat(join(backupDir, event.target_id!))).rejects.toThrow(/ENOENT/);
    }
  }, 180_000);
});

async function rowManifest(id: string): Promise<Manifest> {
  const row = await database.db
    .selectFrom('backups')
    .select('manifest')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return parseManifest(row.manifest);
}
