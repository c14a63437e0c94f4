import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';
import type { AlertComparator, AlertRuleRow, AlertSeverity, AlertState } from './alert-rules.table';

/** A rule and its current state (null before its first evaluation). */
export interface AlertRuleWithState extends AlertRuleRow {
  state: AlertState | null;
  state_since: Date | null;
  last_value: number | null;
  last_evaluated_at: Date | null;
  fingerprint: string | null;
}

/** What a rule is made of, as stored. */
export interface AlertRuleDefinition {
  name: string;
  expression: string;
  comparator: AlertComparator;
  threshold: number;
  for_seconds: number;
  severity: AlertSeverity;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  enabled: boolean;
}

// Serialises the synchronisation of the default rules between instances starting together:
// "alru" in ASCII, a number no other code locks on.
const DEFAULT_RULES_LOCK = 0x616c7275;

function withState(db: Kysely<Database>) {
  return db
    .selectFrom('alert_rules as r')
    .leftJoin('alert_states as s', 's.rule_id', 'r.id')
    .selectAll('r')
    .select(['s.state', 's.since as state_since', 's.last_value', 's.last_evaluated_at', 's.fingerprint']);
}

/** The rules an organization sees: the platform-wide ones and its own, platform-wide first. */
export function listVisibleRules(
  db: Kysely<Database>,
  organizationId: string,
): Promise<AlertRuleWithState[]> {
  return withState(db)
    .where((eb) => eb.or([eb('r.organization_id', 'is', null), eb('r.organization_id', '=', organizationId)]))
    .orderBy(sql`r.organization_id is not null`)
    .orderBy('r.name')
    .execute();
}

/** One rule the organization sees (platform-wide or its own). */
export function findVisibleRule(
  db: Kysely<Database>,
  id: string,
  organizationId: string,
  { forUpdate = false }: { forUpdate?: boolean } = {},
): Promise<AlertRuleWithState | undefined> {
  let query = withState(db)
    .where('r.id', '=', id)
    .where((eb) =>
      eb.or([eb('r.organization_id', 'is', null), eb('r.organization_id', '=', organizationId)]),
    );
  // Only the rule's row: FOR UPDATE cannot lock the nullable side of the outer join.
  if (forUpdate) query = query.forUpdate('r');
  return query.executeTakeFirst();
}

/** Every enabled rule with its state: what one evaluation round works through. */
export function listEnabledRules(db: Kysely<Database>): Promise<AlertRuleWithState[]> {
  return withState(db).where('r.enabled', '=', true).orderBy('r.name').execute();
}

export function insertRule(
  db: Kysely<Database>,
  organizationId: string | null,
  rule: AlertRuleDefinition,
): Promise<AlertRuleRow> {
  return db
    .insertInto('alert_rules')
    .values({ ...serialise(rule), organization_id: organizationId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function updateRule(
  db: Kysely<Database>,
  id: string,
  changes: Partial<AlertRuleDefinition>,
): Promise<AlertRuleRow> {
  const { labels, annotations, ...rest } = changes;
  return db
    .updateTable('alert_rules')
    .set({
      ...rest,
      ...(labels ? { labels: JSON.stringify(labels) } : {}),
      ...(annotations ? { annotations: JSON.stringify(annotations) } : {}),
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteRule(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('alert_rules').where('id', '=', id).execute();
}

/**
 * Makes the platform-wide rules exactly `rules`: inserts the missing, updates the changed and
 * deletes the ones no longer defined. Their states and histories survive an unchanged rule.
 */
export async function syncPlatformRules(
  trx: Kysely<Database>,
  rules: readonly AlertRuleDefinition[],
): Promise<{ inserted: number; updated: number; deleted: number }> {
  await sql`select pg_advisory_xact_lock(${DEFAULT_RULES_LOCK}::bigint)`.execute(trx);
  const stored = await trx
    .selectFrom('alert_rules')
    .selectAll()
    .where('organization_id', 'is', null)
    .execute();
  const byName = new Map(stored.map((row) => [row.name, row]));
  const counts = { inserted: 0, updated: 0, deleted: 0 };
  for (const rule of rules) {
    const row = byName.get(rule.name);
    byName.delete(rule.name);
    if (!row) {
      await insertRule(trx, null, rule);
      counts.inserted++;
    } else if (!sameDefinition(row, rule)) {
      await updateRule(trx, row.id, rule);
      counts.updated++;
    }
  }
  const obsolete = [...byName.values()].map((row) => row.id);
  if (obsolete.length > 0) {
    await trx.deleteFrom('alert_rules').where('id', 'in', obsolete).execute();
    counts.deleted = obsolete.length;
  }
  return counts;
}

function serialise(rule: AlertRuleDefinition) {
  return { ...rule, labels: JSON.stringify(rule.labels), annotations: JSON.stringify(rule.annotations) };
}

function sameDefinition(row: AlertRuleRow, rule: AlertRuleDefinition): boolean {
  return (
    row.expression === rule.expression &&
    row.comparator === rule.comparator &&
    row.threshold === rule.threshold &&
    row.for_seconds === rule.for_seconds &&
    row.severity === rule.severity &&
    row.enabled === rule.enabled &&
    sameRecord(row.labels, rule.labels) &&
    sameRecord(row.annotations, rule.annotations)
  );
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
