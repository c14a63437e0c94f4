import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration describes the schema as it was on its date, so it takes
// Kysely<any> and never imports today's table types.

const now = sql`now()`;

export async function up(db: Kysely<any>): Promise<void> {
  // The control plane's state machine. `spec` is what the operator asked for; `current_step` indexes
  // the plan compiled from it (server/services/deployments/plan.ts), and `step_state` is how far the
  // current step got, so that another instance resumes it after a restart. `lease_owner` is the
  // instance driving the deployment until `lease_expires_at`.
  await db.schema
    .createTable('deployments')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('organization_id', 'uuid', (col) =>
      col.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('service', 'text', (col) => col.notNull())
    .addColumn('environment', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('stable_version', 'text')
    .addColumn('strategy', 'text', (col) =>
      col.notNull().check(sql`strategy in ('canary', 'blueGreen', 'rolling')`),
    )
    .addColumn('spec', 'jsonb', (col) => col.notNull())
    .addColumn('provider', 'jsonb', (col) => col.notNull())
    .addColumn('status', 'text', (col) =>
      col
        .notNull()
        .defaultTo('pending')
        .check(
          sql`status in ('pending', 'progressing', 'paused', 'promoted', 'aborted', 'rolled_back', 'failed')`,
        ),
    )
    .addColumn('current_step', 'integer', (col) => col.notNull().defaultTo(0).check(sql`current_step >= 0`))
    .addColumn('step_state', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('paused_reason', 'text')
    // An abort or rollback asked for and not yet carried out: the provider call is the engine's,
    // made by the lease holder, never by the request that asked.
    .addColumn('requested_action', 'text', (col) => col.check(sql`requested_action in ('abort', 'rollback')`))
    .addColumn('requested_reason', 'text')
    .addColumn('created_by', 'uuid', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('finished_at', 'timestamptz')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'timestamptz')
    .execute();

  // One active deployment per service and environment, enforced here rather than by a check in
  // code that two concurrent requests could both pass. A finished deployment being rolled back
  // counts as active too: traffic is moving.
  await db.schema
    .createIndex('deployments_one_active_idx')
    .on('deployments')
    .columns(['organization_id', 'service', 'environment'])
    .unique()
    .where(sql<boolean>`status in ('pending', 'progressing', 'paused') or requested_action is not null`)
    .execute();
  // What the engines poll for: small, since finished deployments leave it.
  await db.schema
    .createIndex('deployments_drivable_idx')
    .on('deployments')
    .column('created_at')
    .where(sql<boolean>`status in ('pending', 'progressing') or requested_action is not null`)
    .execute();
  await db.schema
    .createIndex('deployments_organization_idx')
    .on('deployments')
    .columns(['organization_id', 'created_at', 'id'])
    .execute();
  // The stable version of a service: its last promoted deployment.
  await db.schema
    .createIndex('deployments_promoted_idx')
    .on('deployments')
    .columns(['organization_id', 'service', 'environment', 'finished_at'])
    .where(sql.ref('status'), '=', 'promoted')
    .execute();

  // Every transition and measurement, written in the transaction that makes the change.
  await db.schema
    .createTable('deployment_events')
    .addColumn('id', 'bigint', (col) => col.generatedAlwaysAsIdentity().primaryKey())
    .addColumn('deployment_id', 'uuid', (col) =>
      col.notNull().references('deployments.id').onDelete('cascade'),
    )
    .addColumn('at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('from_status', 'text')
    .addColumn('to_status', 'text')
    .addColumn('step', 'integer')
    .addColumn('details', 'jsonb', (col) => col.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await db.schema
    .createIndex('deployment_events_deployment_idx')
    .on('deployment_events')
    .columns(['deployment_id', 'id'])
    .execute();

  // Versions a deployment may never go to again (new deployments and rollbacks alike).
  await db.schema
    .createTable('bad_versions')
    .addColumn('organization_id', 'uuid', (col) =>
      col.notNull().references('organizations.id').onDelete('cascade'),
    )
    .addColumn('service', 'text', (col) => col.notNull())
    .addColumn('environment', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('marked_at', 'timestamptz', (col) => col.notNull().defaultTo(now))
    .addColumn('reason', 'text', (col) => col.notNull())
    .addColumn('deployment_id', 'uuid', (col) => col.references('deployments.id').onDelete('set null'))
    .addPrimaryKeyConstraint('bad_versions_pkey', ['organization_id', 'service', 'environment', 'version'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('bad_versions').execute();
  await db.schema.dropTable('deployment_events').execute();
  await db.schema.dropTable('deployments').execute();
}
