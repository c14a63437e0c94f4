import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PlatformDatabase } from '../../db/connect';
import { migrateToLatest } from '../../db/migrate';
import { migrations } from '../../db/migrations';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';

let testDb: OpenedTestDatabase;

/** Ends every other session of the test database, as a PostgreSQL restart or failover would. */
async function terminateOtherSessions(database: PlatformDatabase) {
  await sql`select pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()`.execute(database.db);
}

/** Raises a real server-side error with the given SQLSTATE. */
function raise(code: string) {
  return sql`do $$ begin raise exception 'raised on purpose' using errcode = ${sql.lit(code)}; end $$`;
}

beforeAll(async () => {
  testDb = await openTestDatabase();
});

afterAll(async () => {
  await testDb?.close();
});

describe('PlatformDatabase', () => {
  it('keeps working after the server ends its connections, counting the errors and reconnects', async () => {
    const database = testDb.open();
    const killer = testDb.open({ poolMax: 1 });
    await database.read((db) => sql`select 1`.execute(db));
    await Promise.all([1, 2, 3].map(() => database.read((db) => sql`select pg_sleep(0.01)`.execute(db))));
    await terminateOtherSessions(killer);
    // The server's goodbye reaches each idle connection asynchronously; wait until the pool has
    // dropped them all, so the next read needs a new connection.
    await vi.waitFor(() => expect(database.stats().total).toBe(0), { timeout: 5_000 });
    // Idle connections broken under the pool must not crash the process, and the next read reconnects.
    const { rows } = await database.read((db) => sql<{ n: number }>`select 42 as n`.execute(db));
    expect(rows[0]?.n).toBe(42);
    const stats = database.stats();
    expect(stats.errors).toBeGreaterThan(0);
    expect(stats.reconnects).toBeGreaterThan(0);
    // 57P01 (admin shutdown) or, for a socket that closed first, "Connection terminated".
    expect(stats.lastError?.code === '57P01' || /terminat/i.test(stats.lastError?.message ?? '')).toBe(true);
    expect(stats.healthy).toBe(true);
  });

  it('retries a whole transaction after a serialization failure and commits once', async () => {
    const database = testDb.open();
    let attempts = 0;
    const id = await database.transaction(async (trx) => {
      attempts++;
      const organization = await trx
        .insertInto('organizations')
        .values({ name: 'retried' })
        .returning('id')
        .executeTakeFirstOrThrow();
      const row = await trx
        .insertInto('annotations')
        .values({ organization_id: organization.id, text: 'retried', tags: [] })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (attempts === 1) await raise('40001').execute(trx);
      return row.id;
    });
    expect(attempts).toBe(2);
    const rows = await database.db
      .selectFrom('annotations')
      .select('id')
      .where('text', '=', 'retried')
      .execute();
    expect(rows.map((r) => r.id)).toEqual([id]);
  });

  it('does not retry a transaction when told it is not safe to repeat', async () => {
    const database = testDb.open();
    let attempts = 0;
    const failing = database.transaction(
      async (trx) => {
        attempts++;
        await raise('40001').execute(trx);
      },
      { retry: false },
    );
    await expect(failing).rejects.toMatchObject({ code: '40001' });
    expect(attempts).toBe(1);
  });

  it('never retries errors that would fail again (unique violation, timeout)', async () => {
    const database = testDb.open({ statementTimeoutMs: 100 });
    let attempts = 0;
    await expect(
      database.read(async (db) => {
        attempts++;
        return sql`select pg_sleep(1)`.execute(db);
      }),
    ).rejects.toMatchObject({ code: '57014' });
    expect(attempts).toBe(1);
    attempts = 0;
    await expect(
      database.transaction(async (trx) => {
        attempts++;
        await raise('23505').execute(trx);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(attempts).toBe(1);
  });

  it('gives up connecting after the configured attempts when nothing listens', async () => {
    const url = new URL(testDb.url);
    url.port = '1';
    const retries: number[] = [];
    // Built by hand: its URL is the point, and the helper opens pools only on its own database.
    const database = new PlatformDatabase({
      url: url.toString(),
      poolMax: 1,
      connectTimeoutMs: 500,
      statementTimeoutMs: 0,
      idleTimeoutMs: 1_000,
      retry: { attempts: 3, baseMs: 1, maxMs: 5 },
      onWarning: (message) => {
        if (message.includes('retrying')) retries.push(retries.length);
      },
    });
    try {
      await expect(database.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      expect(retries).toHaveLength(2);
      expect(await database.isReachable({ maxAgeMs: 0, timeoutMs: 500 })).toBe(false);
      expect(database.stats()).toMatchObject({ healthy: false, lastError: { code: 'ECONNREFUSED' } });
    } finally {
      await database.close().catch(() => undefined);
    }
  });

  it('applies migrations once when several instances migrate at the same time', async () => {
    const fresh = await openTestDatabase({ migrate: false });
    const instances = [1, 2, 3].map(() => fresh.open());
    try {
      const results = await Promise.all(instances.map((i) => migrateToLatest(i.db)));
      const applied = results.flatMap((r) => r.results ?? []).filter((r) => r.status === 'Success');
      expect(applied.map((r) => r.migrationName)).toEqual(Object.keys(migrations));
      const again = await migrateToLatest(instances[0]!.db);
      expect(again.results).toEqual([]);
    } finally {
      await fresh.close();
    }
  });
});
