import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareSpool, walArchiveSettings } from '../../db/backup/wal-archiving';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../db/embedded-postgres';
import type { Actor } from '../../server/base/actor';
import { readBuildInfo } from '../../server/base/build-info';
import { loadConfig } from '../../server/base/config';
import { parseKeyEncryptionKey } from '../../server/base/key-sealing';
import { createLogger } from '../../server/base/logger';
import { buildDependencies } from '../../server/composition/dependencies';
import type { AppDeps } from '../../server/http/deps';
import {
  deleteBaseBackup,
  PointInTimeUnavailableError,
  takeBaseBackup,
  unfinishedBaseBackups,
} from '../../server/services/backups/pitr/base-backup';
import { recoverToPointInTime } from '../../server/services/backups/pitr/recovery';
import { S3ArchiveStore } from '../../server/services/backups/s3-archive-store';
import { eventually } from '../helpers/deployments';
import { cuttingProxy, startS3Server, type TestS3 } from '../helpers/s3-server';

/**
 * Point-in-time recovery through WAL archiving to a bucket (a real S3-protocol server). Machine A
 * (a platform with BACKUP_PITR on, over a PostgreSQL archiving into its spool) takes a base
 * backup, writes rows, notes a time T, then writes more and deletes some by mistake. A is then
 * lost whole. From the bucket and the key-encryption key alone, recovery to T gives exactly the
 * rows of before T; recovery to `latest` gives everything; a changed segment is refused.
 */

const cleanUps: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanUp of cleanUps.reverse()) await cleanUp().catch(() => undefined);
});

const logger = createLogger({ level: 'silent' });

async function machineFolder(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'bc-pitr-'));
  cleanUps.push(() => rm(root, { recursive: true, force: true }));
  // PostgreSQL runs as the `postgres` user when we are root: it must be able to reach its folder.
  await chmod(root, 0o755);
  return root;
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

const admin: Actor = {
  kind: 'user',
  userId: '00000000-0000-0000-0000-0000000000aa',
  organizationId: '00000000-0000-0000-0000-0000000000bb',
  role: 'admin',
  platformRole: 'admin',
  sessionId: 'test',
};

