import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.

const now = sql`now()`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('organizations')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) => col.notNull().references('organizations.id'))
    // Stored lower-cased (the service normalises), so a plain unique index is case-insensitive.
    .addColumn('email', 'text', (col) => col.notNull().unique())
    .addColumn('name', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('password_hash', 'text', (col) => col.notNull())
    .addColumn('role', 'text', (col) => col.notNull().check(sql`role in ('admin', 'operator', 'viewer')`))
    .addColumn('disabled', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('password_changed_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .execute();
  await db.schema.createIndex('users_organization_idx').on('users').column('organization_id').execute();

  // A session is one refresh-token family: one login on one device.
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('organization_id', 'uuid', (col) => col.notNull().references('organizations.id'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('last_used_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    // The absolute lifetime; the idle timeout is counted from last_used_at.
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_reason', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .execute();
  await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();
  // Instances read recent revocations at start and after a reconnect of the change feed.
  await db.schema
    .createIndex('sessions_revoked_at_idx')
    .on('sessions')
    .column('revoked_at')
    .where(sql.ref('revoked_at'), 'is not', null)
    .execute();
  // Every revocation, whatever code path makes it, is announced on commit to every instance,
  // which then refuses the session's access tokens at once (server/services/auth/revoked-sessions.ts).
  await sql`
    create function notify_session_revoked() returns trigger language plpgsql as $$
    begin
      if new.revoked_at is not null and old.revoked_at is null then
        perform pg_notify('session_revocations', new.id::text);
      end if;
      return new;
    end
    $$
  `.execute(db);
  await sql`
    create trigger sessions_notify_revoked after update of revoked_at on sessions
    for each row execute function notify_session_revoked()
  `.execute(db);

  // Only hashes. parent_id chains a family's tokens; rotated_at marks a token that has a child.
  await db.schema
    .createTable('refresh_tokens')
    .addColumn('id', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('session_id', 'uuid', (col) => col.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (col) => col.notNull().unique())
    .addColumn('parent_id', 'bigint', (col) => col.references('refresh_tokens.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('rotated_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('refresh_tokens_session_idx')
    .on('refresh_tokens')
    .column('session_id')
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) => col.notNull().references('organizations.id'))
    .addColumn('owner_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('key_hash', 'text', (col) => col.notNull().unique())
    // The key's first characters (`bc_live_abcd`), for listings; never unique, never looked up by.
    .addColumn('prefix', 'text', (col) => col.notNull())
    .addColumn('scopes', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('expires_at', 'timestamptz')
    // Uses left; null is unlimited. Decremented atomically by verification.
    .addColumn('remaining', 'integer', (col) => col.check(sql`remaining >= 0`))
    // [{ name, limit, periodMs }]: the key's own named rate limits.
    .addColumn('rate_limits', 'jsonb', (col) => col.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('enabled', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('revoked_at', 'timestamptz')
    // Set on the old key by a rotation: the key that replaced it.
    .addColumn('replaced_by', 'uuid', (col) => col.references('api_keys.id').onDelete('set null'))
    .execute();
  await db.schema.createIndex('api_keys_organization_idx').on('api_keys').column('organization_id').execute();

  // JWT signing keys. The private part is sealed (AES-256-GCM) with AUTH_KEY_ENCRYPTION_KEY.
  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (col) => col.primaryKey())
    .addColumn('alg', 'text', (col) => col.notNull())
    .addColumn('public_jwk', 'jsonb', (col) => col.notNull())
    .addColumn('private_sealed', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    // Set when a newer key takes over signing: from then on the key only verifies.
    .addColumn('superseded_at', 'timestamptz')
    // Once past, no token it signed can still be valid: it leaves the JWKS.
    .addColumn('retire_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('organization_id', 'uuid', (col) => col.references('organizations.id'))
    .addColumn('actor_user_id', 'uuid')
    .addColumn('actor_api_key_id', 'uuid')
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('result', 'text', (col) => col.notNull().check(sql`result in ('success', 'failure')`))
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('details', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .execute();
  await db.schema
    .createIndex('audit_events_organization_idx')
    .on('audit_events')
    .columns(['organization_id', 'id'])
    .execute();

  // Failed logins per account and per IP, for growing delays shared by every instance.
  await db.schema
    .createTable('login_failures')
    .addColumn('key', 'text', (col) => col.primaryKey())
    .addColumn('failures', 'integer', (col) => col.notNull())
    .addColumn('last_failure_at', 'timestamptz', (col) => col.notNull())
    .addColumn('locked_until', 'timestamptz', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'login_failures',
    'audit_events',
    'signing_keys',
    'api_keys',
    'refresh_tokens',
    'sessions',
    'users',
    'organizations',
  ]) {
    await db.schema.dropTable(table).execute();
  }
  await sql`drop function notify_session_revoked()`.execute(db);
}
