import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { DedicatedConnection } from '../../db/backup/dedicated-connection';
import { PlatformDatabase } from '../../db/connect';
import type { Database } from '../../db/database';
import { migrateToLatest } from '../../db/migrate';
import type { Actor } from '../../server/base/actor';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { createLogger } from '../../server/base/logger';
import { createMetrics } from '../../server/base/metrics/metrics';
import { BACKUP_INTERRUPTED } from '../../server/composition/shutdown';
import type { ArchiveFileOpener } from '../../server/services/backups/archive-writer';
import { BACKUP_LOCK } from '../../server/services/backups/backup';
import { detectPgDump } from '../../server/services/backups/pg-dump';
import { BackupService } from '../../server/services/backups/service';
import { createTestDatabase, openTestDatabase, testPoolDefaults } from '../helpers/database';
import { startServerMatching } from '../helpers/legacy-postgres';
import { adminHeaders, mustRun, RUNTIMES, startServer, stopAllServers } from '../helpers/server-process';

/**
 * A disk that fills up part-way through a large table, for both export methods: the backup must
 * end `failed` with the reason, leave no partial files, release its session and lock (a second
 * backup then succeeds), and a server with a backup stuck must still exit on SIGTERM within
 * SHUTDOWN_TIMEOUT_MS.
 */

const logger = createLogger({ level: 'silent' });
const metrics = createMetrics({ build: readBuildInfo(), defaultMetrics: false });
const ROWS = 50_000;
/** Compressed bytes the "disk" takes before it is full: a fraction of the large table's. */
const DISK_BYTES = 512 * 1024;
const cleanUps: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  await stopAllServers();
  for (const cleanUp of cleanUps.reverse()) await cleanUp().catch(() => undefined);
});

/**
 * Data files on the real file system that refuse to grow past `limit` bytes in all, failing the
 * write as a full disk does (ENOSPC); what fitted is really written.
 */
function diskFullAfter(limit: number): ArchiveFileOpener {
  let used = 0;
  return (path) => {
    const file = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    return new Writable({
      write(chunk: Buffer, _encoding, done) {
        if (used + chunk.length > limit) {
          done(
            Object.assign(new Error('ENOSPC: no space left on device, write'), {
              code: 'ENOSPC',
              errno: -28,
              syscall: 'write',
            }),
          );
          return;
        }
        used += chunk.length;
        file.write(chunk, (error) => done(error ?? null));
      },
      final(done) {
        file.end(() => done());
      },
      destroy(error, done) {
        file.destroy();
        done(error);
      },
    });
  };
}

/** An organization and ROWS annotations of hard-to-compress text (about 10 MB). */
async function fill(db: Kysely<Database>): Promise<string> {
  const organizationId = randomUUID();
  await sql`insert into organizations (id, name) values (${organizationId}, 'Org')`.execute(db);
  await sql`
    insert into annotations (organization_id, text)
    select ${organizationId}, md5(i::text) || md5(i::text || 'a') || md5(i::text || 'b') || md5(i::text || 'c')
      || md5(i::text || 'd') || md5(i::text || 'e')
    from generate_series(1, ${ROWS}) i
  `.execute(db);
  return organizationId;
}

function platformAdmin(organizationId: string): Actor {
  return {
    kind: 'user',
    userId: randomUUID(),
    organizationId,
    role: 'admin',
    platformRole: 'admin',
    sessionId: 'disk-full',
  };
}

