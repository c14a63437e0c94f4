import type { Kysely } from 'kysely';
import type { Database } from '../database';
import type { MetricHistoryRow, NewMetricHistoryRow } from './metric-history.table';

/**
 * Stores minutes of the request history. A minute an instance already wrote is left as it is, so
 * a write repeated after a lost connection changes nothing.
 */
export async function insertMetricHistory(db: Kysely<Database>, rows: NewMetricHistoryRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('metric_history')
    .values(rows)
    .onConflict((oc) => oc.columns(['minute', 'instance_id', 'kind', 'name']).doNothing())
    .execute();
}

/** Every instance's minutes of one series from `from` on, oldest first. */
export async function listMetricHistory(
  db: Kysely<Database>,
  { kind, name, from }: { kind: 'route' | 'procedure'; name: string; from: Date },
): Promise<MetricHistoryRow[]> {
  return db
    .selectFrom('metric_history')
    .selectAll()
    .where('kind', '=', kind)
    .where('name', '=', name)
    .where('minute', '>=', from)
    .orderBy('minute')
    .execute();
}

/** Forgets minutes before `before`; returns how many rows went. */
export async function deleteMetricHistoryBefore(db: Kysely<Database>, before: Date): Promise<number> {
  const result = await db.deleteFrom('metric_history').where('minute', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
