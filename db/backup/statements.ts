import { type RawBuilder, sql } from 'kysely';
import type { SchemalessKysely } from './dedicated-connection';

/**
 * The statements of backup and restore that name tables and columns, which SQL cannot take as
 * parameters (and COPY takes no parameters at all). Every name here was read from pg_catalog, or
 * is a manifest's name checked against the target's catalogue; Kysely quotes it as an identifier,
 * so no name can end the identifier and start SQL of its own. This is the one file that splices.
 */

/** `"public"."name"`, `"column"`. */
function identifier(...names: string[]): RawBuilder<unknown> {
  return sql.id(...names); // sql-check: allow catalogue names, quoted as identifiers by Kysely
}

function table(name: string): RawBuilder<unknown> {
  return identifier('public', name);
}

function columnList(columns: readonly string[]): RawBuilder<unknown> {
  return sql.join(columns.map((column) => identifier(column)));
}

/** COPY takes no parameters: its text is compiled here, and must come out with none. */
function text(db: SchemalessKysely, statement: RawBuilder<unknown>): string {
  const compiled = statement.compile(db);
  if (compiled.parameters.length > 0) throw new Error('a COPY statement cannot carry parameters');
  return compiled.sql;
}

/** `COPY (SELECT columns FROM t ORDER BY pk) TO STDOUT`: text format, rows in key order. */
export function copyToStatement(
  db: SchemalessKysely,
  { name, columns, primaryKey }: { name: string; columns: readonly string[]; primaryKey: readonly string[] },
): string {
  const order = primaryKey.length > 0 ? sql` order by ${columnList(primaryKey)}` : sql``;
  return text(db, sql`copy (select ${columnList(columns)} from ${table(name)}${order}) to stdout`);
}

/** `COPY t (columns) FROM STDIN`, text format. */
export function copyFromStatement(
  db: SchemalessKysely,
  { name, columns }: { name: string; columns: readonly string[] },
) {
  return text(db, sql`copy ${table(name)} (${columnList(columns)}) from stdin`);
}

/** ACCESS SHARE on every table: writes go on, but no DDL can drop or alter them under the backup. */
export async function lockForBackup(db: SchemalessKysely, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await sql`lock table ${sql.join(names.map(table))} in access share mode`.execute(db);
}

/** Empties the tables in one statement (foreign keys among them allow that) and restarts their identities. */
export async function truncateTables(db: SchemalessKysely, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await sql`truncate table ${sql.join(names.map(table))} restart identity`.execute(db);
}

/** Whether the table has at least one row. */
export async function hasRows(db: SchemalessKysely, name: string): Promise<boolean> {
  const { rows } = await sql<{
    found: boolean;
  }>`select exists (select 1 from ${table(name)}) as found`.execute(db);
  return rows[0]?.found === true;
}

/**
 * Moves a sequence past the largest value its column holds, so the next insert does not collide
 * with a restored row. An empty table keeps the sequence where TRUNCATE ... RESTART IDENTITY (or
 * its creation) left it.
 */
export async function advanceSequence(
  db: SchemalessKysely,
  { table: name, column, sequence }: { table: string; column: string; sequence: string },
): Promise<void> {
  await sql`
    select setval(${sequence}::regclass, m.value)
    from (select max(${identifier(column)})::bigint as value from ${table(name)}) m
    where m.value is not null
  `.execute(db);
}

/** Refreshes planner statistics after a bulk load. */
export async function analyze(db: SchemalessKysely, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await sql`analyze ${sql.join(names.map(table))}`.execute(db);
}
