import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.
//
// Neither table references organizations or users, on purpose: they are the bookkeeping of the
// archives, kept out of every backup, and a restore into the platform's own database truncates
// organizations and users in one statement, which PostgreSQL refuses while another table still
// references them. They describe archives on disk, which outlive the rows they were taken from.

const now = sql`now()`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('backup_schedules')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) => col.notNull())
    // Five fields (minute hour day-of-month month day-of-week), evaluated in UTC.
    .addColumn('cron', 'text', (col) => col.notNull())
    // Keep the newest N successful backups, and/or those younger than D days; neither keeps all.
    .addColumn('retention_count', 'integer', (col) => col.check(sql`retention_count > 0`))
    .addColumn('retention_days', 'integer', (col) => col.check(sql`retention_days > 0`))
    .addColumn('enabled', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('last_run_at', 'timestamptz')
    .addColumn('next_run_at', 'timestamptz', (col) => col.notNull())
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .execute();
  await db.schema
    .createIndex('backup_schedules_due_idx')
    .on('backup_schedules')
    .column('next_run_at')
    .where(sql.ref('enabled'), '=', true)
    .execute();

  await db.schema
    .createTable('backups')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) => col.notNull())
    .addColumn('schedule_id', 'uuid', (col) => col.references('backup_schedules.id').onDelete('set null'))
    .addColumn('status', 'text', (col) =>
      col.notNull().check(sql`status in ('running', 'succeeded', 'failed')`),
    )
    .addColumn('method', 'text', (col) => col.check(sql`method in ('copy', 'pg_dump')`))
    // The archive's directory; it exists only once the backup succeeded (written aside, then renamed).
    .addColumn('path', 'text', (col) => col.notNull())
    .addColumn('manifest', 'jsonb')
    .addColumn('size_bytes', 'bigint')
    .addColumn('duration_ms', 'integer')
    .addColumn('error', 'text')
    .addColumn('created_by', 'uuid')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('finished_at', 'timestamptz')
    .addColumn('verified_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('backups_organization_idx')
    .on('backups')
    .columns(['organization_id', 'created_at', 'id'])
    .execute();
  await db.schema
    .createIndex('backups_schedule_idx')
    .on('backups')
    .columns(['schedule_id', 'created_at'])
    .execute();
  // The metrics read the latest successful backup at every scrape.
  await db.schema
    .createIndex('backups_succeeded_idx')
    .on('backups')
    .column('finished_at')
    .where(sql.ref('status'), '=', 'succeeded')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('backups').execute();
  await db.schema.dropTable('backup_schedules').execute();
}
