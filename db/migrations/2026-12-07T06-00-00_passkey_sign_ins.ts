import type { Kysely } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.
//
// Passwordless sign-in with a passkey: the WebAuthn challenges handed out before anyone is known
// (the passkey names its user), each valid a few minutes and used once.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('passkey_sign_ins')
    .addColumn('challenge', 'text', (col) => col.primaryKey())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('passkey_sign_ins_expires_idx')
    .on('passkey_sign_ins')
    .column('expires_at')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('passkey_sign_ins').execute();
}
