import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types. Default rules are not seeded here: they
// live in code (server/services/alerts/default-rules.ts) and are synchronised at start, so a
// later release can change them without a migration.

const now = sql`now()`;

export async function up(db: Kysely<any>): Promise<void> {
  // organization_id null: a platform-wide rule, managed by the platform itself.
  await db.schema
    .createTable('alert_rules')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) => col.references('organizations.id').onDelete('cascade'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('expression', 'text', (col) => col.notNull())
    .addColumn('comparator', 'text', (col) =>
      col.notNull().check(sql`comparator in ('>', '>=', '<', '<=', '==', '!=')`),
    )
    .addColumn('threshold', 'float8', (col) => col.notNull())
    .addColumn('for_seconds', 'integer', (col) => col.notNull().defaultTo(0).check(sql`for_seconds >= 0`))
    .addColumn('severity', 'text', (col) =>
      col.notNull().check(sql`severity in ('info', 'warning', 'critical')`),
    )
    .addColumn('labels', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('annotations', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('enabled', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .execute();
  // One name per organization, and one among platform-wide rules (a plain unique index would let
  // any number of null organizations share a name; NULLS NOT DISTINCT needs PostgreSQL 15).
  await sql`create unique index alert_rules_name_idx on alert_rules (coalesce(organization_id::text, ''), name)`.execute(
    db,
  );

  await db.schema
    .createTable('alert_states')
    .addColumn('rule_id', 'uuid', (col) => col.primaryKey().references('alert_rules.id').onDelete('cascade'))
    .addColumn('state', 'text', (col) => col.notNull().check(sql`state in ('inactive', 'pending', 'firing')`))
    // When the current state began: for firing, when the alert fired (Alertmanager's startsAt).
    .addColumn('since', 'timestamptz', (col) => col.notNull())
    .addColumn('last_value', 'float8')
    .addColumn('last_evaluated_at', 'timestamptz', (col) => col.notNull())
    .addColumn('fingerprint', 'text', (col) => col.notNull())
    .execute();

  // The rule's name and organization are copied so the history outlives a deleted rule.
  await db.schema
    .createTable('alert_history')
    .addColumn('id', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('rule_id', 'uuid', (col) => col.references('alert_rules.id').onDelete('set null'))
    .addColumn('organization_id', 'uuid', (col) => col.references('organizations.id').onDelete('cascade'))
    .addColumn('rule_name', 'text', (col) => col.notNull())
    .addColumn('from_state', 'text', (col) =>
      col.notNull().check(sql`from_state in ('inactive', 'pending', 'firing')`),
    )
    .addColumn('to_state', 'text', (col) =>
      col.notNull().check(sql`to_state in ('inactive', 'pending', 'firing', 'resolved')`),
    )
    .addColumn('value', 'float8')
    .addColumn('at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .execute();
  await db.schema
    .createIndex('alert_history_organization_idx')
    .on('alert_history')
    .columns(['organization_id', 'id'])
    .execute();
  await db.schema
    .createIndex('alert_history_rule_idx')
    .on('alert_history')
    .columns(['rule_id', 'id'])
    .execute();

  // The HMAC secret must be usable to sign, so it cannot be hashed: it is sealed with AES-256-GCM
  // under the key-encryption key (server/base/sealed-secret.ts).
  await db.schema
    .createTable('alert_webhooks')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('organization_id', 'uuid', (col) =>
      col.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('url', 'text', (col) => col.notNull())
    .addColumn('secret_sealed', 'text', (col) => col.notNull())
    .addColumn('enabled', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .execute();
  await db.schema
    .createIndex('alert_webhooks_organization_idx')
    .on('alert_webhooks')
    .column('organization_id')
    .execute();

  // The outbox: written in the transaction that changes an alert's state, delivered afterwards,
  // so a notification is never lost between the two (nor sent for a change that rolled back).
  await db.schema
    .createTable('alert_notifications')
    .addColumn('id', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('webhook_id', 'uuid', (col) =>
      col.notNull().references('alert_webhooks.id').onDelete('cascade'),
    )
    .addColumn('payload', 'jsonb', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('delivered_at', 'timestamptz')
    // Given up: out of attempts, or refused by the receiver as a request it will never accept.
    .addColumn('abandoned_at', 'timestamptz')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .execute();
  // Each webhook's queue, oldest first: a notification goes only once those before it are done.
  await db.schema
    .createIndex('alert_notifications_queue_idx')
    .on('alert_notifications')
    .columns(['webhook_id', 'id'])
    .where(sql.ref('delivered_at'), 'is', null)
    .where(sql.ref('abandoned_at'), 'is', null)
    .execute();
  await db.schema
    .createIndex('alert_notifications_due_idx')
    .on('alert_notifications')
    .column('next_attempt_at')
    .where(sql.ref('delivered_at'), 'is', null)
    .where(sql.ref('abandoned_at'), 'is', null)
    .execute();

  // Which instance evaluates: one row, renewed every round by its holder. Together with the
  // per-round advisory lock it keeps one evaluator in charge until it stops renewing, so the
  // alerts follow one instance's view of its metrics instead of flapping between replicas.
  await db.schema
    .createTable('alert_evaluator_lease')
    .addColumn('id', 'boolean', (col) => col.primaryKey().defaultTo(true).check(sql`id`))
    .addColumn('holder', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('alert_evaluator_lease').execute();
  await db.schema.dropTable('alert_notifications').execute();
  await db.schema.dropTable('alert_webhooks').execute();
  await db.schema.dropTable('alert_history').execute();
  await db.schema.dropTable('alert_states').execute();
  await db.schema.dropTable('alert_rules').execute();
}
