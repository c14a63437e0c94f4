import { context, defaultTextMapSetter } from '@opentelemetry/api';
import type { JWK } from 'jose';
import { PlatformError } from '../../base/errors';
import type { Logger } from '../../base/logger';
import type { Tracing } from '../../base/tracing/context';
import {
  InvalidTokenError,
  type VerifiedAccessToken,
  verifyAccessToken,
} from '../../services/auth/access-tokens';
import { UNKNOWN_KID_RELOAD_INTERVAL_MS } from '../../services/auth/keyring';
import { importVerificationKeys, type VerificationKeys } from '../../services/auth/signing-keys';

export interface OriginKeysOptions {
  /** The origin's key set: ORIGIN_URL + /.well-known/jwks.json. */
  jwksUrl: string;
  /** The origin's AUTH_ISSUER and AUTH_AUDIENCE: a token for another audience is refused here too. */
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  /** Bound on one fetch of the key set. */
  timeoutMs?: number;
  logger?: Logger;
  /** Sends the request's trace context (traceparent) with each fetch of the key set. */
  tracing?: Tracing;
}

/** How long a fetched key set is used when the origin's answer names no max-age (it says 300 s). */
const DEFAULT_MAX_AGE_MS = 300_000;
const DEFAULT_TIMEOUT_MS = 3_000;

interface LoadedKeys {
  keys: VerificationKeys;
  kids: string[];
  fetchedAt: number;
  freshUntil: number;
}

/**
 * The origin's public signing keys, fetched from its JWKS and kept by this isolate, verifying
 * access tokens exactly as the origin's keyring does (the same `verifyAccessToken`: kid pattern,
 * the key's own algorithm, at+jwt, issuer, audience, clock tolerance).
 *
 * The key set is fetched again when its max-age has passed and when a token names a kid it does
 * not hold (a rotation on the origin), at most once per UNKNOWN_KID_RELOAD_INTERVAL_MS, as the
 * keyring reloads: tokens with made-up kids cannot buy a fetch each. When a fetch fails, the keys
 * already held go on verifying: a key leaves the origin's set only after every token it signed has
 * expired, so a stale set accepts nothing the origin would refuse, except tokens of a session
 * revoked meanwhile (which the edge cannot learn of in any case; see docs/operations.md, "On the edge").
 *
 * Concurrent requests do not share one fetch: in workerd a promise driven by one request's I/O
 * must not be awaited by another (jose's remote key set avoids it the same way).
 */
export class OriginKeys {
  private loaded: LoadedKeys | null = null;
  private nextFetchAllowedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: OriginKeysOptions) {}

  /** Verifies an access token the origin issued; throws InvalidTokenError, or PlatformError(503) without keys. */
  async verifyAccessToken(token: string, now = new Date()): Promise<VerifiedAccessToken> {
    const keys = await this.currentKeys();
    try {
      return await this.verifyWith(keys, token, now);
    } catch (error) {
      if (!(error instanceof InvalidTokenError && error.reason === 'unknown_kid')) throw error;
      if (!(await this.refresh())) throw error;
      return this.verifyWith(this.loaded!.keys, token, now);
    }
  }

  /** What the isolate holds, for health reports. */
  status(): { kids: string[]; fetchedAt: Date | null } {
    return {
      kids: this.loaded?.kids ?? [],
      fetchedAt: this.loaded ? new Date(this.loaded.fetchedAt) : null,
    };
  }

  /** The keys held, fetched first when there are none or their max-age has passed. */
  async currentKeys(): Promise<VerificationKeys> {
    if (!this.loaded || Date.now() >= this.loaded.freshUntil) await this.refresh();
    if (!this.loaded) {
      throw new PlatformError(
        'SERVICE_UNAVAILABLE',
        "access tokens cannot be verified now: the origin's signing keys are unreachable",
      );
    }
    return this.loaded.keys;
  }

  /**
   * Fetches the key set unless a fetch was made less than UNKNOWN_KID_RELOAD_INTERVAL_MS ago.
   * Resolves true when a new set was installed; a failure is logged and keeps the keys held.
   */
  async refresh(): Promise<boolean> {
    const started = Date.now();
    if (started < this.nextFetchAllowedAt) return false;
    this.nextFetchAllowedAt = started + UNKNOWN_KID_RELOAD_INTERVAL_MS;
    try {
      this.loaded = await this.fetchKeys();
      return true;
    } catch (error) {
      this.options.logger?.warn(
        { err: error, jwksUrl: this.options.jwksUrl, keysHeld: this.loaded?.kids.length ?? 0 },
        "fetching the origin's signing keys failed",
      );
      return false;
    }
  }

  private async fetchKeys(): Promise<LoadedKeys> {
    const headers: Record<string, string> = { accept: 'application/json' };
    // The fetch is made for the request that needed the keys: the origin's span joins its trace.
    this.options.tracing?.propagator.inject(context.active(), headers, defaultTextMapSetter);
    const response = await fetch(this.options.jwksUrl, {
      headers,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`the origin answered ${response.status} for its key set`);
    }
    const body = (await response.json()) as { keys?: unknown };
    if (!Array.isArray(body.keys)) throw new Error('the origin key set has no keys array');
    const jwks = body.keys as JWK[];
    const fetchedAt = Date.now();
    return {
      keys: await importVerificationKeys(jwks),
      kids: jwks.map((key) => String(key.kid)),
      fetchedAt,
      freshUntil: fetchedAt + maxAgeMs(response.headers.get('cache-control')),
    };
  }

  private verifyWith(keys: VerificationKeys, token: string, now: Date): Promise<VerifiedAccessToken> {
    const { issuer, audience, clockToleranceSeconds } = this.options;
    return verifyAccessToken(token, keys, { issuer, audience, clockToleranceSeconds, now });
  }
}

/** The max-age of a Cache-Control value in ms, or the default when it names none. */
function maxAgeMs(cacheControl: string | null): number {
  const match = cacheControl ? /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl) : null;
  return match ? Number(match[1]) * 1000 : DEFAULT_MAX_AGE_MS;
}
