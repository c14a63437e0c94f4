import type { PlatformDatabase } from '../../../db/connect';
import { consumeApiKeyUse } from '../../../db/repositories/api-keys';
import { API_KEY_VERIFY_CODES } from '../../../shared/auth';
import type { Metrics } from '../../base/metrics/metrics';
import type { RateLimitDecision, RateLimitPolicy } from '../../base/rate-limit/gcra';
import { withTimeout } from '../../base/rate-limit/limiter';
import type { RateLimitStore } from '../../base/rate-limit/store';
import type { ApiKeyCache, CachedKey } from './api-key-cache';
import type { ApiKeyServiceLogger, VerifyCode, VerifyOptions, VerifyResult } from './api-key-types';
import { type ApiKeyUsage, OUTCOME } from './api-key-usage';
import { parseApiKey } from './secrets';

export interface ApiKeyVerifierOptions {
  database: PlatformDatabase;
  metrics: Metrics;
  rateLimits: RateLimitStore;
  logger?: ApiKeyServiceLogger;
  /** Bound on one call to a shared store; past it the store counts as failed (as in the limiter). */
  storeTimeoutMs?: number;
}

/** At most one log line about store failures per this interval; the metric counts every one. */
const FAILURE_LOG_INTERVAL_MS = 5_000;
const STORE_ERROR = Object.freeze({ policy: 'api_key', decision: 'store_error' });

const NOT_FOUND: VerifyResult = Object.freeze({ code: 'NOT_FOUND' });
// One label object per code, built once: the verification path allocates none.
const CODE_LABELS = Object.fromEntries(
  API_KEY_VERIFY_CODES.map((code) => [code, Object.freeze({ code })]),
) as Record<VerifyCode, { code: VerifyCode }>;

/** The verification path of `ApiKeyService.verify`: a cached key costs no query. */
export class ApiKeyVerifier {
  constructor(
    private readonly options: ApiKeyVerifierOptions,
    private readonly cache: ApiKeyCache,
    private readonly usage: ApiKeyUsage,
  ) {}

  private lastFailureLogAt = Number.NEGATIVE_INFINITY;
  private failuresNotLogged = 0;

  /**
   * Unkey's verification, in Unkey's order: unknown, malformed or revoked keys are NOT_FOUND;
   * then DISABLED (the key or its owner), EXPIRED, INSUFFICIENT_SCOPE, RATE_LIMITED (each named
   * limit in turn), USAGE_EXCEEDED. Every outcome is counted by code, and, for a key of the
   * caller's organization, against the key per minute (auth.apiKeys.usage).
   */
  async verify(key: string, options?: VerifyOptions): Promise<VerifyResult> {
    return this.check(key, options);
  }

  /**
   * `verify`, answered synchronously when nothing needs waiting for: a key the cache holds (or
   * knows not to exist) whose verification spends no rate limit and no use, the case of every
   * call of a hot key without limits. Otherwise (a key to read from the database, limits to
   * spend in the shared store, uses to count in the database) a promise, as `verify`. The same
   * checks in the same order either way; only the promise and its turns are saved.
   */
  check(key: string, options?: VerifyOptions): VerifyResult | Promise<VerifyResult> {
    const parsed = parseApiKey(key);
    if (parsed === null) return this.count(NOT_FOUND);
    const entry = this.cache.get(parsed.hash);
    if (entry === undefined)
      return this.cache.load(parsed.hash).then((loaded) => this.decide(loaded, options));
    return this.decide(entry, options);
  }

