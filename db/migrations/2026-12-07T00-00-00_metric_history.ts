import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.

export async function up(db: Kysely<any>): Promise<void> {
  // One row per minute, instance, series kind and name: each instance writes the minutes it
  // served, and readers sum them (the latency histogram's buckets add up across instances).
  await db.schema
    .createTable('metric_history')
    .addColumn('minute', 'timestamptz', (col) => col.notNull())
    .addColumn('instance_id', 'text', (col) => col.notNull())
    .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('route', 'procedure')`))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('requests', 'integer', (col) => col.notNull())
    .addColumn('client_errors', 'integer', (col) => col.notNull())
    .addColumn('server_errors', 'integer', (col) => col.notNull())
    .addColumn('latency_indexes', sql`integer[]`, (col) => col.notNull())
    .addColumn('latency_counts', sql`integer[]`, (col) => col.notNull())
    .addColumn('latency_sum_seconds', 'double precision', (col) => col.notNull())
    .addColumn('latency_min_seconds', 'double precision', (col) => col.notNull())
    .addColumn('latency_max_seconds', 'double precision', (col) => col.notNull())
    .addPrimaryKeyConstraint('metric_history_pkey', ['minute', 'instance_id', 'kind', 'name'])
    .execute();
  // Reads ask for one series over a range of minutes.
  await db.schema
    .createIndex('metric_history_series_minute')
    .on('metric_history')
    .columns(['kind', 'name', 'minute'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('metric_history').execute();
}
