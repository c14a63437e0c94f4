import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/database';

export type Fingerprint = Record<string, { rows: number; sha256: string }>;

/**
 * Every table's row count and a hash of its rows, for before/after comparisons: any write shows.
 * Tables and columns written in the background are left out, and so are the rows a test meant
 * to write (`excludedRows`: ids by table).
 */
export async function databaseFingerprint(
  db: Kysely<Database>,
  options: {
    volatileTables: ReadonlySet<string>;
    volatileColumns: Record<string, string[]>;
    excludedRows?: Record<string, ReadonlySet<string>>;
  },
): Promise<Fingerprint> {
  const tables = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'
    order by table_name
  `.execute(db);
  const fingerprint: Fingerprint = {};
  for (const { table_name: table } of tables.rows) {
    if (options.volatileTables.has(table)) continue;
    // Identifiers quoted by sql.table; the names come from the catalogue, not from a caller.
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db);
    const excluded = options.excludedRows?.[table];
    const kept = excluded ? rows.filter((row) => !excluded.has(String(row.id))) : rows;
    const lines = kept
      .map((row) => {
        for (const column of options.volatileColumns[table] ?? []) delete row[column];
        return JSON.stringify(row);
      })
      .sort();
    fingerprint[table] = {
      rows: kept.length,
      sha256: createHash('sha256').update(lines.join('\n')).digest('hex'),
    };
  }
  return fingerprint;
}
