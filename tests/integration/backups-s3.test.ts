import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import type { Database } from '../../db/database';
import type { Actor } from '../../server/base/actor';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { PlatformError } from '../../server/base/errors';
import { createLogger } from '../../server/base/logger';
import { createMetrics } from '../../server/base/metrics/metrics';
import { backupsComponent } from '../../server/services/backups/component';
import { type Manifest, parseManifest } from '../../server/services/backups/manifest';
import { BackupScheduler } from '../../server/services/backups/scheduler';
import { BackupService } from '../../server/services/backups/service';
import { parseRestoreTargetEntry, type RestoreTargetAddress } from '../../shared/devops-backups';
import { plainGzip } from '../helpers/backup-archives';
import {
  createTestDatabase,
  type OpenedTestDatabase,
  openTestDatabase,
  type TestDatabase,
} from '../helpers/database';
import { cuttingProxy, startS3Server, type TestS3 } from '../helpers/s3-server';
import { archivedTables, snapshotTables, tableDiff, withDatabase } from '../helpers/table-diff';

/**
 * Backups in S3-compatible object storage, against a real S3-protocol server (s3rver) running in
 * the test: encrypted archives uploaded (multipart for large files), listed, verified and
 * restored from the bucket; an upload cut off mid-way leaves no listed backup; a flipped byte in
 * the bucket is refused by verify and restore; retention deletes objects in the bucket; archives
 * of older releases (unencrypted, format 1) still verify and restore.
 */

const logger = createLogger({ level: 'silent' });
const metrics = createMetrics({ build: readBuildInfo(), defaultMetrics: false });
const kek = new Uint8Array(randomBytes(32));
const cleanUps: (() => Promise<unknown>)[] = [];
const restoreTargets: RestoreTargetAddress[] = [];

let s3: TestS3;
let source: OpenedTestDatabase;
let service: BackupService;
let organizationId: string;
let admin: Actor;

function platformAdmin(orgId: string): Actor {
  return {
    kind: 'user',
    userId: randomUUID(),
    organizationId: orgId,
    role: 'admin',
    platformRole: 'admin',
    sessionId: 'test',
  };
}

