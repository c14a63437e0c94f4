import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.
//
// A second factor for people (docs/security.md, "Second factor"): a TOTP secret per user, sealed
// under the key-encryption key; ten one-time recovery codes, hashed; the challenges that sit
// between a password and the second step; an organization's requirement; and what each session
// was authenticated with (its access tokens' `amr`).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('totp_factors')
    .addColumn('user_id', 'uuid', (col) => col.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('organization_id', 'uuid', (col) =>
      col.notNull().references('organizations.id').onDelete('cascade'),
    )
    // `v1.<kek id>.<iv>.<ciphertext>.<tag>` (server/base/sealed-secret.ts), bound to the user id.
    .addColumn('secret_sealed', 'text', (col) => col.notNull())
    // Null while enrolment waits for its first valid code: until then the factor is not asked for.
    .addColumn('confirmed_at', 'timestamptz')
    // The last time step (unix time / 30 s) a code was accepted for: RFC 6238 §5.2, a code works once.
    .addColumn('last_used_step', 'bigint')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('recovery_codes')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    // Hex SHA-256 of the code (80 random bits); the code itself is shown once.
    .addColumn('code_hash', 'text', (col) => col.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('recovery_codes_user_idx')
    .on('recovery_codes')
    .columns(['user_id', 'code_hash'])
    .unique()
    .execute();

  await db.schema
    .createTable('second_factor_challenges')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    // Hex SHA-256 of the challenge token; the token is handed to the client once.
    .addColumn('token_hash', 'text', (col) => col.notNull().unique())
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('organization_id', 'uuid', (col) =>
      col.notNull().references('organizations.id').onDelete('cascade'),
    )
    // verify: the user has a factor and must present it; enrol: the organization requires one
    // and the user has none yet.
    .addColumn('purpose', 'text', (col) => col.notNull().check(sql`purpose in ('verify', 'enrol')`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('failures', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('second_factor_challenges_user_idx')
    .on('second_factor_challenges')
    .columns(['user_id', 'expires_at'])
    .execute();

  await db.schema
    .alterTable('organizations')
    .addColumn('require_second_factor', 'boolean', (col) => col.notNull().defaultTo(false))
    .execute();
  // RFC 8176 method names; sessions opened before this migration were opened with a password.
  await db.schema
    .alterTable('sessions')
    .addColumn('amr', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{pwd}'::text[]`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('amr').execute();
  await db.schema.alterTable('organizations').dropColumn('require_second_factor').execute();
  await db.schema.dropTable('second_factor_challenges').execute();
  await db.schema.dropTable('recovery_codes').execute();
  await db.schema.dropTable('totp_factors').execute();
}
