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
  /** Allowance for the rounding of stored TATs; see `gcraParameters`. */
  roundingSlackMs: number;
  /** The bound every store checks: a request is admitted if the TAT then runs at most this far ahead. */
  maxAheadMs: number;
  burst: number;
}

/**
 * How far storing `now + ahead` may round the TAT: a double near the current epoch in ms (2^40 to
 * 2^42, years 2004 to 2109) is a multiple of 2^-12 or 2^-11 ms, and rounding is to the nearest.
 */
const EPOCH_ROUNDING_MS = 2 ** -12;

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
  const toleranceMs = emissionIntervalMs * burst;
  // A fractional emission interval makes every stored TAT a little off (see EPOCH_ROUNDING_MS),
  // always in the same direction for a given interval, and a burst at one instant adds up to
  // `burst` of those errors: 1000/7 ms × 3 lands 0.0001 ms past the tolerance, which refused the
  // third request. Twice the worst case absorbs that: half a microsecond per request of burst,
  // far below any clock's precision, and a quarter interval at most, so that the slack never
  // admits a whole extra request. (With a fractional interval the stored TAT also drifts by that
  // rounding at every admission, a rate error below one in a million.)
  const roundingSlackMs = Math.min(burst * 2 * EPOCH_ROUNDING_MS, emissionIntervalMs / 4);
  return {
    emissionIntervalMs,
    toleranceMs,
    roundingSlackMs,
    maxAheadMs: toleranceMs + roundingSlackMs,
    burst,
  };
}

/** Rejects a cost that no amount of waiting could admit, so callers never loop on it. */
export function checkCost(cost: number, parameters: GcraParameters): void {
  if (!Number.isInteger(cost) || cost < 1) throw new RangeError(`cost must be a positive integer: ${cost}`);
  if (cost > parameters.burst) throw new RangeError(`cost ${cost} exceeds the burst of ${parameters.burst}`);
}

/**
 * Decides one request of `cost` at `now` (ms) against the stored TAT (null for a key with no
 * state). Pure: stores nothing. The PostgreSQL and Redis stores compute the same arithmetic, in
 * the same order of floating-point operations, so all three give identical decisions.
 *
 * Everything is relative to now: `ahead` (how far the TAT runs ahead of now) is a small number,
 * exact enough to compare with the tolerance, whereas `tat + increment − now` at epoch scale
 * (~1.8e12 ms) rounds to 2^-12 ms and refused a request that spends exactly the burst.
 */
export function gcra(tat: number | null, now: number, policy: RateLimitPolicy, cost = 1): GcraResult {
  const parameters = gcraParameters(policy);
  checkCost(cost, parameters);
  const increment = parameters.emissionIntervalMs * cost;
  const ahead = Math.max((tat ?? now) - now, 0) + increment;
  const allowed = ahead <= parameters.maxAheadMs;
  const stored = allowed ? now + ahead : tat;
  return { newTat: stored, decision: describeDecision(stored, allowed, now, policy, cost) };
}

/**
 * The decision given the TAT after the request (`tat`) and whether it was admitted. Shared by
 * every store, each of which ends with exactly those two things. Works from `tat − now`, which
 * is exact for a TAT near now, never from sums of epoch-scale values.
 */
export function describeDecision(
  tat: number | null,
  allowed: boolean,
  now: number,
  policy: RateLimitPolicy,
  cost = 1,
): RateLimitDecision {
  const { emissionIntervalMs, roundingSlackMs, maxAheadMs } = gcraParameters(policy);
  const ahead = Math.max((tat ?? now) - now, 0);
  // Against the same bound as admission, slack included, so that `remaining` agrees with what
  // would be admitted now, and a quotient such as 8.999999999 (rounding of
  // T × n) does not cost a request.
  const remaining = Math.max(0, Math.floor((maxAheadMs - ahead) / emissionIntervalMs));
  const retryAfterMs = allowed ? 0 : Math.max(0, ahead + emissionIntervalMs * cost - maxAheadMs);
  return {
    allowed,
    limit: policy.limit,
    remaining,
    // A TAT within the slack of now already admits a full burst.
    resetMs: Math.ceil(Math.max(0, ahead - roundingSlackMs)),
    retryAfterMs: Math.ceil(retryAfterMs),
  };
}
