import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../db/embedded-postgres';
import { freePort } from '../../db/local-processes';
import type { Actor } from '../../server/base/actor';
import { readBuildInfo } from '../../server/base/build-info';
import { loadConfig } from '../../server/base/config';
import { parseKeyEncryptionKey } from '../../server/base/key-sealing';
import { createLogger } from '../../server/base/logger';
import { buildDependencies } from '../../server/composition/dependencies';
import { createApp } from '../../server/http/app';
import type { AppDeps } from '../../server/http/deps';
import { withClient } from '../helpers/database';
import { startS3Server, type TestS3 } from '../helpers/s3-server';
import { archivedTables, type TableSnapshot, tableDiff } from '../helpers/table-diff';

/**
 * Disaster recovery off the machine. Machine A (a platform on its own embedded PostgreSQL) backs
 * up to a bucket; A's data directory is then destroyed. Machine B, a new platform on a new
 * embedded PostgreSQL given only the bucket's settings and the key-encryption key, finds the
 * backup in the bucket, restores it, and every table is compared row by row with A's data as the
 * backup saw it.
 */

const ADMIN = { email: 'admin@machine-a.test', password: 'machine-a-password-0123' };
const cleanUps: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const cleanUp of cleanUps.reverse()) await cleanUp().catch(() => undefined);
});

interface Machine {
  root: string;
  postgres: EmbeddedPostgres;
  deps: AppDeps;
  app: ReturnType<typeof createApp>;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** A machine: a folder of its own, an embedded PostgreSQL in it, the platform built as main.ts builds it. */
async function startMachine(env: (port: number) => Record<string, string>, kek: string): Promise<Machine> {
  const root = await mkdtemp(join(tmpdir(), 'bc-machine-'));
  cleanUps.push(() => rm(root, { recursive: true, force: true }));
  // PostgreSQL runs as the `postgres` user when we are root: it must be able to reach its folder.
  await chmod(root, 0o755);
  const port = await freePort();
  const postgres = await startEmbeddedPostgres({ dataDir: join(root, 'postgres'), port });
  cleanUps.push(() => postgres.stop());
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: postgres.url,
    DATA_DIR: root,
    LOG_LEVEL: 'info',
    AUTH_PASSWORD_COST: '10',
    AUTH_KEY_ENCRYPTION_KEY: kek,
    BACKUP_PG_DUMP: 'off',
    ...env(port),
  });
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const deps = buildDependencies({
    config,
    logger: createLogger({ level: config.LOG_LEVEL, destination }),
    build: readBuildInfo(),
    databaseUrl: postgres.url,
    kek: parseKeyEncryptionKey(kek),
  });
  await deps.initializer.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await deps.initializer.stop();
    await deps.database.close();
  };
  cleanUps.push(stop);
  return { root, postgres, deps, app: createApp(deps), logs, stop };
}

async function platformAdmin(deps: AppDeps, email: string): Promise<Actor> {
  const row = await deps.database.db
    .selectFrom('users')
    .select(['id', 'organization_id'])
    .where('email', '=', email)
    .executeTakeFirstOrThrow();
  return {
    kind: 'user',
    userId: row.id,
    organizationId: row.organization_id,
    role: 'admin',
    platformRole: 'admin',
    sessionId: 'test',
  };
}

/** Data of every kind a platform holds, with text that COPY must escape. */
async function fill(deps: AppDeps, organizationId: string): Promise<void> {
  const db = deps.database.db;
  await sql`insert into organizations (id, name) values (${organizationId}, 'Machine A Org')`.execute(db);
  await sql`
    insert into users (organization_id, email, name, password_hash, role)
    select ${organizationId}, 'user' || i || '@machine-a.test', E'Ünïcödé \\ name\t' || i, '$scrypt$ln=10,r=8,p=1$x$y', 'viewer'
    from generate_series(1, 200) i
  `.execute(db);
  await sql`
    insert into annotations (organization_id, text, tags, idempotency_key)
    select ${organizationId}, E'note ' || i || E'\twith a tab\nand a newline, a backslash \\ and "quotes" — ü',
      array['tag' || (i % 7), E'sp ace,comma'], case when i % 3 = 0 then 'key-' || i end
    from generate_series(1, 20000) i
  `.execute(db);
  await sql`
    insert into audit_events (organization_id, type, result, details)
    select ${organizationId}, 'login', 'success', jsonb_build_object('i', i, 'nested', jsonb_build_object('s', E'x\ny'))
    from generate_series(1, 5000) i
  `.execute(db);
}

/**
 * Holds every archived table in SHARE mode (reads go on, writes wait) and reads every row: the
 * data as it stands while no one can change it. Released by `release`, once the backup is taken,
 * so the background writers of a running platform (audit events, figures) cannot make its
 * data and the archive differ.
 */
