import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.

export async function up(db: Kysely<any>): Promise<void> {
  // tat is milliseconds since the epoch as double precision, not timestamptz: the emission
  // interval (period / limit) is fractional, and the store must do the same IEEE arithmetic as
  // the in-memory algorithm. No index on tat: it changes at every request, and an index on it
  // would rule out HOT updates; the occasional expiry sweep can scan.
  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('tat', 'double precision', (col) => col.notNull())
    .addColumn('last_allowed', 'boolean', (col) => col.notNull())
    .execute();
  // Rows are rewritten at every request; fillfactor leaves room on each page for the new row
  // version so that updates stay HOT.
  await sql`alter table rate_limits set (fillfactor = 70)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_limits').execute();
}
