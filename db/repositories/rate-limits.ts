import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';

/** A GCRA step in SQL: the charge of this request and how far ahead the TAT may run, in ms. */
export interface RateLimitCharge {
  key: string;
  /** Emission interval × cost. */
  incrementMs: number;
  /** The policy's tolerance (max ahead). */
  toleranceMs: number;
  /** Epoch milliseconds; the database's clock when omitted. */
  now?: number;
}

/**
 * One consume as one upsert that computes GCRA in SQL: PostgreSQL locks the key's row for the ON
 * CONFLICT update, so concurrent consumes on one key, from any instance, are applied one after
 * the other, each seeing the TAT the previous one wrote. Returns the row as written and the
 * `now` the statement used.
 */
export async function upsertRateLimit(
  db: Kysely<Database>,
  { key, incrementMs, toleranceMs, now }: RateLimitCharge,
): Promise<{ tat: number; last_allowed: boolean; now: number } | undefined> {
  const n = databaseNow(now);
  const increment = sql<number>`${incrementMs}::float8`;
  const tolerance = sql<number>`${toleranceMs}::float8`;
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
    `.execute(db);
  return rows[0];
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
