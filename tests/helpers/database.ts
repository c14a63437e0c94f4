import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { type DatabaseOptions, PlatformDatabase } from '../../db/connect';
import { migrateToLatest } from '../../db/migrate';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the run's PostgreSQL, for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, (client) => client.query(`create database "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () =>
      withClient(adminUrl, (client) => client.query(`drop database if exists "${name}" with (force)`)).then(
        () => undefined,
      ),
  };
}

/** A pool's options but its URL: what a test may set, each defaulting to `testPoolDefaults`. */
export type PoolOptions = Partial<Omit<DatabaseOptions, 'url'>>;

/** The pool a test gets unless it asks otherwise. */
export const testPoolDefaults = {
  poolMax: 10,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  retry: { attempts: 4, baseMs: 5, maxMs: 20 },
} satisfies PoolOptions;

export interface OpenedTestDatabase {
  url: string;
  name: string;
  /** The first pool, connected (and migrated unless told otherwise). */
  database: PlatformDatabase;
  /**
   * Another pool on the same database, as another platform instance would have: the options the
   * database was opened with, then `overrides`. Not connected yet; closed by `close()`.
   */
  open(overrides?: PoolOptions): PlatformDatabase;
  /** Closes every pool opened here (one already closed by the test is fine), then drops the database. */
  close(): Promise<void>;
}

/**
 * A fresh database on the run's PostgreSQL with a connected pool on it, migrated to the latest
 * schema unless `migrate` is false.
 */
export async function openTestDatabase(
  options: PoolOptions & { migrate?: boolean } = {},
): Promise<OpenedTestDatabase> {
  const { migrate = true, ...pool } = options;
  const created = await createTestDatabase();
  const pools: PlatformDatabase[] = [];
  const open = (overrides: PoolOptions = {}) => {
    const opened = new PlatformDatabase({ ...testPoolDefaults, ...pool, ...overrides, url: created.url });
    pools.push(opened);
    return opened;
  };
  const close = async () => {
    for (const opened of pools) await opened.close().catch(() => undefined);
    await created.drop();
  };
  const database = open();
  try {
    await database.connect();
    if (migrate) await migrateToLatest(database.db);
  } catch (error) {
    await close();
    throw error;
  }
  return { url: created.url, name: created.name, database, open, close };
}

/** One client of the test's own on any database, closed after `work`. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
