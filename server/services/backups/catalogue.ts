import { sql } from 'kysely';
import type { SchemalessKysely } from './dedicated-connection';

/**
 * What a backup needs to know about the tables of the public schema, read from pg_catalog:
 * which tables, their columns, primary keys, foreign keys and identity sequences. Table and
 * column names in the COPY statements come from here, never from a caller.
 */

/** Tables the platform keeps about its own archives, and Kysely's migration bookkeeping: never archived. */
export const UNARCHIVED_TABLES: ReadonlySet<string> = new Set([
  'backups',
  'backup_schedules',
  'kysely_migration',
  'kysely_migration_lock',
]);

export interface CatalogueTable {
  name: string;
  /** Stored columns in attnum order (generated columns are computed again by the target). */
  columns: string[];
  primaryKey: string[];
  /** Other tables of the schema its foreign keys point at (self-references left out). */
  references: string[];
}

/** Ordinary and partitioned tables of the public schema (not partitions: their parent covers them). */
export async function readTables(db: SchemalessKysely): Promise<CatalogueTable[]> {
  const tables = await sql<{ name: string }>`
    select c.relname as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
    order by c.relname
  `.execute(db);
  const columns = await sql<{ table: string; column: string }>`
    select c.relname as table, a.attname as column
    from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0
      and not a.attisdropped and a.attgenerated = ''
    order by c.relname, a.attnum
  `.execute(db);
  const keys = await sql<{ table: string; column: string }>`
    select c.relname as table, a.attname as column
    from pg_constraint con
      join pg_class c on c.oid = con.conrelid
      join pg_namespace n on n.oid = c.relnamespace
      cross join lateral unnest(con.conkey) with ordinality as k(attnum, position)
      join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum
    where con.contype = 'p' and n.nspname = 'public'
    order by c.relname, k.position
  `.execute(db);
  const references = await sql<{ table: string; referenced: string }>`
    select distinct c.relname as table, r.relname as referenced
    from pg_constraint con
      join pg_class c on c.oid = con.conrelid
      join pg_class r on r.oid = con.confrelid
      join pg_namespace n on n.oid = c.relnamespace
    where con.contype = 'f' and n.nspname = 'public' and r.relnamespace = n.oid
    order by 1, 2
  `.execute(db);

  const byName = new Map<string, CatalogueTable>(
    tables.rows.map(({ name }) => [name, { name, columns: [], primaryKey: [], references: [] }]),
  );
  for (const row of columns.rows) byName.get(row.table)?.columns.push(row.column);
  for (const row of keys.rows) byName.get(row.table)?.primaryKey.push(row.column);
  for (const row of references.rows) {
    if (row.referenced !== row.table) byName.get(row.table)?.references.push(row.referenced);
  }
  return [...byName.values()];
}

/** Columns filled by a sequence (identity or serial), with the sequence's qualified name. */
export async function readSequenceColumns(
  db: SchemalessKysely,
): Promise<{ table: string; column: string; sequence: string }[]> {
  const { rows } = await sql<{ table: string; column: string; sequence: string }>`
    select * from (
      select c.relname as table, a.attname as column,
        pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) as sequence
      from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
        and a.attnum > 0 and not a.attisdropped
    ) s
    where sequence is not null
    order by 1, 2
  `.execute(db);
  return rows;
}

/**
 * The order to load tables in so that every foreign key finds its referenced rows already there:
 * referenced tables first (Kahn's algorithm, ties by name for a stable order). `cyclic` lists
 * tables on a reference cycle or behind one, which no order satisfies; they come last, by name.
 */
export function loadOrder(tables: readonly Pick<CatalogueTable, 'name' | 'references'>[]): {
  order: string[];
  cyclic: string[];
} {
  const names = new Set(tables.map((t) => t.name));
  const pending = new Map(
    tables.map((t) => [t.name, new Set(t.references.filter((r) => r !== t.name && names.has(r)))]),
  );
  const order: string[] = [];
  for (;;) {
    const ready = [...pending].filter(([, needs]) => needs.size === 0).map(([name]) => name);
    if (ready.length === 0) break;
    ready.sort();
    for (const name of ready) {
      order.push(name);
      pending.delete(name);
      for (const needs of pending.values()) needs.delete(name);
    }
  }
  const cyclic = [...pending.keys()].sort();
  return { order: [...order, ...cyclic], cyclic };
}