/** Sessions of the backup's own application name still open on the server. */
async function backupSessions(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where application_name = 'beauty-crafter-backup'`,
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return check();
}

/** The scenario both methods go through; returns the figures for the report. */
async function fillTheDisk({
  database,
  databaseUrl,
  pgDump,
  method,
}: {
  database: PlatformDatabase;
  databaseUrl: string;
  pgDump: string | null;
  method: 'copy' | 'pg_dump';
}) {
  const admin = platformAdmin(await fill(database.db));
  const directory = await mkdtemp(join(tmpdir(), 'bc-disk-full-'));
  cleanUps.push(() => rm(directory, { recursive: true, force: true }));
  const kek = new Uint8Array(randomBytes(32));
  const options = { database, databaseUrl, directory, audit: new AuditLog(metrics), logger, pgDump, kek };

  const full = new BackupService({ ...options, openArchiveFile: diskFullAfter(DISK_BYTES) });
  const started = performance.now();
  const failed = await full.create(admin, { wait: true });
  const toFailedMs = Math.round(performance.now() - started);
  expect(failed.status).toBe('failed');
  expect(failed.error).toMatch(/^archive write failed: ENOSPC/);
  expect(toFailedMs).toBeLessThan(5_000);
  expect((await full.get(failed.id)).status).toBe('failed');

  const left = await readdir(directory);
  expect(left).toEqual([]);
  // The dedicated session is closed, so its advisory lock is free.
  expect(await until(async () => (await backupSessions(databaseUrl)) === 0, 2_000)).toBe(true);
  const probe = await DedicatedConnection.open(databaseUrl, 'disk-full-probe');
  expect(await probe.tryLock(BACKUP_LOCK)).toBe(true);
  await probe.close();

  const second = await new BackupService(options).create(admin, { wait: true });
  expect(second.status).toBe('succeeded');
  expect(second.method).toBe(method);
  expect(second.rows).toBeGreaterThanOrEqual(ROWS);
  console.info(
    `[disk full, ${method}] failed after ${toFailedMs} ms: "${failed.error}"; files left: ${left.length}; ` +
      `second backup ${second.status} (${second.rows} rows, ${second.sizeBytes} bytes)`,
  );
}

describe('a disk that fills up part-way through a large table', () => {
  it('COPY method: the backup fails with the reason, leaves nothing behind, and the next one succeeds', async () => {
    const source = await openTestDatabase();
    cleanUps.push(() => source.close());
    await fillTheDisk({ database: source.database, databaseUrl: source.url, pgDump: null, method: 'copy' });
  }, 60_000);

  it('pg_dump method: the same', async () => {
    const tool = await detectPgDump();
    if (!tool) throw new Error('pg_dump is not on PATH: install the Debian package postgresql-client');
    const server = await startServerMatching(tool);
    cleanUps.push(() => server.stop());
    const database = new PlatformDatabase({
      ...testPoolDefaults,
      url: server.url,
      statementTimeoutMs: 60_000,
      retry: { attempts: 5, baseMs: 20, maxMs: 200 },
    });
    cleanUps.push(() => database.close());
    await database.connect();
    await migrateToLatest(database.db);
    await fillTheDisk({ database, databaseUrl: server.url, pgDump: tool.path, method: 'pg_dump' });
  }, 120_000);
});

describe.each(RUNTIMES.filter(mustRun))('SIGTERM with a backup stuck, on %s', (runtime) => {
  const SHUTDOWN_TIMEOUT_MS = 3_000;

  it('cancels the backup at the deadline, records it interrupted, and exits within SHUTDOWN_TIMEOUT_MS', async () => {
    const target = await createTestDatabase();
    cleanUps.push(() => target.drop());
    const directory = await mkdtemp(join(tmpdir(), 'bc-disk-full-sigterm-'));
    cleanUps.push(() => rm(directory, { recursive: true, force: true }));
    const server = await startServer({
      runtime,
      env: {
        DATABASE_URL: target.url,
        BACKUP_DIR: directory,
        BACKUP_PG_DUMP: 'off',
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      },
    });

    // A table the backup must lock, held by another session: the backup waits for it for good.
    const blocker = new pg.Client({ connectionString: target.url });
    await blocker.connect();
    cleanUps.push(() => blocker.end());
    await blocker.query('create table disk_full_blocker (id int primary key)');
    await blocker.query('begin');
    await blocker.query('lock table disk_full_blocker in access exclusive mode');

    const response = await fetch(`${server.url}/api/trpc/devops.backups.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await adminHeaders(server)) },
      body: JSON.stringify({ wait: false }),
    });
    expect(response.status).toBe(200);
    const stuck = async () => {
      const { rows } = await blocker.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
         where application_name = 'beauty-crafter-backup' and wait_event_type = 'Lock'`,
      );
      return rows[0]!.n === 1;
    };
    expect(await until(stuck, 10_000)).toBe(true);

    const signalled = performance.now();
    const exit = await server.stop('SIGTERM', SHUTDOWN_TIMEOUT_MS + 10_000);
    const exitMs = Math.round(performance.now() - signalled);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(server.logs.some((l) => l.msg === 'shutdown complete')).toBe(true);

    // Released by the cancelled session itself, while the table it waited for is still locked.
    const lockFree = async () => {
      const { rows: locks } = await blocker.query<{ free: boolean }>(
        `select pg_try_advisory_lock(${BACKUP_LOCK.toString()}) as free`,
      );
      return locks[0]!.free;
    };
    expect(await until(lockFree, 2_000)).toBe(true);
    await blocker.query('rollback');
    const { rows } = await blocker.query<{ status: string; error: string | null }>(
      'select status, error from backups',
    );
    expect(rows).toEqual([{ status: 'failed', error: BACKUP_INTERRUPTED }]);
    const left = await readdir(directory);
    expect(left).toEqual([]);
    console.info(
      `[SIGTERM, backup stuck, ${runtime}] exit ${exit.code} after ${exitMs} ms (SHUTDOWN_TIMEOUT_MS ${SHUTDOWN_TIMEOUT_MS}); ` +
        `row: ${rows[0]!.status} "${rows[0]!.error}"; files left: ${left.length}`,
    );
  }, 60_000);
});
