import { createHash } from 'node:crypto';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics/metrics';
import { checkCost, gcraParameters, type RateLimitDecision, type RateLimitPolicy } from './gcra';
import type { RateLimitStore } from './store';

/** A named policy and what to do when the store cannot be asked. */
export interface LimiterPolicy extends RateLimitPolicy {
  /**
   * 'closed' refuses while the store fails: for routes where an unlimited attacker costs more than
   * a refused user (password guessing). 'open' admits: for everything else, where an outage of the
   * store must not become an outage of the platform.
   */
  onStoreFailure: 'open' | 'closed';
}

/** What `check` decided. */
export interface RateLimitOutcome {
  allowed: boolean;
  /** The store's decision; null when the store failed and the policy's failure mode decided. */
  decision: RateLimitDecision | null;
  /** The policy's name. */
  policy: string;
  storeFailed: boolean;
}

const MINUTE = 60_000;

/**
 * The platform's policies. Keys are chosen by the caller: `ip` per client address on public
 * routes, `user` per user id, `login` both per client address and per account (two checks, so
 * neither spreading guesses over accounts nor over addresses escapes it), `refresh` per session
 * and per client address.
 */
export const DEFAULT_RATE_LIMIT_POLICIES = {
  ip: { limit: 600, periodMs: MINUTE, onStoreFailure: 'open' },
  user: { limit: 1_200, periodMs: MINUTE, onStoreFailure: 'open' },
  login: { limit: 10, periodMs: MINUTE, onStoreFailure: 'closed' },
  refresh: { limit: 30, periodMs: MINUTE, onStoreFailure: 'closed' },
} as const satisfies Record<string, LimiterPolicy>;

export interface RateLimiterOptions {
  store: RateLimitStore;
  metrics: Pick<Metrics, 'auth'>;
  policies: Record<string, LimiterPolicy>;
  logger?: Logger;
  /** Bound on one store call; past it the store counts as failed. */
  storeTimeoutMs?: number;
  /** At most one log line about store failures per this interval; the metric counts every one. */
  failureLogIntervalMs?: number;
}

/** Policy names: they appear in HTTP headers as structured-field strings and in metric labels. */
const POLICY_NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * Checks requests against named policies in one store, turning a failing or slow store into the
 * policy's failure mode instead of an error, and counting every decision.
 */
export class RateLimiter {
  private readonly store: RateLimitStore;
  private readonly metrics: Pick<Metrics, 'auth'>;
  private readonly policies: Map<string, LimiterPolicy>;
  private readonly logger: Logger | undefined;
  private readonly storeTimeoutMs: number;
  private readonly failureLogIntervalMs: number;
  private lastFailureLogAt = Number.NEGATIVE_INFINITY;
  private failuresNotLogged = 0;

  constructor({
    store,
    metrics,
    policies,
    logger,
    storeTimeoutMs = 250,
    failureLogIntervalMs = 5_000,
  }: RateLimiterOptions) {
    this.policies = new Map();
    for (const [name, policy] of Object.entries(policies)) {
      if (!POLICY_NAME.test(name))
        throw new RangeError(`rate-limit policy name not allowed: ${JSON.stringify(name)}`);
      // Throws RangeError for a policy that makes no sense, at start-up rather than on a request.
      gcraParameters(policy);
      this.policies.set(name, policy);
    }
    this.store = store;
    this.metrics = metrics;
    this.logger = logger;
    this.storeTimeoutMs = storeTimeoutMs;
    this.failureLogIntervalMs = failureLogIntervalMs;
  }

  /** The policy called `name`; throws for a name that was not configured (a programming error). */
  policy(name: string): LimiterPolicy {
    const policy = this.policies.get(name);
    if (!policy) throw new RangeError(`unknown rate-limit policy: ${JSON.stringify(name)}`);
    return policy;
  }

  /**
   * Spends `cost` of `key`'s allowance under the policy `policyName`. Never rejects because of the
   * store: a store that throws or answers later than the timeout yields the policy's failure
   * mode. Throws RangeError for an unknown policy or a cost above its burst.
   */
  async check(policyName: string, key: string, cost = 1): Promise<RateLimitOutcome> {
    const policy = this.policy(policyName);
    checkCost(cost, gcraParameters(policy));
    let decision: RateLimitDecision;
    try {
      decision = this.store.inProcess
        ? await this.store.consume(`${policyName}:${key}`, policy, cost)
        : await withTimeout(this.store.consume(storeKey(policyName, key), policy, cost), this.storeTimeoutMs);
    } catch (error) {
      this.metrics.auth.rateLimitDecisions.inc({ policy: policyName, decision: 'store_error' });
      this.reportFailure(policyName, policy, error);
      return {
        allowed: policy.onStoreFailure === 'open',
        decision: null,
        policy: policyName,
        storeFailed: true,
      };
    }
    this.metrics.auth.rateLimitDecisions.inc({
      policy: policyName,
      decision: decision.allowed ? 'allowed' : 'limited',
    });
    return { allowed: decision.allowed, decision, policy: policyName, storeFailed: false };
  }

