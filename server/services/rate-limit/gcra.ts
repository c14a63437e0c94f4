/**
 * The generic cell rate algorithm (GCRA, ITU-T I.371): a token bucket kept as one number per key,
 * the theoretical arrival time (TAT) of the next request at the steady rate. Unlike a fixed window
 * it has no edge at which a client can spend two windows' worth at once: after a burst, requests
 * are admitted only as fast as the emission interval refills them.
 */

/** How much a key may do: `limit` requests per `periodMs`, at most `burst` of them at once. */
export interface RateLimitPolicy {
  limit: number;
  periodMs: number;
  /** Requests admitted back to back from an idle key; defaults to `limit`. */
  burst?: number;
}

/** One consume's outcome, with what IETF RateLimit and Retry-After headers need. */
export interface RateLimitDecision {
  allowed: boolean;
  /** The policy's `limit` (the quota per period). */
  limit: number;
  /** Requests of cost 1 that could be admitted right now, after this one. */
  remaining: number;
  /** Until the key is back to a full burst, in ms (rounded up). */
  resetMs: number;
  /** 0 when allowed; otherwise how long until this request would be admitted, in ms (rounded up). */
  retryAfterMs: number;
}

export interface GcraResult {
  /** TAT to store, or null when nothing needs storing (a rejected request on an unknown key). */
  newTat: number | null;
  decision: RateLimitDecision;
}

/** The emission interval and the tolerance of a policy, after checking that it makes sense. */
export interface GcraParameters {
  /** Time one request of cost 1 uses up: periodMs / limit. */
  emissionIntervalMs: number;
  /** How far ahead of now the TAT may run: emission interval × burst. */
  toleranceMs: number;
  burst: number;
}

/** A policy's emission interval and tolerance; throws RangeError for a policy that makes no sense. */
export function gcraParameters(policy: RateLimitPolicy): GcraParameters {
  const { limit, periodMs, burst = policy.limit } = policy;
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`limit must be a positive integer: ${limit}`);
  if (!Number.isFinite(periodMs) || periodMs <= 0)
    throw new RangeError(`periodMs must be positive: ${periodMs}`);
  if (!Number.isInteger(burst) || burst < 1)
    throw new RangeError(`burst must be a positive integer: ${burst}`);
  const emissionIntervalMs = periodMs / limit;
  // The tolerance τ of I.371 is T × (burst − 1); comparing against τ + T lets the check below
  // be "new TAT − now ≤ T × burst", which admits exactly `burst` requests from an idle key.
  return { emissionIntervalMs, toleranceMs: emissionIntervalMs * burst, burst };
}

/** Rejects a cost that no amount of waiting could admit, so callers never loop on it. */
export function checkCost(cost: number, parameters: GcraParameters): void {
  if (!Number.isInteger(cost) || cost < 1) throw new RangeError(`cost must be a positive integer: ${cost}`);
  if (cost > parameters.burst) throw new RangeError(`cost ${cost} exceeds the burst of ${parameters.burst}`);
}

/**
 * Decides one request of `cost` at `now` (ms) against the stored TAT (null for a key with no
 * state). Pure: stores nothing. The PostgreSQL store computes the same arithmetic in SQL, in the
 * same order of floating-point operations, so both give identical decisions.
 */
export function gcra(tat: number | null, now: number, policy: RateLimitPolicy, cost = 1): GcraResult {
  const parameters = gcraParameters(policy);
  checkCost(cost, parameters);
  const increment = parameters.emissionIntervalMs * cost;
  const candidate = Math.max(tat ?? now, now) + increment;
  const allowed = candidate - now <= parameters.toleranceMs;
  const stored = allowed ? candidate : tat;
  return { newTat: stored, decision: describeDecision(stored, allowed, now, policy, cost) };
}

/**
 * The decision given the TAT after the request (`tat`) and whether it was admitted. Shared by
 * `gcra` and the PostgreSQL store, whose statement returns exactly those two things.
 */
export function describeDecision(
  tat: number | null,
  allowed: boolean,
  now: number,
  policy: RateLimitPolicy,
  cost = 1,
): RateLimitDecision {
  const { emissionIntervalMs, toleranceMs } = gcraParameters(policy);
  const ahead = Math.max(tat ?? now, now) - now;
  // The epsilon keeps a quotient such as 8.999999999 (rounding of T × n) from costing a request.
  const remaining = Math.max(0, Math.floor((toleranceMs - ahead) / emissionIntervalMs + 1e-9));
  const retryAfterMs = allowed ? 0 : Math.max(0, ahead + emissionIntervalMs * cost - toleranceMs);
  return {
    allowed,
    limit: policy.limit,
    remaining,
    resetMs: Math.ceil(ahead),
    retryAfterMs: Math.ceil(retryAfterMs),
  };
}
