import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.
//
// Passkeys (WebAuthn) as a second factor beside TOTP: the users' credentials, the challenges of
// their registrations, and the WebAuthn challenge a sign-in's second step signs.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('passkeys')
    // The credential id the authenticator chose, base64url.
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('organization_id', 'uuid', (col) =>
      col.notNull().references('organizations.id').onDelete('cascade'),
    )
    // The COSE public key: not a secret, but only it verifies the credential's signatures.
    .addColumn('public_key', 'bytea', (col) => col.notNull())
    // The authenticator's signature counter (WebAuthn §6.1.1): a clone shows as a counter going back.
    .addColumn('counter', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('transports', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('passkeys_user_idx').on('passkeys').column('user_id').execute();

  await db.schema
    .createTable('passkey_registrations')
    .addColumn('user_id', 'uuid', (col) => col.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('challenge', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .execute();

  await db.schema.alterTable('second_factor_challenges').addColumn('webauthn_challenge', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('second_factor_challenges').dropColumn('webauthn_challenge').execute();
  await db.schema.dropTable('passkey_registrations').execute();
  await db.schema.dropTable('passkeys').execute();
}