  private decide(
    entry: CachedKey | null,
    options: VerifyOptions | undefined,
  ): VerifyResult | Promise<VerifyResult> {
    if (entry === null) return this.count(NOT_FOUND);
    // Another organization's key does not exist for this caller: nothing of it is spent or counted.
    if (options?.organizationId !== undefined && entry.organizationId !== options.organizationId)
      return this.count(NOT_FOUND);
    const clock = Date.now();
    if (entry.revoked) return this.tally(NOT_FOUND, entry, OUTCOME.revoked, clock);
    if (!entry.usable) return this.tally(refusal('DISABLED', entry), entry, OUTCOME.disabled, clock);
    const now = options?.now === undefined ? clock : options.now.getTime();
    if (now >= entry.expiresAtMs) return this.tally(refusal('EXPIRED', entry), entry, OUTCOME.expired, clock);
    const scope = options?.scope;
    if (scope !== undefined && !entry.scopes.has(scope))
      return this.tally(refusal('INSUFFICIENT_SCOPE', entry), entry, OUTCOME.insufficient_scope, clock);
    if (entry.limits.length === 0 && !entry.limitedUses)
      return this.tally(entry.valid, entry, OUTCOME.valid, clock);
    return this.spend(entry, options?.now === undefined ? undefined : now);
  }

  private async spend(entry: CachedKey, now: number | undefined): Promise<VerifyResult> {
    let tightest: RateLimitDecision | undefined;
    // In order, stopping at the first refusal: a refused request is not charged to later limits.
    for (const limit of entry.limits) {
      const decision = await this.consume(limit.key, limit.policy, now);
      // The store failed: a key's own limits fail open, like every policy but sign-in and refresh
      // (docs/security.md, "Rate limits"), so an outage of the store is not an outage of every keyed client.
      if (decision === null) continue;
      if (!decision.allowed)
        return this.tally(
          { ...refusal('RATE_LIMITED', entry), rateLimit: decision },
          entry,
          OUTCOME.rate_limited,
          Date.now(),
        );
      if (!tightest || decision.remaining < tightest.remaining) tightest = decision;
    }
    let remaining: number | null = null;
    if (entry.limitedUses) {
      // Always the database, never the cache: the count must hold across instances.
      remaining = await consumeApiKeyUse(this.options.database.db, entry.id);
      if (remaining === null)
        return this.tally(
          { ...refusal('USAGE_EXCEEDED', entry), remaining: 0, rateLimit: tightest },
          entry,
          OUTCOME.usage_exceeded,
          Date.now(),
        );
    }
    return this.tally({ ...entry.valid, remaining, rateLimit: tightest }, entry, OUTCOME.valid, Date.now());
  }

  /** One limit's decision, or null when the store failed or answered later than its timeout. */
  private async consume(key: string, policy: RateLimitPolicy, now: number | undefined) {
    const { rateLimits } = this.options;
    try {
      return rateLimits.inProcess
        ? await rateLimits.consume(key, policy, 1, now)
        : await withTimeout(rateLimits.consume(key, policy, 1, now), this.options.storeTimeoutMs ?? 250);
    } catch (error) {
      this.options.metrics.auth.rateLimitDecisions.inc(STORE_ERROR);
      const at = performance.now();
      if (at - this.lastFailureLogAt < FAILURE_LOG_INTERVAL_MS) {
        this.failuresNotLogged++;
      } else {
        this.options.logger?.warn(
          { err: error, failuresNotLogged: this.failuresNotLogged },
          'rate-limit store failed; admitting API-key calls without their own limits',
        );
        this.lastFailureLogAt = at;
        this.failuresNotLogged = 0;
      }
      return null;
    }
  }

  /** Counts the outcome against the key (per minute, in memory) and by code in the metric. */
  private tally(result: VerifyResult, entry: CachedKey, outcome: number, at: number): VerifyResult {
    this.usage.record(entry.id, outcome, at);
    return this.count(result);
  }

  private count(result: VerifyResult): VerifyResult {
    this.options.metrics.auth.keyVerifications.inc(CODE_LABELS[result.code]);
    return result;
  }
}

function refusal(code: VerifyCode, entry: CachedKey): VerifyResult {
  return { code, keyId: entry.id, organizationId: entry.organizationId };
}
