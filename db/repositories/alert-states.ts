import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';
import type { AlertState, AlertTransitionTo } from './alert-rules.table';
import type { AlertHistoryRow } from './alert-states.table';

// The per-round lock of alert evaluation: "alrt" in ASCII, a number no other code locks on.
const EVALUATION_LOCK = 0x616c7274;

/**
 * Takes the round's lock if no other instance holds it; released when the transaction ends.
 * A try-lock: an instance that finds it taken skips the round rather than queueing behind it.
 */
export async function tryLockEvaluationRound(trx: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ locked: boolean }>`
    select pg_try_advisory_xact_lock(${EVALUATION_LOCK}::bigint) as locked
  `.execute(trx);
  return rows[0]?.locked === true;
}

/** Whether another holder's lease is still running: read without a lock, so a follower never waits. */
export async function leaseHeldByAnother(db: Kysely<Database>, holder: string): Promise<boolean> {
  const row = await db
    .selectFrom('alert_evaluator_lease')
    .select('holder')
    .where('holder', '!=', holder)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Takes or renews the evaluator lease for `holder` until `leaseMs` from now, unless another holder's
 * lease is still running. Returns whether `holder` leads. Times are the database's, so instances'
 * clocks do not matter.
 */
export async function takeEvaluatorLease(
  trx: Kysely<Database>,
  holder: string,
  leaseMs: number,
): Promise<boolean> {
  const expires = sql<Date>`now() + make_interval(secs => ${leaseMs / 1000}::float8)`;
  const row = await trx
    .insertInto('alert_evaluator_lease')
    .values({ id: true, holder, expires_at: expires })
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet({ holder, expires_at: expires })
        .where((eb) =>
          eb.or([
            eb('alert_evaluator_lease.holder', '=', holder),
            eb('alert_evaluator_lease.expires_at', '<', sql<Date>`now()`),
          ]),
        ),
    )
    .returning('holder')
    .executeTakeFirst();
  return row !== undefined;
}

/** Gives the lease up, so another instance takes over at its next round. */
export async function releaseEvaluatorLease(db: Kysely<Database>, holder: string): Promise<void> {
  await db.deleteFrom('alert_evaluator_lease').where('holder', '=', holder).execute();
}

/** The transaction's clock: one `now` for every state and history row a round writes. */
export async function transactionNow(trx: Kysely<Database>): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`select now() as now`.execute(trx);
  return (rows[0] as { now: Date }).now;
}

export interface AlertStateValues {
  rule_id: string;
  state: AlertState;
  since: Date;
  last_value: number | null;
  last_evaluated_at: Date;
  fingerprint: string;
}

export async function upsertAlertState(db: Kysely<Database>, values: AlertStateValues): Promise<void> {
  await db
    .insertInto('alert_states')
    .values(values)
    .onConflict((oc) =>
      oc.column('rule_id').doUpdateSet({
        state: values.state,
        since: values.since,
        last_value: values.last_value,
        last_evaluated_at: values.last_evaluated_at,
        fingerprint: values.fingerprint,
      }),
    )
    .execute();
}

export interface AlertHistoryValues {
  rule_id: string;
  organization_id: string | null;
  rule_name: string;
  from_state: AlertState;
  to_state: AlertTransitionTo;
  value: number | null;
  at: Date;
}

export async function insertAlertHistory(db: Kysely<Database>, values: AlertHistoryValues): Promise<void> {
  await db.insertInto('alert_history').values(values).execute();
}

export interface HistoryQuery {
  organizationId: string;
  ruleId?: string;
  limit: number;
  /** The id of the last entry of the previous page. */
  before?: string;
}

/** History an organization sees (platform-wide rules' and its own), newest first. */
export function listAlertHistory(db: Kysely<Database>, query: HistoryQuery): Promise<AlertHistoryRow[]> {
  let select = db
    .selectFrom('alert_history')
    .selectAll()
    .where((eb) =>
      eb.or([eb('organization_id', 'is', null), eb('organization_id', '=', query.organizationId)]),
    );
  if (query.ruleId) select = select.where('rule_id', '=', query.ruleId);
  if (query.before) select = select.where('id', '<', query.before);
  return select.orderBy('id', 'desc').limit(query.limit).execute();
}

/** Deletes history older than `before`; returns how many entries went. */
export async function deleteAlertHistoryBefore(db: Kysely<Database>, before: Date): Promise<number> {
  const result = await db.deleteFrom('alert_history').where('at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
