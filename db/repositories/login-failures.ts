import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../database';

/**
 * The login_failures table: failed logins per throttle key (`account:<email>`, `ip:<address>`)
 * and how long each key is locked. Times are the database's unless a test passes `now`.
 */

/** How a key's failures turn into a lock (the login throttle's policy). */
export interface LockPolicy {
  /** Failures before any delay. */
  freeFailures: number;
  /** Longest lock, in seconds. */
  maxDelaySeconds: number;
  /** A key quiet this long starts counting from zero again. */
  forgetAfterSeconds: number;
}

/** Whole seconds until the longest running lock on `keys` ends; null or undefined when none runs. */
export async function secondsUntilUnlocked(
  db: Kysely<Database>,
  keys: readonly string[],
  now?: Date,
): Promise<number | null | undefined> {
  const at = timeOf(now);
  const row = await db
    .selectFrom('login_failures')
    .select(sql<number | null>`ceil(extract(epoch from max(locked_until) - ${at}))::int`.as('seconds'))
    .where('key', 'in', keys)
    .where('locked_until', '>', at)
    .executeTakeFirst();
  return row?.seconds;
}

/**
 * Counts one failure on `key`, an atomic upsert: concurrent failures on one key, from any
 * instance, are applied one after the other by the row lock of ON CONFLICT.
 */
export async function recordLoginFailure(
  trx: Kysely<Database>,
  key: string,
  policy: LockPolicy,
  now?: Date,
): Promise<void> {
  const at = timeOf(now);
  // In ON CONFLICT DO UPDATE every expression sees the row as it was, so `failures` below is
  // the new count in both SET clauses.
  const failures = sql<number>`(case
          when login_failures.last_failure_at <= ${at} - make_interval(secs => ${policy.forgetAfterSeconds}::float8)
          then 1 else login_failures.failures + 1 end)`;
  await trx
    .insertInto('login_failures')
    .values({
      key,
      failures: 1,
      last_failure_at: at,
      locked_until: lockedUntil(at, sql<number>`1`, policy),
    })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        failures,
        last_failure_at: at,
        locked_until: lockedUntil(at, failures, policy),
      }),
    )
    .execute();
}

/** Forgets `key`'s failures. */
export async function deleteLoginFailures(trx: Kysely<Database>, key: string): Promise<void> {
  await trx.deleteFrom('login_failures').where('key', '=', key).execute();
}

/** Deletes keys with no failure since `olderThan` and no lock still running; returns how many. */
export async function deleteStaleLoginFailures(
  trx: Kysely<Database>,
  olderThan: Date,
  now?: Date,
): Promise<number> {
  const result = await trx
    .deleteFrom('login_failures')
    .where('last_failure_at', '<', olderThan)
    .where('locked_until', '<=', timeOf(now))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** `at` plus 2^(failures − free − 1) seconds, capped; `at` itself while failures are free. */
function lockedUntil(
  at: RawBuilder<Date>,
  failures: RawBuilder<number>,
  { freeFailures: free, maxDelaySeconds }: LockPolicy,
): RawBuilder<Date> {
  // The exponent is capped before power() so a huge count cannot overflow a double.
  return sql<Date>`${at} + make_interval(secs => case
      when ${failures} > ${free}::int
      then least(${maxDelaySeconds}::float8, power(2, least(${failures} - ${free}::int - 1, 40)))
      else 0 end)`;
}

/** The time a statement works with: the one given (tests travel in time with it), else the statement's. */
function timeOf(at: Date | undefined): RawBuilder<Date> {
  return at ? sql<Date>`${at}::timestamptz` : sql<Date>`statement_timestamp()`;
}
