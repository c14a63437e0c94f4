import type { PlatformDatabase } from '../../../db/connect';
import {
  deleteLoginFailures,
  deleteStaleLoginFailures,
  recordLoginFailure,
  secondsUntilUnlocked,
} from '../../../db/repositories/login-failures';

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
const FACTOR_PREFIX = 'factor:';

/** The throttle key of an account; `email` is expected normalised (trimmed, lower-case). */
export function accountKey(email: string): string {
  return `${ACCOUNT_PREFIX}${email}`;
}

export function ipKey(address: string): string {
  return `${IP_PREFIX}${address}`;
}

/**
 * The throttle key of a user's second factor: wrong codes lock it as wrong passwords lock the
 * account, whichever challenge they came with.
 */
export function factorKey(userId: string): string {
  return `${FACTOR_PREFIX}${userId}`;
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
    const seconds = await this.database.read((db) => secondsUntilUnlocked(db, keys, now));
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
      for (const key of sorted) {
        const free = key.startsWith(IP_PREFIX) ? this.ipFree : this.accountFree;
        await recordLoginFailure(
          trx,
          key,
          {
            freeFailures: free,
            maxDelaySeconds: this.maxDelaySeconds,
            forgetAfterSeconds: this.forgetAfterSeconds,
          },
          now,
        );
      }
    });
  }

  /**
   * A successful login (or second step) clears its account's (or factor's) count; the IP's stays,
   * as one IP may try many accounts.
   */
  async recordSuccess(accountKeyToReset: string): Promise<void> {
    if (!accountKeyToReset.startsWith(ACCOUNT_PREFIX) && !accountKeyToReset.startsWith(FACTOR_PREFIX)) {
      throw new Error('recordSuccess resets account and factor keys only');
    }
    await this.database.transaction((trx) => deleteLoginFailures(trx, accountKeyToReset));
  }

  /** Deletes keys with no failure since `olderThan` and no lock still running; returns how many. */
  async sweep(olderThan: Date, now?: Date): Promise<number> {
    return this.database.transaction((trx) => deleteStaleLoginFailures(trx, olderThan, now));
  }
}
