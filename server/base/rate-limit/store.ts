import type { RateLimitDecision, RateLimitPolicy } from './gcra';

/**
 * Where rate-limit state lives. One `consume` both decides and records, atomically, so that
 * concurrent requests on one key can never be admitted on the same spare capacity.
 */
export interface RateLimitStore {
  /**
   * Spends `cost` (default 1) of `key`'s allowance under `policy` if it is available. `now` (ms
   * since the epoch) is for tests and simulations; without it the store uses its own clock.
   * Throws RangeError for a policy or cost that makes no sense (a cost above the burst).
   */
  consume(key: string, policy: RateLimitPolicy, cost?: number, now?: number): Promise<RateLimitDecision>;
  /**
   * True for a store in this process's memory: it cannot hang or fail, and what it holds never
   * leaves the process, so the limiter neither bounds its calls by a timeout nor digests its keys
   * (both cost microseconds on every request).
   */
  readonly inProcess?: boolean;
}
