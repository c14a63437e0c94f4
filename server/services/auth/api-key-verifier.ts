import type { PlatformDatabase } from '../../../db/connect';
import { consumeApiKeyUse } from '../../../db/repositories/api-keys';
import type { Metrics } from '../monitoring/metrics';
import type { RateLimitDecision } from '../rate-limit/gcra';
import type { RateLimitStore } from '../rate-limit/store';
import type { ApiKeyCache, CachedKey } from './api-key-cache';
import type { VerifyCode, VerifyOptions, VerifyResult } from './api-key-types';
import type { ApiKeyUsage } from './api-key-usage';
import { parseApiKey } from './secrets';

export interface ApiKeyVerifierOptions {
  database: PlatformDatabase;
  metrics: Metrics;
  rateLimits: RateLimitStore;
}

const NOT_FOUND: VerifyResult = Object.freeze({ code: 'NOT_FOUND' });
// One label object per code, built once: the verification path allocates none.
const CODE_LABELS = Object.fromEntries(
  (
    [
      'VALID',
      'NOT_FOUND',
      'EXPIRED',
      'DISABLED',
      'RATE_LIMITED',
      'USAGE_EXCEEDED',
      'INSUFFICIENT_SCOPE',
    ] as const
  ).map((code) => [code, Object.freeze({ code })]),
) as Record<VerifyCode, { code: VerifyCode }>;

/** The verification path of `ApiKeyService.verify`: a cached key costs no query. */
export class ApiKeyVerifier {
  constructor(
    private readonly options: ApiKeyVerifierOptions,
    private readonly cache: ApiKeyCache,
    private readonly usage: ApiKeyUsage,
  ) {}

  /**
   * Unkey's verification, in Unkey's order: unknown, malformed or revoked keys are NOT_FOUND;
   * then DISABLED (the key or its owner), EXPIRED, INSUFFICIENT_SCOPE, RATE_LIMITED (each named
   * limit in turn), USAGE_EXCEEDED. Every outcome is counted by code.
   */
  async verify(key: string, options?: VerifyOptions): Promise<VerifyResult> {
    const parsed = parseApiKey(key);
    if (parsed === null) return this.count(NOT_FOUND);
    let entry = this.cache.get(parsed.hash);
    if (entry === undefined) entry = await this.cache.load(parsed.hash);
    if (entry === null || entry.revoked) return this.count(NOT_FOUND);
    if (options?.organizationId !== undefined && entry.organizationId !== options.organizationId)
      return this.count(NOT_FOUND);
    if (!entry.usable) return this.count(refusal('DISABLED', entry));
    const clock = Date.now();
    const now = options?.now === undefined ? clock : options.now.getTime();
    if (now >= entry.expiresAtMs) return this.count(refusal('EXPIRED', entry));
    const scope = options?.scope;
    if (scope !== undefined && !entry.scopes.has(scope))
      return this.count(refusal('INSUFFICIENT_SCOPE', entry));
    if (entry.limits.length === 0 && !entry.limitedUses) {
      this.usage.record(entry.id, clock);
      return this.count(entry.valid);
    }
    return this.count(await this.spend(entry, options?.now === undefined ? undefined : now));
  }

  private async spend(entry: CachedKey, now: number | undefined): Promise<VerifyResult> {
    let tightest: RateLimitDecision | undefined;
    // In order, stopping at the first refusal: a refused request is not charged to later limits.
    for (const limit of entry.limits) {
      const decision = await this.options.rateLimits.consume(limit.key, limit.policy, 1, now);
      if (!decision.allowed) return { ...refusal('RATE_LIMITED', entry), rateLimit: decision };
      if (!tightest || decision.remaining < tightest.remaining) tightest = decision;
    }
    let remaining: number | null = null;
    if (entry.limitedUses) {
      // Always the database, never the cache: the count must hold across instances.
      remaining = await consumeApiKeyUse(this.options.database.db, entry.id);
      if (remaining === null)
        return { ...refusal('USAGE_EXCEEDED', entry), remaining: 0, rateLimit: tightest };
    }
    this.usage.record(entry.id, Date.now());
    return { ...entry.valid, remaining, rateLimit: tightest };
  }

  private count(result: VerifyResult): VerifyResult {
    this.options.metrics.auth.keyVerifications.inc(CODE_LABELS[result.code]);
    return result;
  }
}

function refusal(code: VerifyCode, entry: CachedKey): VerifyResult {
  return { code, keyId: entry.id, organizationId: entry.organizationId };
}
