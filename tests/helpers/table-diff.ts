import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../../db/database';
import { UNARCHIVED_TABLES } from '../../server/services/backups/catalogue';

/** A Kysely of the test's own on any database, closed after `work`. */
export async function withDatabase<T>(url: string, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
  });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** Every row of `table` as PostgreSQL's text of the whole row, counted (a multiset). */
async function rowsOf(db: Kysely<Database>, table: string): Promise<Map<string, number>> {
  const { rows } = await sql<{ row: string }>`select x::text as row from ${sql.table(table)} x`.execute(db);
  const counted = new Map<string, number>();
  for (const { row } of rows) counted.set(row, (counted.get(row) ?? 0) + 1);
  return counted;
}

/** Every row of some tables, as they were when taken: what a backup taken then must give back. */
export type TableSnapshot = Map<string, Map<string, number>>;

export async function snapshotTables(url: string, tables: readonly string[]): Promise<TableSnapshot> {
  return withDatabase(url, async (db) => {
    const snapshot: TableSnapshot = new Map();
    for (const table of tables) snapshot.set(table, await rowsOf(db, table));
    return snapshot;
  });
}

export interface TableDiff {
  tables: number;
  /** Rows compared, on the snapshot's side. */
  rows: number;
  /** Rows on one side and not the other (a row twice on one side and once on the other counts once). */
  differences: number;
  /** The tables that differ, with their count of differences. */
  differing: Record<string, number>;
}

/**
 * Compares every table of `snapshot` row by row (every column of every row, as text) with the
 * database at `url`: the number of rows present on one side and not the other. 0: the same data.
 */
export async function tableDiff(snapshot: TableSnapshot, url: string): Promise<TableDiff> {
  return withDatabase(url, async (db) => {
    let rows = 0;
    let differences = 0;
    const differing: Record<string, number> = {};
    for (const [table, left] of snapshot) {
      const right = await rowsOf(db, table);
      let differ = 0;
      for (const [row, n] of left) {
        rows += n;
        differ += Math.abs(n - (right.get(row) ?? 0));
      }
      for (const [row, n] of right) if (!left.has(row)) differ += n;
      if (differ > 0) differing[table] = differ;
      differences += differ;
    }
    return { tables: snapshot.size, rows, differences, differing };
  });
}

/** The tables a backup archives: every table of the platform's but its own bookkeeping. */
export async function archivedTables(url: string): Promise<string[]> {
  return withDatabase(url, async (db) => {
    const { rows } = await sql<{ name: string }>`
      select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1
    `.execute(db);
    return rows.map((r) => r.name).filter((name) => !UNARCHIVED_TABLES.has(name));
  });
}
