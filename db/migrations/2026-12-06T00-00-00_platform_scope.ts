import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.
//
// Two levels of authority: a platform role on users (the installation) beside their
// organization role (their tenant); organizations that can be suspended; invitations; and
// annotations and audit events that belong to an organization or to the platform.

export async function up(db: Kysely<any>): Promise<void> {
  // null: no platform authority at all, whatever the organization role.
  await db.schema
    .alterTable('users')
    .addColumn('platform_role', 'text', (col) => col.check(sql`platform_role in ('operator', 'admin')`))
    .execute();
  // The bootstrap admin (the first admin of the first organization) held the installation until
  // now: the admins of the oldest organization keep it.
  await sql`
    update users set platform_role = 'admin'
    where role = 'admin'
      and organization_id = (select id from organizations order by created_at, id limit 1)
  `.execute(db);

  await db.schema.alterTable('organizations').addColumn('suspended_at', 'timestamptz').execute();
  await db.schema.alterTable('organizations').addColumn('suspended_reason', 'text').execute();

  await db.schema
    .createTable('invitations')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) =>
      col.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('email', 'text', (col) => col.notNull())
    .addColumn('role', 'text', (col) => col.notNull().check(sql`role in ('viewer', 'operator', 'admin')`))
    // Hex SHA-256 of the invitation token; the token itself is shown once and never stored.
    .addColumn('token_hash', 'text', (col) => col.notNull().unique())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('invited_by', 'uuid', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('accepted_at', 'timestamptz')
    .addColumn('accepted_user_id', 'uuid', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('invitations_organization_idx')
    .on('invitations')
    .columns(['organization_id', 'created_at', 'id'])
    .execute();

  // Annotations belong to an organization. Existing ones were written by the operators of the
  // installation, who belonged to the oldest organization.
  await db.schema
    .alterTable('annotations')
    .addColumn('organization_id', 'uuid', (col) => col.references('organizations.id').onDelete('cascade'))
    .execute();
  await sql`
    update annotations set organization_id = (select id from organizations order by created_at, id limit 1)
  `.execute(db);
  await sql`delete from annotations where organization_id is null`.execute(db);
  await db.schema
    .alterTable('annotations')
    .alterColumn('organization_id', (col) => col.setNotNull())
    .execute();
  await sql`alter table annotations drop constraint if exists annotations_idempotency_key_key`.execute(db);
  await db.schema
    .alterTable('annotations')
    .addUniqueConstraint('annotations_organization_idempotency_key', ['organization_id', 'idempotency_key'])
    .execute();
  await db.schema
    .createIndex('annotations_organization_idx')
    .on('annotations')
    .columns(['organization_id', 'id'])
    .execute();

  // Platform actions (drain, maintenance, backups, key rotation...) are audited in the platform's
  // own log, which platform roles read; an organization's admins read their organization's.
  await db.schema
    .alterTable('audit_events')
    .addColumn('scope', 'text', (col) =>
      col.notNull().defaultTo('organization').check(sql`scope in ('organization', 'platform')`),
    )
    .execute();
  await db.schema.createIndex('audit_events_scope_idx').on('audit_events').columns(['scope', 'id']).execute();
  // Deleting an organization purges its data; its audit events go with it, except the platform's
  // record of the deletion, which names it by id only.
  await sql`alter table audit_events drop constraint if exists audit_events_organization_id_fkey`.execute(db);
  await sql`
    alter table audit_events add constraint audit_events_organization_id_fkey
    foreign key (organization_id) references organizations(id) on delete cascade
  `.execute(db);
  // A deleted session (its user removed, its organization deleted) leaves a tombstone: an
  // instance whose change feed was down when it happened rebuilds its revoked-session list from
  // revoked sessions *and* tombstones, so the deleted session's access tokens stay refused until
  // they expire. Tombstones older than the longest access-token lifetime (a day) are pruned as
  // new ones are written.
  await db.schema
    .createTable('session_tombstones')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('revoked_at', 'timestamptz', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('session_tombstones_revoked_idx')
    .on('session_tombstones')
    .column('revoked_at')
    .execute();
  await sql`
    create function remember_deleted_session() returns trigger language plpgsql as $$
    begin
      delete from session_tombstones where revoked_at < now() - interval '1 day';
      insert into session_tombstones (id, revoked_at) values (old.id, coalesce(old.revoked_at, now()))
        on conflict (id) do nothing;
      if old.revoked_at is null then
        perform pg_notify('session_revocations', old.id::text);
      end if;
      return old;
    end
    $$
  `.execute(db);
  await sql`
    create trigger sessions_remember_deleted after delete on sessions
    for each row execute function remember_deleted_session()
  `.execute(db);

  // Backups are the platform's now: listed across organizations, newest first.
  await db.schema.createIndex('backups_created_idx').on('backups').columns(['created_at', 'id']).execute();

  // Users, sessions and keys go with their organization when it is deleted.
  await sql`alter table users drop constraint if exists users_organization_id_fkey`.execute(db);
  await sql`alter table users add constraint users_organization_id_fkey foreign key (organization_id) references organizations(id) on delete cascade`.execute(
    db,
  );
  await sql`alter table sessions drop constraint if exists sessions_organization_id_fkey`.execute(db);
  await sql`alter table sessions add constraint sessions_organization_id_fkey foreign key (organization_id) references organizations(id) on delete cascade`.execute(
    db,
  );
  await sql`alter table api_keys drop constraint if exists api_keys_organization_id_fkey`.execute(db);
  await sql`alter table api_keys add constraint api_keys_organization_id_fkey foreign key (organization_id) references organizations(id) on delete cascade`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('backups_created_idx').execute();
  await sql`drop trigger sessions_remember_deleted on sessions`.execute(db);
  await sql`drop function remember_deleted_session()`.execute(db);
  await db.schema.dropTable('session_tombstones').execute();
  // The organization foreign keys without the cascade again.
  await sql`alter table users drop constraint users_organization_id_fkey, add constraint users_organization_id_fkey foreign key (organization_id) references organizations(id)`.execute(
    db,
  );
  await sql`alter table sessions drop constraint sessions_organization_id_fkey, add constraint sessions_organization_id_fkey foreign key (organization_id) references organizations(id)`.execute(
    db,
  );
  await sql`alter table api_keys drop constraint api_keys_organization_id_fkey, add constraint api_keys_organization_id_fkey foreign key (organization_id) references organizations(id)`.execute(
    db,
  );
  await sql`alter table audit_events drop constraint if exists audit_events_organization_id_fkey`.execute(db);
  await sql`
    alter table audit_events add constraint audit_events_organization_id_fkey
    foreign key (organization_id) references organizations(id)
  `.execute(db);
  await db.schema.dropIndex('audit_events_scope_idx').execute();
  await db.schema.alterTable('audit_events').dropColumn('scope').execute();
  await db.schema.dropIndex('annotations_organization_idx').execute();
  await db.schema
    .alterTable('annotations')
    .dropConstraint('annotations_organization_idempotency_key')
    .execute();
  await db.schema.alterTable('annotations').dropColumn('organization_id').execute();
  await sql`alter table annotations add constraint annotations_idempotency_key_key unique (idempotency_key)`.execute(
    db,
  );
  await db.schema.dropTable('invitations').execute();
  await db.schema.alterTable('organizations').dropColumn('suspended_reason').execute();
  await db.schema.alterTable('organizations').dropColumn('suspended_at').execute();
  await db.schema.alterTable('users').dropColumn('platform_role').execute();
}