async function scratchDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'bc-s3-backups-'));
  cleanUps.push(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

async function build(
  database: PlatformDatabase,
  databaseUrl: string,
  overrides: Partial<ConstructorParameters<typeof BackupService>[0]> = {},
): Promise<BackupService> {
  const built = new BackupService({
    database,
    databaseUrl,
    directory: await scratchDirectory(),
    audit: new AuditLog(metrics),
    logger,
    kek,
    s3: s3.settings('install-a/'),
    restoreTargets,
    ...overrides,
  });
  cleanUps.push(() => built.stop());
  return built;
}

/** A fresh database allow-listed as a restore target. */
async function freshTarget(): Promise<TestDatabase> {
  const created = await createTestDatabase();
  cleanUps.push(() => created.drop());
  const url = new URL(created.url);
  restoreTargets.push(parseRestoreTargetEntry(`${url.hostname}:${url.port}${url.pathname}`)!);
  return created;
}

async function refusal(call: Promise<unknown>): Promise<PlatformError> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

async function recorded(database: PlatformDatabase, id: string): Promise<Manifest> {
  const row = await database.db
    .selectFrom('backups')
    .select('manifest')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return parseManifest(row.manifest);
}

/** Organizations, users, annotations with text COPY must escape, audit events: ~30k rows. */
async function fill(db: Kysely<Database>, orgId: string, annotations = 20_000): Promise<void> {
  await sql`insert into organizations (id, name) values (${orgId}, 'S3 Org')`.execute(db);
  await sql`
    insert into users (organization_id, email, name, password_hash, role)
    select ${orgId}, 'user' || i || '@s3.test', E'Ünïcödé \\ name\t' || i, '$scrypt$ln=10,r=8,p=1$x$y', 'viewer'
    from generate_series(1, 300) i
  `.execute(db);
  await sql`
    insert into annotations (organization_id, text, tags)
    select ${orgId}, E'note ' || i || E'\twith a tab\nand a newline — ' || md5(i::text) || md5((i * 7)::text),
      array['tag' || (i % 7)]
    from generate_series(1, ${annotations}) i
  `.execute(db);
  await sql`
    insert into audit_events (organization_id, type, result, details)
    select ${orgId}, 'login', 'success', jsonb_build_object('i', i) from generate_series(1, 10000) i
  `.execute(db);
}

beforeAll(async () => {
  s3 = await startS3Server();
  cleanUps.push(() => s3.close());
  source = await openTestDatabase();
  cleanUps.push(() => source.close());
  organizationId = randomUUID();
  admin = platformAdmin(organizationId);
  await fill(source.database.db, organizationId);
  service = await build(source.database, source.url);
}, 120_000);

afterAll(async () => {
  for (const cleanUp of cleanUps.reverse()) await cleanUp().catch(() => undefined);
});

describe('backups in an S3 bucket', () => {
  it('uploads an encrypted archive, manifest last, and verifies and restores it from the bucket', async () => {
    const before = await snapshotTables(source.url, await archivedTables(source.url));
    const backup = await service.create(admin, { wait: true });
    expect(backup.status, backup.error ?? '').toBe('succeeded');
    expect(backup.path).toBe(`s3://${s3.bucket}/install-a/${backup.id}`);
    const manifest = await recorded(source.database, backup.id);
    expect(manifest).toMatchObject({ format: 2, encryption: { scheme: 'aes-256-gcm-stream-64k' } });
    expect(await s3.keys(`install-a/${backup.id}/`)).toEqual(
      [
        ...manifest.tables.map((t) => `install-a/${backup.id}/${t.file}`),
        `install-a/${backup.id}/manifest.json`,
      ].sort(),
    );
    // Nothing in the bucket is readable without the key: no gzip header, no text of the rows.
    const annotations = manifest.tables.find((t) => t.name === 'annotations')!;
    const bytes = await s3.read(`install-a/${backup.id}/${annotations.file}`);
    expect(bytes.length).toBe(annotations.bytes);
    expect(bytes.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false);
    expect(bytes.includes('with a tab')).toBe(false);

    const verification = await service.verify(admin, backup.id);
    expect(verification.ok, JSON.stringify(verification.problems)).toBe(true);
    expect(verification.files.every((f) => f.ok)).toBe(true);

    const target = await freshTarget();
    const restored = await service.restore(admin, {
      id: backup.id,
      targetDatabaseUrl: target.url,
      confirm: false,
    });
    expect(restored.tables.reduce((sum, t) => sum + t.rows, 0)).toBe(manifest.totalRows);
    expect(manifest.tables.map((t) => t.name).sort()).toEqual([...before.keys()].sort());
    const diff = await tableDiff(before, target.url);
    expect(diff.differing).toEqual({});
    expect(diff.differences).toBe(0);
    console.info(
      `[s3] backup ${backup.sizeBytes} bytes, ${manifest.totalRows} rows in ${backup.durationMs} ms; ` +
        `verified in ${verification.durationMs} ms; restored in ${restored.durationMs} ms; ` +
        `${diff.tables} tables, ${diff.rows} rows compared, ${diff.differences} differences`,
    );
  }, 120_000);

  it('refuses an archive with a byte flipped in the bucket, in verify and in restore, before touching the target', async () => {
    const backup = await service.create(admin, { wait: true });
    const manifest = await recorded(source.database, backup.id);
    const largest = [...manifest.tables].sort((a, b) => b.bytes - a.bytes)[0]!;
    await s3.flipByte(`install-a/${backup.id}/${largest.file}`);

    const verification = await service.verify(admin, backup.id);
    expect(verification.ok).toBe(false);
    const damaged = verification.files.filter((f) => !f.ok);
    expect(damaged.map((f) => f.table)).toEqual([largest.name]);
    expect(damaged[0]!.problems[0]).toMatch(/^tampered: chunk \d+ failed authentication/);

    const target = await freshTarget();
    const refused = await refusal(
      service.restore(admin, { id: backup.id, targetDatabaseUrl: target.url, confirm: true }),
    );
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toMatch(/the archive is damaged: .*tampered: chunk \d+ failed authentication/);
    // Refused before the target was touched: not even the schema was made.
    expect(await listTables(target.url)).toEqual([]);
  }, 120_000);

  it('refuses a manifest edited in the bucket: its MAC no longer matches', async () => {
    const backup = await service.create(admin, { wait: true });
    const manifest = await recorded(source.database, backup.id);
    const key = `install-a/${backup.id}/manifest.json`;
    await s3.rewrite(key, JSON.stringify({ ...manifest, totalRows: manifest.totalRows + 1 }));

    const verification = await service.verify(admin, backup.id);
    expect(verification.ok).toBe(false);
    expect(verification.problems).toContain('manifest.json differs from the recorded manifest');

    // A new machine finding it in the bucket does not record it.
    const elsewhere = await openTestDatabase();
    cleanUps.push(() => elsewhere.close());
    const found = await (await build(elsewhere.database, elsewhere.url)).importStored();
    expect(found.imported).not.toContain(backup.id);
    expect(found.refused).toContainEqual({
      location: backup.path,
      reason: 'tampered: the manifest does not match its MAC',
    });
  }, 120_000);

  it('leaves no listed backup when the upload is cut off mid-file, and the next start removes what it left', async () => {
    const big = await openTestDatabase();
    cleanUps.push(() => big.close());
    const orgId = randomUUID();
    await fill(big.database.db, orgId, 0);
    // ~40 MB of hex text, ~20 MB compressed: the annotations file goes up as a multipart upload
    // of 8 MiB parts, cut off in its second part.
    await sql`
      insert into annotations (organization_id, text)
      select ${orgId}, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text) || md5((i * 17)::text)
        || md5((i * 19)::text) || md5((i * 23)::text) || md5((i * 29)::text) || md5((i * 31)::text)
      from generate_series(1, 160000) i
    `.execute(big.database.db);
    const limit = 12 * 1024 * 1024;
    const proxy = await cuttingProxy(s3.endpoint, limit);
    cleanUps.push(() => proxy.close());
    const cutOff = await build(big.database, big.url, { s3: s3.settings('install-cut/', proxy.endpoint) });

    const failed = await cutOff.create(platformAdmin(orgId), { wait: true });
    expect(proxy.cut()).toBe(true);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/^archive write failed: /);
    // Whatever reached the bucket, no manifest did: it is not a backup anywhere.
    const left = await s3.keys('install-cut/');
    expect(left).not.toContain(`install-cut/${failed.id}/manifest.json`);
    // The large file was going up in parts when the connection was cut: it never became an object.
    const unfinished = (await s3.unfinishedUploads()).filter((u) =>
      u.key.startsWith(`install-cut/${failed.id}/`),
    );
    expect(unfinished).toHaveLength(1);
    expect(unfinished[0]!.key).toMatch(/-annotations\.copy\.gz$/);
    expect(unfinished[0]!.parts).toBeGreaterThanOrEqual(1);
    expect(left).not.toContain(unfinished[0]!.key);
    const direct = await build(big.database, big.url, { s3: s3.settings('install-cut/') });
    expect((await direct.importStored()).imported).toEqual([]);
    const page = await direct.list({ limit: 10 });
    expect(page.items.map((b) => [b.id, b.status])).toEqual([[failed.id, 'failed']]);

    // An instance starting later (no backup running) removes the files of the unfinished archive.
    const recovered = await direct.recoverInterrupted();
    expect(await s3.keys('install-cut/')).toEqual([]);
    console.info(
      `[s3, cut at ${limit} bytes] ${failed.status}: "${failed.error}"; objects left: ${left.length}, ` +
        `multipart upload of ${unfinished[0]!.key.split('/').pop()} cut after ${unfinished[0]!.parts} part(s), never an object; ` +
        `removed at the next start: ${recovered.removed.length}`,
    );
  }, 180_000);

  it('applies retention in the bucket: expired archives are deleted there', async () => {
    const schedule = await service.schedules.create(admin, {
      cron: '0 3 * * *',
      retentionCount: 1,
      retentionDays: null,
      enabled: true,
    });
    const row = await source.database.db
      .selectFrom('backup_schedules')
      .selectAll()
      .where('id', '=', schedule.id)
      .executeTakeFirstOrThrow();
    const older = await service.runScheduled(row);
    const newer = await service.runScheduled(row);
    expect([older.status, newer.status]).toEqual(['succeeded', 'succeeded']);
    expect(await s3.keys(`install-a/${older.id}/`)).not.toEqual([]);

    expect(await service.schedules.applyRetention(row)).toEqual([older.id]);
    expect(await s3.keys(`install-a/${older.id}/`)).toEqual([]);
    expect(await s3.keys(`install-a/${newer.id}/manifest.json`)).toEqual([
      `install-a/${newer.id}/manifest.json`,
    ]);
  }, 120_000);

  it('still verifies and restores an unencrypted archive of an older release (format 1)', async () => {
    const local = await build(source.database, source.url, { s3: null });
    const before = await snapshotTables(source.url, await archivedTables(source.url));
    const backup = await local.create(admin, { wait: true });
    const manifest = await recorded(source.database, backup.id);
    // The archive as a release before encryption wrote it: plain gzip files, no key, no MAC.
    const tables = [];
    for (const table of manifest.tables) {
      const path = join(backup.path, table.file);
      const plain = await plainGzip(await readFile(path), manifest, kek, table);
      await writeFile(path, plain);
      tables.push({
        ...table,
        bytes: plain.length,
        sha256: createHash('sha256').update(plain).digest('hex'),
      });
    }
    const { encryption: _encryption, mac: _mac, ...rest } = manifest;
    const legacy = {
      ...rest,
      format: 1 as const,
      tables,
      totalBytes: tables.reduce((s, t) => s + t.bytes, 0),
    };
    await writeFile(join(backup.path, 'manifest.json'), JSON.stringify(legacy));
    await source.database.db
      .updateTable('backups')
      .set({ manifest: JSON.stringify(legacy) })
      .where('id', '=', backup.id)
      .execute();

    const verification = await local.verify(admin, backup.id);
    expect(verification.ok, JSON.stringify(verification.files.flatMap((f) => f.problems))).toBe(true);
    const target = await freshTarget();
    await local.restore(admin, { id: backup.id, targetDatabaseUrl: target.url, confirm: false });
    expect(manifest.tables.map((t) => t.name).sort()).toEqual([...before.keys()].sort());
    const diff = await tableDiff(before, target.url);
    expect(diff.differing).toEqual({});
    expect(diff.differences).toBe(0);
  }, 120_000);
});

