import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.

const now = sql`now()`;

export async function up(db: Kysely<any>): Promise<void> {
  // The default environments (development, staging, production) are not seeded here: they are
  // created per organization by server/services/devops/environments.ts, as organizations appear.
  await db.schema
    .createTable('environments')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) =>
      col.notNull().references('organizations.id').onDelete('cascade'),
    )
    // The same pattern as shared/devops-environments.ts: the name goes into URLs and audit details.
    .addColumn('name', 'text', (col) => col.notNull().check(sql`name ~ '^[a-z][a-z0-9-]{0,62}$'`))
    .addColumn('description', 'text', (col) => col.notNull().defaultTo(''))
    // Protected: stricter configuration rules and no blind writes (see config-schema.ts).
    .addColumn('protected', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addUniqueConstraint('environments_organization_name_key', ['organization_id', 'name'])
    .execute();

  // Append-only: the current configuration is an environment's highest revision. A change, and a
  // rollback too, is a new row, so the history is complete and every row has an author.
  await db.schema
    .createTable('config_revisions')
    .addColumn('id', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('environment_id', 'uuid', (col) =>
      col.notNull().references('environments.id').onDelete('cascade'),
    )
    .addColumn('revision', 'integer', (col) => col.notNull().check(sql`revision >= 1`))
    .addColumn('values', 'jsonb', (col) =>
      col.notNull().defaultTo(sql`'{}'::jsonb`).check(sql`jsonb_typeof("values") = 'object'`),
    )
    // Name -> { sealed, fingerprint }: AES-256-GCM under the key-encryption key, never plaintext.
    .addColumn('secrets', 'jsonb', (col) =>
      col.notNull().defaultTo(sql`'{}'::jsonb`).check(sql`jsonb_typeof(secrets) = 'object'`),
    )
    .addColumn('author_user_id', 'uuid', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('author_api_key_id', 'uuid', (col) => col.references('api_keys.id').onDelete('set null'))
    .addColumn('message', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('rolled_back_from', 'integer', (col) =>
      col.check(sql`rolled_back_from is null or (rolled_back_from >= 1 and rolled_back_from < revision)`),
    )
    // The backstop of the service's row lock: two writers can never both make revision n.
    .addUniqueConstraint('config_revisions_environment_revision_key', ['environment_id', 'revision'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('config_revisions').execute();
  await db.schema.dropTable('environments').execute();
}