  /** Logs a store failure unless one was logged recently: a store outage fails every request. */
  private reportFailure(policyName: string, policy: LimiterPolicy, error: unknown): void {
    const now = performance.now();
    if (now - this.lastFailureLogAt < this.failureLogIntervalMs) {
      this.failuresNotLogged++;
      return;
    }
    this.logger?.warn(
      {
        err: error,
        policy: policyName,
        onStoreFailure: policy.onStoreFailure,
        failuresNotLogged: this.failuresNotLogged,
      },
      `rate-limit store failed; ${policy.onStoreFailure === 'open' ? 'admitting' : 'refusing'} requests under policy ${policyName}`,
    );
    this.lastFailureLogAt = now;
    this.failuresNotLogged = 0;
  }
}

/**
 * The store key: the policy's name, so one address under two policies has two allowances, and a
 * digest of the caller's key, so that neither email addresses nor client addresses sit in the
 * store and a key from user input has a bounded length. 128 bits leave collisions out of reach.
 */
function storeKey(policyName: string, key: string): string {
  return `${policyName}:${createHash('sha256').update(key).digest('base64url').slice(0, 22)}`;
}

export class RateLimitStoreTimeoutError extends Error {
  override name = 'RateLimitStoreTimeoutError';
}

/**
 * Settles like `promise`, or rejects after `ms`. The store call is not cancelled: it may still
 * charge the key later, which errs on the side of the limit.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RateLimitStoreTimeoutError(`rate-limit store took longer than ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Retry-After when the store failed and the policy refused: its outage has no known end. */
const STORE_FAILURE_RETRY_AFTER_SECONDS = 5;

/**
 * Response headers for an outcome, per draft-ietf-httpapi-ratelimit-headers-10 (and -11), sections
 * 3 and 4 (https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/):
 * `RateLimit-Policy: "<name>";q=<quota>;w=<window s>` (the policy identifier is an sf-string;
 * w is a whole number of seconds, sub-second precision not supported) and
 * `RateLimit: "<name>";r=<remaining>;t=<s>`, where t is the draft's "number of seconds until
 * additional quota ... is made available" (-10 §4.1.2; -11 calls it the effective window, within
 * which no more than r may be used). Under GCRA that is when the next unit refills, not when the
 * whole burst has: the draft also says Retry-After SHOULD NOT point earlier than t, and with the
 * full refill as t every refusal would break that. Retry-After (RFC 9110 §10.2.3, whole seconds
 * rounded up so a client never returns early) only on refusals. Without a decision (the store
 * failed) there is no RateLimit field.
 */
export function rateLimitHeaders(outcome: RateLimitOutcome, policy: RateLimitPolicy): Record<string, string> {
  const name = structuredFieldString(outcome.policy);
  const windowSeconds = Math.max(1, Math.ceil(policy.periodMs / 1_000));
  const headers: Record<string, string> = {
    'RateLimit-Policy': `${name};q=${policy.limit};w=${windowSeconds}`,
  };
  const { decision } = outcome;
  if (decision)
    headers.RateLimit = `${name};r=${decision.remaining};t=${Math.ceil(msUntilMoreQuota(decision, policy) / 1_000)}`;
  if (!outcome.allowed) {
    headers['Retry-After'] = String(
      decision ? Math.max(1, Math.ceil(decision.retryAfterMs / 1_000)) : STORE_FAILURE_RETRY_AFTER_SECONDS,
    );
  }
  return headers;
}

/**
 * When `remaining` next grows by one. The key is `resetMs` ahead of a full burst; one more unit
 * fits once it is only (burst − remaining − 1) emission intervals ahead.
 */
function msUntilMoreQuota(decision: RateLimitDecision, policy: RateLimitPolicy): number {
  const { emissionIntervalMs, toleranceMs } = gcraParameters(policy);
  const wait = decision.resetMs - toleranceMs + (decision.remaining + 1) * emissionIntervalMs;
  return Math.min(decision.resetMs, Math.max(0, wait));
}

// Policy names are a closed set: each is quoted once, not on every response.
const quotedNames = new Map<string, string>();

/** An RFC 8941 §3.3.3 String: printable ASCII, with `"` and `\` escaped. */
function structuredFieldString(value: string): string {
  const known = quotedNames.get(value);
  if (known !== undefined) return known;
  if (!/^[\x20-\x7e]*$/.test(value)) throw new RangeError(`not printable ASCII: ${JSON.stringify(value)}`);
  const quoted = `"${value.replace(/[\\"]/g, '\\$&')}"`;
  if (quotedNames.size < 64) quotedNames.set(value, quoted);
  return quoted;
}
