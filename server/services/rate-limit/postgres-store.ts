import { type Kysely, sql } from 'kysely';
import type { Database } from '../../../db/database';
import {
  checkCost,
  describeDecision,
  gcraParameters,
  type RateLimitDecision,
  type RateLimitPolicy,
} from './gcra';
import type { RateLimitStore } from './store';

/**
 * Rate-limit state in PostgreSQL, shared by every instance. Each consume is one upsert that
 * computes GCRA in SQL: PostgreSQL locks the key's row for the ON CONFLICT update, so concurrent
 * consumes on one key, from any instance, are applied one after the other, each seeing the TAT
 * the previous one wrote. Two first requests on a new key are serialised by the primary key the
 * same way: the loser of the insert takes the update path.
 *
 * No retry on a lost connection: the upsert may have been applied, and repeating it would charge
 * twice. Whether to admit or refuse when the store fails is the caller's policy.
 */
export class PostgresRateLimitStore implements RateLimitStore {
  constructor(private readonly db: Kysely<Database>) {}

  async consume(key: string, policy: RateLimitPolicy, cost = 1, now?: number): Promise<RateLimitDecision> {
    const parameters = gcraParameters(policy);
    checkCost(cost, parameters);
    const n = databaseNow(now);
    const increment = sql<number>`${parameters.emissionIntervalMs * cost}::float8`;
    const tolerance = sql<number>`${parameters.maxAheadMs}::float8`;
    // The arithmetic mirrors gcra() operation for operation (TAT − now, max with 0, + increment,
    // compare with the tolerance, now + that), so float8 here and IEEE doubles in JS round
    // identically and all stores agree exactly. A new key has nothing ahead: 0 + increment.
    const newKeyAhead = sql<number>`0::float8 + ${increment}`;
    const ahead = sql<number>`greatest(r.tat - ${n}, 0::float8) + ${increment}`;
    const { rows } = await sql<{ tat: number; last_allowed: boolean; now: number }>`
      insert into rate_limits as r (key, tat, last_allowed)
      values (
        ${key},
        case when ${newKeyAhead} <= ${tolerance} then ${n} + (${newKeyAhead}) else ${n} end,
        ${newKeyAhead} <= ${tolerance}
      )
      on conflict (key) do update set
        tat = case when ${ahead} <= ${tolerance} then ${n} + (${ahead}) else r.tat end,
        last_allowed = ${ahead} <= ${tolerance}
      returning r.tat, r.last_allowed, ${n} as now
    `.execute(this.db);
    const row = rows[0];
    if (!row) throw new Error('rate-limit upsert returned no row');
    return describeDecision(row.tat, row.last_allowed, row.now, policy, cost);
  }
}

/**
 * Deletes the rows whose TAT has passed: such a key behaves exactly like an unknown one, so this
 * changes no decision, only the table's size. A consume racing with it either sees the row or
 * inserts a fresh one. Returns how many rows went.
 */
export async function deleteExpiredRateLimits(db: Kysely<Database>, now?: number): Promise<number> {
  const result = await db.deleteFrom('rate_limits').where('tat', '<=', databaseNow(now)).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * `now` if given, else the database's clock, so that instances whose clocks disagree still share
 * one timeline. statement_timestamp() is the same everywhere in one statement, which the upsert
 * needs: it reads "now" several times and every reading must agree.
 */
function databaseNow(now: number | undefined) {
  return now === undefined
    ? sql<number>`(extract(epoch from statement_timestamp()) * 1000)::float8`
    : sql<number>`${now}::float8`;
}