describe('a bucket that stops answering', () => {
  it('fails the backup within the request bounds instead of holding the backup lock', async () => {
    // Accepts connections and never answers a byte: a storage service hung behind a load balancer.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanUps.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const { port } = silent.address() as { port: number };
    const hung = await build(source.database, source.url, {
      s3: {
        ...s3.settings('install-hung/', `http://127.0.0.1:${port}`),
        timeouts: { connectMs: 500, requestMs: 1_000 },
      },
    });
    const failed = await hung.create(admin, { wait: true });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/^archive write failed: .*requestTimeout/);
    // The lock is free: the next backup (to a bucket that answers) runs.
    const next = await service.create(admin, { wait: true });
    expect(next.status).toBe('succeeded');
    console.info(`[s3, silent endpoint] ${failed.status} after ${failed.durationMs} ms: "${failed.error}"`);
  }, 120_000);
});

describe('a bucket out of reach at start', () => {
  it('is logged, and the backups component still starts (the schedules still run)', async () => {
    const closed = await cuttingProxy(s3.endpoint, 0);
    await closed.close();
    const lines: Record<string, unknown>[] = [];
    const captured = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk, _encoding, done) {
          for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
          done();
        },
      }),
    });
    const away = await build(source.database, source.url, {
      s3: s3.settings('install-away/', closed.endpoint),
      logger: captured,
    });
    const scheduler = new BackupScheduler({
      database: source.database,
      backups: away,
      schedules: away.schedules,
      logger: captured,
    });
    const component = backupsComponent({ service: away, scheduler }, captured);
    await component.start(new AbortController().signal);
    await component.stop?.();
    expect(lines.map((l) => l.msg)).toEqual([
      'unfinished archives in the bucket could not be removed',
      'the backup store could not be read at start',
    ]);
  }, 60_000);
});

async function listTables(url: string): Promise<string[]> {
  return withDatabase(url, async (db) => {
    const { rows } = await sql<{ name: string }>`
      select tablename as name from pg_tables where schemaname = 'public' order by 1
    `.execute(db);
    return rows.map((r) => r.name);
  });
}
