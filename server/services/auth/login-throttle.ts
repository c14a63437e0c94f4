import { type RawBuilder, sql } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';

/** What a throttle check decided: go ahead, or wait this many whole seconds. */
export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface LoginThrottleOptions {
  /** Failures on one account before any delay; OWASP suggests a small number such as 5. */
  accountFreeFailures?: number;
  /** Failures from one IP address before any delay: higher, as many users may share a NAT. */
  ipFreeFailures?: number;
  /** Longest lock, in seconds (15 minutes by default). */
  maxDelaySeconds?: number;
  /** A key quiet this long starts counting from zero again (24 hours by default). */
  forgetAfterSeconds?: number;
}

const ACCOUNT_PREFIX = 'account:';
const IP_PREFIX = 'ip:';

/** The throttle key of an account; `email` is expected normalised (trimmed, lower-case). */
export function accountKey(email: string): string {
  return `${ACCOUNT_PREFIX}${email}`;
}

export function ipKey(address: string): string {
  return `${IP_PREFIX}${address}`;
}

/**
 * Growing delays after failed logins (ASVS 5.0 V6.3.1), per account and per IP address, kept in
 * the login_failures table so that every instance sees the same counts. After the free failures,
 * each further failure locks the key for 1 s, 2 s, 4 s … up to `maxDelaySeconds`. A lock makes
 * guessing slow without letting anyone lock a user out for long, which a hard lockout would.
 *
 * Times are the database's (or the `now` a test passes), as in the rate-limit store, so that
 * instances with drifting clocks still agree on when a lock ends.
 */
export class LoginThrottle {
  private readonly accountFree: number;
  private readonly ipFree: number;
  private readonly maxDelaySeconds: number;
  private readonly forgetAfterSeconds: number;

  constructor(
    private readonly database: PlatformDatabase,
    {
      accountFreeFailures = 5,
      ipFreeFailures = 20,
      maxDelaySeconds = 15 * 60,
      forgetAfterSeconds = 24 * 60 * 60,
    }: LoginThrottleOptions = {},
  ) {
    this.accountFree = accountFreeFailures;
    this.ipFree = ipFreeFailures;
    this.maxDelaySeconds = maxDelaySeconds;
    this.forgetAfterSeconds = forgetAfterSeconds;
  }

  /** Whether an attempt on these keys may proceed; if not, how long the longest lock still runs. */
  async check(keys: readonly string[], now?: Date): Promise<ThrottleDecision> {
    if (keys.length === 0) return { allowed: true };
    const at = timeOf(now);
    const row = await this.database.read((db) =>
      db
        .selectFrom('login_failures')
        .select(sql<number | null>`ceil(extract(epoch from max(locked_until) - ${at}))::int`.as('seconds'))
        .where('key', 'in', keys)
        .where('locked_until', '>', at)
        .executeTakeFirst(),
    );
    const seconds = row?.seconds;
    if (seconds === null || seconds === undefined) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, seconds) };
  }

  /**
   * Counts one failure on each key, each an atomic upsert: concurrent failures on one key, from
   * any instance, are applied one after the other by the row lock of ON CONFLICT.
   */
  async recordFailure(keys: readonly string[], now?: Date): Promise<void> {
    // Sorted, so two transactions sharing keys lock them in the same order and cannot deadlock.
    const sorted = [...new Set(keys)].sort();
    await this.database.transaction(async (trx) => {
      const at = timeOf(now);
      for (const key of sorted) {
        const free = key.startsWith(IP_PREFIX) ? this.ipFree : this.accountFree;
        // In ON CONFLICT DO UPDATE every expression sees the row as it was, so `failures` below is
        // the new count in both SET clauses.
        const failures = sql<number>`(case
          when login_failures.last_failure_at <= ${at} - make_interval(secs => ${this.forgetAfterSeconds}::float8)
          then 1 else login_failures.failures + 1 end)`;
        await trx
          .insertInto('login_failures')
          .values({
            key,
            failures: 1,
            last_failure_at: at,
            locked_until: this.lockedUntil(at, sql<number>`1`, free),
          })
          .onConflict((oc) =>
            oc.column('key').doUpdateSet({
              failures,
              last_failure_at: at,
              locked_until: this.lockedUntil(at, failures, free),
            }),
          )
          .execute();
      }
    });
  }

  /** A successful login clears its account's count; the IP's stays, as one IP may try many accounts. */
  async recordSuccess(accountKeyToReset: string): Promise<void> {
    if (!accountKeyToReset.startsWith(ACCOUNT_PREFIX)) {
      throw new Error('recordSuccess resets account keys only');
    }
    await this.database.transaction((trx) =>
      trx.deleteFrom('login_failures').where('key', '=', accountKeyToReset).execute(),
    );
  }

  /** Deletes keys with no failure since `olderThan` and no lock still running; returns how many. */
  async sweep(olderThan: Date, now?: Date): Promise<number> {
    const result = await this.database.transaction((trx) =>
      trx
        .deleteFrom('login_failures')
        .where('last_failure_at', '<', olderThan)
        .where('locked_until', '<=', timeOf(now))
        .executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }

  /** `at` plus 2^(failures − free − 1) seconds, capped; `at` itself while failures are free. */
  private lockedUntil(at: RawBuilder<Date>, failures: RawBuilder<number>, free: number): RawBuilder<Date> {
    // The exponent is capped before power() so a huge count cannot overflow a double.
    return sql<Date>`${at} + make_interval(secs => case
      when ${failures} > ${free}::int
      then least(${this.maxDelaySeconds}::float8, power(2, least(${failures} - ${free}::int - 1, 40)))
      else 0 end)`;
  }
}

function timeOf(at: Date | undefined): RawBuilder<Date> {
  return at ? sql<Date>`${at}::timestamptz` : sql<Date>`statement_timestamp()`;
}
