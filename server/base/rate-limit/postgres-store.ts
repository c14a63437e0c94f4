import type { Kysely } from 'kysely';
import type { Database } from '../../../db/database';
import { upsertRateLimit } from '../../../db/repositories/rate-limits';
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
 * computes GCRA in SQL (`upsertRateLimit`): PostgreSQL locks the key's row for the ON CONFLICT
 * update, so concurrent consumes on one key, from any instance, are applied one after the other,
 * each seeing the TAT the previous one wrote. Two first requests on a new key are serialised by
 * the primary key the same way: the loser of the insert takes the update path.
 *
 * No retry on a lost connection: the upsert may have been applied, and repeating it would charge
 * twice. Whether to admit or refuse when the store fails is the caller's policy.
 */
export class PostgresRateLimitStore implements RateLimitStore {
  constructor(private readonly db: Kysely<Database>) {}

  async consume(key: string, policy: RateLimitPolicy, cost = 1, now?: number): Promise<RateLimitDecision> {
    const parameters = gcraParameters(policy);
    checkCost(cost, parameters);
    const row = await upsertRateLimit(this.db, {
      key,
      incrementMs: parameters.emissionIntervalMs * cost,
      toleranceMs: parameters.maxAheadMs,
      now,
    });
    if (!row) throw new Error('rate-limit upsert returned no row');
    return describeDecision(row.tat, row.last_allowed, row.now, policy, cost);
  }
}
