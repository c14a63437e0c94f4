import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformDatabase } from '../../db/connect';
import type { Database } from '../../db/database';
import { migrateToLatest } from '../../db/migrate';
import type { Actor } from '../../server/base/actor';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { createLogger } from '../../server/base/logger';
import { createMetrics } from '../../server/base/metrics/metrics';
import { parseManifest } from '../../server/services/backups/manifest';
import { canDump, detectPgDump, type PgDumpTool } from '../../server/services/backups/pg-dump';
import { BackupService } from '../../server/services/backups/service';
import { parseRestoreTargetEntry } from '../../shared/devops-backups';
import { createTestDatabase, type TestDatabase, testPoolDefaults } from '../helpers/database';
import { type LegacyServer, startServerMatching } from '../helpers/legacy-postgres';

/**
 * The pg_dump method, end to end. pg_dump refuses servers newer than itself, so the platform's
 * own PostgreSQL 18 is always exported through COPY here (Debian 12's pg_dump is 15's); this file
 * runs a PostgreSQL server of pg_dump's own major version (Debian package postgresql-15: the
 * binaries under /usr/lib/postgresql/15/bin) as the source, so the pg_dump path really runs.
 * The archive is then restored into the run's PostgreSQL 18: the format is the same either way.
 */

const logger = createLogger({ level: 'silent' });

let tool: PgDumpTool;
let server: LegacyServer;
let database: PlatformDatabase;
let target: TestDatabase;
let backupDir: string;
const organizationId = randomUUID();

beforeAll(async () => {
  const found = await detectPgDump();
  if (!found) throw new Error('pg_dump is not on PATH: install the Debian package postgresql-client');
  tool = found;
  server = await startServerMatching(tool);
  // Not openTestDatabase: the source lives on the PostgreSQL 15 server above, not the run's.
  database = new PlatformDatabase({
    ...testPoolDefaults,
    url: server.url,
    statementTimeoutMs: 60_000,
    retry: { attempts: 5, baseMs: 20, maxMs: 200 },
  });
  await database.connect();
  await migrateToLatest(database.db);
  await sql`insert into organizations (id, name) values (${organizationId}, 'Org')`.execute(database.db);
  await sql`
    insert into annotations (organization_id, text, tags)
    select ${organizationId}, E'row ' || i || E'\twith\\ escapes\nand lines', array['a', 'b' || i] from generate_series(1, 5000) i
  `.execute(database.db);
  await sql`
    insert into audit_events (organization_id, type, result, details)
    select ${organizationId}, 'login', 'success', jsonb_build_object('i', i) from generate_series(1, 3000) i
  `.execute(database.db);
  target = await createTestDatabase();
  backupDir = await mkdtemp(join(tmpdir(), 'bc-pg-dump-backups-'));
}, 120_000);

afterAll(async () => {
  await database?.close();
  await server?.stop();
  await target?.drop();
  if (backupDir) await rm(backupDir, { recursive: true, force: true });
});

describe('pg_dump method', () => {
  it('is chosen only for a server no newer than pg_dump', async () => {
    const { rows } = await sql<{ num: string }>`select current_setting('server_version_num') as num`.execute(
      database.db,
    );
    expect(canDump(tool, Number(rows[0]!.num))).toBe(true);
    expect(canDump(tool, (tool.major + 1) * 10_000)).toBe(false);
    expect(canDump(null, Number(rows[0]!.num))).toBe(false);
    expect(await detectPgDump('/nonexistent/pg_dump')).toBeNull();
  });

  it('backs up inside the shared snapshot while writes go on, and restores into PostgreSQL 18', async () => {
    const targetUrl = new URL(target.url);
    const service = new BackupService({
      database,
      databaseUrl: server.url,
      directory: backupDir,
      audit: new AuditLog(createMetrics({ build: readBuildInfo(), defaultMetrics: false })),
      logger,
      kek: new Uint8Array(randomBytes(32)),
      pgDump: tool.path,
      // The run's PostgreSQL 18, where the archive is restored: allow-listed by host, port and name.
      restoreTargets: [parseRestoreTargetEntry(`${targetUrl.hostname}:${targetUrl.port}/${target.name}`)!],
    });
    const admin: Actor = {
      kind: 'user',
      userId: randomUUID(),
      organizationId,
      role: 'admin',
      platformRole: 'admin',
      sessionId: 't',
    };

    // Each transaction writes to both tables; pg_dump runs once per table, at different times.
    let stopping = false;
    let committed = 0;
    const writer = (async () => {
      for (let n = 1; !stopping; n++) {
        await database.transaction(async (trx) => {
          await trx
            .insertInto('annotations')
            .values({ organization_id: organizationId, text: `writer ${n}` })
            .execute();
          await trx
            .insertInto('audit_events')
            .values({ type: 'login', result: 'success', details: JSON.stringify({ writer: n }) })
            .execute();
        });
        committed = n;
      }
    })();
    while (committed < 10) await new Promise((resolve) => setTimeout(resolve, 5));
    const backup = await service.create(admin, { wait: true });
    stopping = true;
    await writer;
    await service.stop();

    expect(backup).toMatchObject({ status: 'succeeded', method: 'pg_dump' });
    const row = await database.db
      .selectFrom('backups')
      .select('manifest')
      .where('id', '=', backup.id)
      .executeTakeFirstOrThrow();
    const manifest = parseManifest(row.manifest);
    expect(manifest.server.versionNum).toBeLessThan((tool.major + 1) * 10_000);

    const verification = await service.verify(admin, backup.id);
    expect(verification.ok).toBe(true);

    const restored = await service.restore(admin, {
      id: backup.id,
      targetDatabaseUrl: target.url,
      confirm: false,
    });
    expect(restored.tables.find((t) => t.name === 'annotations')!.rows).toBeGreaterThanOrEqual(5010);

    const restoredDb = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: target.url, max: 2 }) }),
    });
    try {
      const digest = async (db: Kysely<Database>, table: 'annotations' | 'audit_events', maxId: number) =>
        (
          await sql<{ digest: string }>`
            select md5(coalesce(string_agg(x::text, E'\n' order by x.id), '')) as digest
            from ${sql.table(table)} x where x.id <= ${maxId}
          `.execute(db)
        ).rows[0]!.digest;
      for (const table of ['annotations', 'audit_events'] as const) {
        const { rows } = await sql<{
          max: string;
        }>`select max(id)::text as max from ${sql.table(table)}`.execute(restoredDb);
        const maxId = Number(rows[0]!.max);
        // Byte for byte the source's rows up to the restored maximum: no row missing, none extra.
        expect(await digest(restoredDb, table, maxId)).toBe(await digest(database.db, table, maxId));
      }
      // One snapshot for both tables, though pg_dump read them in separate runs.
      const annotations = await sql<{ n: number }>`
        select substring(text from 8)::int as n from annotations where text like 'writer %' order by 1
      `.execute(restoredDb);
      const events = await sql<{ n: number }>`
        select (details->>'writer')::int as n from audit_events where details ? 'writer' order by 1
      `.execute(restoredDb);
      expect(events.rows).toEqual(annotations.rows);
      expect(annotations.rows.length).toBeGreaterThanOrEqual(10);
      expect(annotations.rows.length).toBeLessThan(committed + 1);
    } finally {
      await restoredDb.destroy();
    }
  }, 120_000);
});
