import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.

export async function up(db: Kysely<any>): Promise<void> {
  // Verifications of each API key per minute and outcome. Instances add their counts into the
  // same rows. They go with their key (a removed user's keys, a deleted organization's).
  await db.schema
    .createTable('api_key_verifications')
    .addColumn('key_id', 'uuid', (col) => col.notNull().references('api_keys.id').onDelete('cascade'))
    .addColumn('minute', 'timestamptz', (col) => col.notNull())
    .addColumn('outcome', 'text', (col) => col.notNull())
    .addColumn('count', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('api_key_verifications_pkey', ['key_id', 'minute', 'outcome'])
    .addCheckConstraint('api_key_verifications_count_positive', sql`count > 0`)
    .execute();
  // Retention deletes by age across every key.
  await db.schema
    .createIndex('api_key_verifications_minute')
    .on('api_key_verifications')
    .column('minute')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('api_key_verifications').execute();
}