async function fenceAndSnapshot(url: string): Promise<{ snapshot: TableSnapshot; release(): Promise<void> }> {
  const tables = await archivedTables(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('begin');
  await client.query(`lock table ${tables.map((t) => pg.escapeIdentifier(t)).join(', ')} in share mode`);
  const snapshot: TableSnapshot = new Map();
  for (const table of tables) {
    const { rows } = await client.query<{ row: string }>(
      `select x::text as row from ${pg.escapeIdentifier(table)} x`,
    );
    const counted = new Map<string, number>();
    for (const { row } of rows) counted.set(row, (counted.get(row) ?? 0) + 1);
    snapshot.set(table, counted);
  }
  return {
    snapshot,
    async release() {
      await client.query('commit');
      await client.end();
    },
  };
}

describe('restore on a fresh machine from the bucket and the key-encryption key alone', () => {
  let s3: TestS3;

  it('backs up machine A to the bucket, loses A, and restores every row on machine B', async () => {
    s3 = await startS3Server();
    cleanUps.push(() => s3.close());
    const kek = randomBytes(32).toString('base64');
    const bucket = s3.env('fresh-machine/');

    // Machine A: a platform with data, backed up to the bucket.
    const a = await startMachine(
      () => ({ ...bucket, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password }),
      kek,
    );
    await fill(a.deps, randomUUID());
    const fence = await fenceAndSnapshot(a.postgres.url);
    const creating = a.deps.devops.backups.create(await platformAdmin(a.deps, ADMIN.email), { wait: true });
    // The backup reads under the fence (ACCESS SHARE goes with SHARE); it records its outcome in
    // `backups`, which is not archived and not fenced, then audits it once the fence is gone.
    for (;;) {
      const row = await a.deps.database.db.selectFrom('backups').select('status').executeTakeFirst();
      if (row && row.status !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await fence.release();
    const backup = await creating;
    expect(backup.status, backup.error ?? '').toBe('succeeded');
    expect(backup.path).toBe(`s3://${s3.bucket}/fresh-machine/${backup.id}`);

    // Machine A is lost: its platform, its PostgreSQL and every file of it.
    await a.stop();
    await a.postgres.stop();
    await rm(a.root, { recursive: true, force: true });
    expect(existsSync(a.root)).toBe(false);

    // Machine B: a new platform on a new PostgreSQL, given the bucket and the key, nothing else
    // (and a scratch database of its server allowed as a restore target, for the comparison).
    const b = await startMachine(
      (port) => ({
        ...bucket,
        ADMIN_EMAIL: 'admin@machine-b.test',
        ADMIN_PASSWORD: 'machine-b-password-0123',
        BACKUP_RESTORE_TARGETS: `127.0.0.1:${port}/restored`,
      }),
      kek,
    );
    expect(b.logs.some((l) => l.msg === 'backups found in the store recorded')).toBe(true);
    const bAdmin = await platformAdmin(b.deps, 'admin@machine-b.test');
    const listed = await b.deps.devops.backups.list({ limit: 10 });
    expect(listed.items.map((item) => [item.id, item.status])).toEqual([[backup.id, 'succeeded']]);
    const verification = await b.deps.devops.backups.verify(bAdmin, backup.id);
    expect(verification.ok, JSON.stringify(verification.problems)).toBe(true);

    // Into a database of B's server that nothing else writes to: compared row by row with A's.
    const restoredUrl = new URL(b.postgres.url);
    await withClient(b.postgres.url, (client) => client.query('create database restored'));
    restoredUrl.pathname = '/restored';
    const restored = await b.deps.devops.backups.restore(bAdmin, {
      id: backup.id,
      targetDatabaseUrl: restoredUrl.toString(),
      confirm: false,
    });
    expect(restored.target.platform).toBe(false);
    const diff = await tableDiff(fence.snapshot, restoredUrl.toString());
    expect(diff.tables).toBe(fence.snapshot.size);
    expect(diff.differing).toEqual({});
    expect(diff.differences).toBe(0);

    // And into B's own database (maintenance, confirmation): B then serves A's data, A's admin
    // signs in on B with A's password.
    await b.deps.maintenance.set(bAdmin, { enabled: true });
    const own = await b.deps.devops.backups.restore(bAdmin, { id: backup.id, confirm: true });
    expect(own).toMatchObject({ target: { platform: true }, replacedData: true });
    await b.deps.maintenance.set(bAdmin, { enabled: false });
    const login = await b.app.request('/api/trpc/auth.login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    expect(login.status).toBe(200);
    console.info(
      `[fresh machine] backup of ${backup.rows} rows (${backup.sizeBytes} bytes, encrypted) in the bucket, ` +
        `machine A destroyed; on machine B: found, verified, restored in ${restored.durationMs} ms; ` +
        `${diff.tables} tables, ${diff.rows} rows compared: ${diff.differences} differences; ` +
        `restored into B's own database in ${own.durationMs} ms, A's admin signs in on B: ${login.status}`,
    );
  }, 300_000);
});