describe('point-in-time recovery from the bucket', () => {
  let s3: TestS3;
  let kek: string;
  let machineA: { root: string; postgres: EmbeddedPostgres; deps: AppDeps };
  let target: Date;
  const prefix = 'pitr-test/';

  beforeAll(async () => {
    s3 = await startS3Server();
    cleanUps.push(() => s3.close());
    kek = randomBytes(32).toString('base64');

    const root = await machineFolder();
    const spool = join(root, 'wal-spool');
    await prepareSpool(spool);
    const postgres = await startEmbeddedPostgres({
      dataDir: join(root, 'postgres'),
      settings: walArchiveSettings(spool, { archiveTimeoutSeconds: 60 }),
    });
    cleanUps.push(() => postgres.stop());
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: postgres.url,
      DATA_DIR: root,
      LOG_LEVEL: 'silent',
      AUTH_PASSWORD_COST: '10',
      AUTH_KEY_ENCRYPTION_KEY: kek,
      BACKUP_PG_DUMP: 'off',
      BACKUP_PITR: 'true',
      BACKUP_PITR_DATA_DIR: join(root, 'postgres'),
      BACKUP_PITR_SHIP_INTERVAL_MS: '200',
      ...s3.env(prefix),
    });
    const deps = buildDependencies({
      config,
      logger,
      build: readBuildInfo(),
      databaseUrl: postgres.url,
      kek: parseKeyEncryptionKey(kek),
    });
    await deps.initializer.start();
    cleanUps.push(async () => {
      await deps.initializer.stop();
      await deps.database.close();
    });
    machineA = { root, postgres, deps };
  }, 120_000);

  it('ships WAL and a first base backup to the bucket, encrypted', async () => {
    const pitr = machineA.deps.devops.pointInTime!;
    const status = await eventually(
      'a first base backup',
      async () => {
        const now = await pitr.status();
        // Finished, retention included (a call meanwhile would join it rather than take another).
        return now.baseBackups.length > 0 && !now.baseBackupRunning && now;
      },
      60_000,
    );
    expect(status.enabled).toBe(true);
    expect(status.store).toBe(`s3://${s3.bucket}/${prefix}pitr/`);
    expect(status.window?.from).toBe(status.baseBackups[0]!.finishedAt);
    const base = status.baseBackups[0]!;
    expect(base.dataBytes).toBeGreaterThan(1_000_000);
    const keys = await s3.keys(`${prefix}pitr/`);
    expect(keys).toContain(`${prefix}pitr/base/${base.id}/data`);
    expect(keys).toContain(`${prefix}pitr/base/${base.id}/backup.json`);
    expect(keys.some((k) => /pitr\/wal\/[0-9A-F]{24}$/.test(k))).toBe(true);
    // Encrypted at rest: neither the description nor the data shows PostgreSQL's own text.
    const stored = await s3.read(`${prefix}pitr/base/${base.id}/backup.json`);
    expect(stored.subarray(0, 8).toString()).toBe('BCPITR1\n');
    expect(stored.includes(Buffer.from('START WAL LOCATION'))).toBe(false);
    expect(stored.includes(Buffer.from(base.startWalFile))).toBe(false);
  }, 120_000);

  it('a base backup taken on demand is listed, newest first', async () => {
    const pitr = machineA.deps.devops.pointInTime!;
    const taken = await pitr.takeBaseBackup(admin);
    const status = await pitr.status();
    expect(status.baseBackups[0]!.id).toBe(taken.id);
    expect(status.baseBackups.length).toBe(2);
    expect(status.nextBaseBackupAt).not.toBeNull();
  }, 120_000);

  it('an upload cut off mid-way leaves no base backup: nothing listed, the leftover removed', async () => {
    // 256 KiB reach the bucket, then every connection is cut, the data's upload under way.
    const proxy = await cuttingProxy(s3.endpoint, 256 * 1024);
    cleanUps.push(() => proxy.close());
    const cutStore = new S3ArchiveStore(s3.settings(prefix, proxy.endpoint), logger);
    cleanUps.push(async () => cutStore.close());
    const pitr = machineA.deps.devops.pointInTime!;
    const before = (await pitr.status()).baseBackups.map((b) => b.id);
    await expect(
      takeBaseBackup({
        id: 'cut-off',
        databaseUrl: machineA.postgres.url,
        dataDir: join(machineA.root, 'postgres'),
        store: cutStore.objects(),
        kek: parseKeyEncryptionKey(kek),
      }),
    ).rejects.toThrow();
    expect(proxy.cut()).toBe(true);
    // No description was written: whatever else reached the bucket is not a base backup.
    const keys = await s3.keys(`${prefix}pitr/base/cut-off/`);
    expect(keys).not.toContain(`${prefix}pitr/base/cut-off/backup.json`);
    expect((await pitr.status()).baseBackups.map((b) => b.id)).toEqual(before);
    // s3rver keeps the bytes of a PutObject cut off mid-body (AWS S3 would not): an unfinished
    // base backup, which the cleanup finds and removes.
    const bucket = new S3ArchiveStore(s3.settings(prefix), logger);
    cleanUps.push(async () => bucket.close());
    if (keys.length > 0) {
      expect(await unfinishedBaseBackups(bucket.objects(), 0)).toContain('cut-off');
      await deleteBaseBackup(bucket.objects(), 'cut-off');
    }
    expect(await s3.keys(`${prefix}pitr/base/cut-off/`)).toEqual([]);
  }, 120_000);

  it('writes, a moment T, then more writes and a mistaken delete, all archived', async () => {
    const url = machineA.postgres.url;
    await query(url, 'create table pitr_probe (id int primary key, batch text not null)');
    await query(url, "insert into pitr_probe select i, 'before' from generate_series(1, 1000) i");
    // T after the first batch committed, by the server's clock (recovery compares commit times).
    target = (await query<{ now: Date }>(url, 'select clock_timestamp() as now'))[0]!.now;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await query(url, "insert into pitr_probe select i, 'after' from generate_series(1001, 1500) i");
    await query(url, "delete from pitr_probe where batch = 'before' and id % 2 = 0");
    const switched = (
      await query<{ file: string }>(url, 'select pg_walfile_name(pg_switch_wal()) as file')
    )[0]!.file;
    const pitr = machineA.deps.devops.pointInTime!;
    await eventually(
      'the switched segment in the bucket',
      async () => {
        const status = await pitr.status();
        return (status.wal?.newestFile ?? '') >= switched && status.wal?.pendingFiles === 0;
      },
      60_000,
    );
    const status = await pitr.status();
    expect(status.wal?.server?.failedCount).toBe(0);
    expect(status.wal?.failuresSinceStart).toBe(0);
    expect(status.wal?.storedFiles).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('keeps BACKUP_PITR_KEEP_BASE_BACKUPS base backups and the WAL from the oldest kept one on', async () => {
    const pitr = machineA.deps.devops.pointInTime!;
    const before = await pitr.status();
    const oldest = before.baseBackups.at(-1)!;
    const third = await pitr.takeBaseBackup(admin);
    const after = await pitr.status();
    // Two kept (the default): the newest, and the one before it, which finished before T.
    expect(after.baseBackups.map((b) => b.id)).toEqual([third.id, before.baseBackups[0]!.id]);
    expect(await s3.keys(`${prefix}pitr/base/${oldest.id}/`)).toEqual([]);
    const firstKept = after.baseBackups.at(-1)!.startWalFile.slice(8);
    const segments = (await s3.keys(`${prefix}pitr/wal/`)).map((k) => k.slice(`${prefix}pitr/wal/`.length));
    expect(segments.filter((f) => !f.endsWith('.history') && f.slice(8, 24) < firstKept)).toEqual([]);
    expect(after.window?.from).toBe(after.baseBackups.at(-1)!.finishedAt);
    expect(new Date(after.baseBackups.at(-1)!.finishedAt).getTime()).toBeLessThan(target.getTime());
  }, 120_000);

  it("cleaning up the logical backups' unfinished archives leaves point-in-time recovery's objects", async () => {
    const before = await s3.keys(`${prefix}pitr/`);
    await machineA.deps.devops.backups.recoverInterrupted();
    // Every object still there (the shipper may have added one meanwhile).
    expect(before.length).toBeGreaterThan(3);
    expect(await s3.keys(`${prefix}pitr/`)).toEqual(expect.arrayContaining(before));
  }, 60_000);

  it('machine A is lost; recovery to T on a new machine has exactly the rows of before T', async () => {
    const { deps, postgres, root } = machineA;
    await deps.initializer.stop();
    await deps.database.close();
    await postgres.stop();
    await rm(root, { recursive: true, force: true });
    expect(existsSync(root)).toBe(false);

    const bucket = new S3ArchiveStore(s3.settings(prefix), logger);
    cleanUps.push(async () => bucket.close());
    const newRoot = await machineFolder();
    const result = await recoverToPointInTime({
      store: bucket.objects(),
      kek: parseKeyEncryptionKey(kek),
      target,
      dataDir: newRoot,
      archive: true,
    });
    expect(result.walFiles).toBeGreaterThan(0);
    expect(result.stoppedAt).not.toBeNull();
    // The recovered server's first WAL of its new timeline waits in the new machine's spool.
    expect((await readdir(join(newRoot, 'wal-spool'))).some((f) => f.endsWith('.history'))).toBe(true);

    // The platform's way to start it: DATA_DIR=newRoot (the password came with the base backup).
    const recovered = await startEmbeddedPostgres({ dataDir: join(newRoot, 'postgres') });
    cleanUps.push(() => recovered.stop());
    const rows = await query<{ batch: string; n: number }>(
      recovered.url,
      'select batch, count(*)::int as n from pitr_probe group by batch order by batch',
    );
    expect(rows).toEqual([{ batch: 'before', n: 1000 }]);
    // The platform's own tables came back too.
    const migrations = await query<{ n: number }>(
      recovered.url,
      'select count(*)::int as n from kysely_migration',
    );
    expect(migrations[0]!.n).toBeGreaterThan(10);
    await recovered.stop();
  }, 180_000);

  it('recovery to the latest archived WAL has every write, the mistaken delete too', async () => {
    const bucket = new S3ArchiveStore(s3.settings(prefix), logger);
    cleanUps.push(async () => bucket.close());
    const newRoot = await machineFolder();
    await recoverToPointInTime({
      store: bucket.objects(),
      kek: parseKeyEncryptionKey(kek),
      target: 'latest',
      dataDir: newRoot,
      archive: false,
    });
    const recovered = await startEmbeddedPostgres({ dataDir: join(newRoot, 'postgres') });
    cleanUps.push(() => recovered.stop());
    const rows = await query<{ batch: string; n: number }>(
      recovered.url,
      'select batch, count(*)::int as n from pitr_probe group by batch order by batch',
    );
    expect(rows).toEqual([
      { batch: 'after', n: 500 },
      { batch: 'before', n: 500 },
    ]);
    await recovered.stop();
  }, 180_000);

  it('refuses a time before the first base backup, a wrong key, and a changed segment', async () => {
    const bucket = new S3ArchiveStore(s3.settings(prefix), logger);
    cleanUps.push(async () => bucket.close());
    const recoverInto = async (options: { target: Date | 'latest'; kek?: string }) =>
      recoverToPointInTime({
        store: bucket.objects(),
        kek: parseKeyEncryptionKey(options.kek ?? kek),
        target: options.target,
        dataDir: await machineFolder(),
        archive: false,
      });

    await expect(recoverInto({ target: new Date(Date.now() - 86_400_000) })).rejects.toThrow(
      PointInTimeUnavailableError,
    );
    await expect(recoverInto({ target: 'latest', kek: randomBytes(32).toString('base64') })).rejects.toThrow(
      /wrong_key/,
    );

    const segment = (await s3.keys(`${prefix}pitr/wal/`)).filter((k) => /[0-9A-F]{24}$/.test(k)).at(-1)!;
    await s3.flipByte(segment);
    await expect(recoverInto({ target: 'latest' })).rejects.toThrow(/tampered/);
  }, 180_000);
});
