import { sql } from 'kysely';
import type { SchemalessKysely } from './dedicated-connection';

/**
 * What a backup needs to know about the tables of the public schema, read from pg_catalog:
 * which tables, their columns, primary keys, foreign keys and identity sequences. Table and
 * column names in the COPY statements come from here, never from a caller.
 */

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

/** The latest migration applied, which is what the schema is; null for a database never migrated. */
export async function readSchemaVersion(db: SchemalessKysely): Promise<string | null> {
  const { rows } = await sql<{ present: boolean }>`
    select to_regclass('public.kysely_migration') is not null as present
  `.execute(db);
  if (!rows[0]?.present) return null;
  const latest = await sql<{
    name: string;
  }>`select name from kysely_migration order by name desc limit 1`.execute(db);
  return latest.rows[0]?.name ?? null;
}
