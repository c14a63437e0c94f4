import type { ApiKeyScope } from '../../../shared/auth';
import { PlatformError } from '../../base/errors';
import type { Metrics } from '../../base/metrics/metrics';
import type { Principal, Role, UserPrincipal } from '../../base/principal';
import type { RateLimitDecision } from '../../base/rate-limit/gcra';
import { InvalidTokenError, type VerifiedAccessToken } from './access-tokens';
import type { VerifyResult } from './api-key-types';
import type { RevokedSessions } from './revoked-sessions';

/** What the authenticator needs from the keyring and the API-key service. */
export interface AuthenticatorServices {
  keyring: { verifyAccessToken(token: string): Promise<VerifiedAccessToken> };
  /** `check` is `verify` answered synchronously when nothing needs waiting for (ApiKeyService.check). */
  apiKeys: { check(key: string, options: { scope?: string }): VerifyResult | Promise<VerifyResult> };
  revokedSessions: RevokedSessions;
  metrics: Metrics;
}

/** Where a credential came from in the request. */
export interface Credential {
  value: string;
  /** An API key (`bc_live_…`/`bc_test_…`) or an access token (a JWT). */
  kind: 'apiKey' | 'accessToken';
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="beauty-crafter"' };

/**
 * One message for every refused access token, whatever the reason (RFC 6750 §3.1
 * invalid_token), so that a prober learns nothing from the answer; the reason goes to metrics.
 */
const INVALID_TOKEN = 'the access token is invalid or expired';

/**
 * The credential of a request: `Authorization: Bearer <token or key>` or `X-API-Key: <key>`.
 * Never the query string: URLs end up in logs, proxies and browser history. A malformed
 * Authorization header is refused outright rather than treated as absent.
 */
export function readCredential(authorization: string | null, apiKeyHeader: string | null): Credential | null {
  let value: string | undefined;
  if (authorization !== null) {
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match) {
      throw new PlatformError('UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"', CHALLENGE);
    }
    value = match[1];
  } else if (apiKeyHeader !== null) {
    value = apiKeyHeader.trim();
  }
  if (!value) return null;
  return { value, kind: value.startsWith('bc_') ? 'apiKey' : 'accessToken' };
}

/** The outcome of authenticating one call: who, and the API key's rate-limit decision if any. */
export interface Authenticated {
  principal: Principal;
  rateLimit?: RateLimitDecision;
}

/**
 * Turns credentials into a principal. Access tokens are verified once per request (the caller
 * memoises); API keys once per call, because each call of a batch spends the key's rate limits
 * and uses and may need another scope.
 */
export class Authenticator {
  constructor(private readonly services: AuthenticatorServices) {}

  async accessToken(token: string): Promise<UserPrincipal> {
    let claims: VerifiedAccessToken;
    try {
      claims = await this.services.keyring.verifyAccessToken(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        this.services.metrics.auth.rejectedTokens.inc({ reason: error.reason });
        throw new PlatformError('UNAUTHORIZED', INVALID_TOKEN, CHALLENGE);
      }
      throw error;
    }
    if (!claims.sid || this.services.revokedSessions.has(claims.sid)) {
      this.services.metrics.auth.rejectedTokens.inc({ reason: 'session_revoked' });
      throw new PlatformError('UNAUTHORIZED', INVALID_TOKEN, CHALLENGE);
    }
    return {
      kind: 'user',
      userId: claims.sub,
      organizationId: claims.org,
      role: claims.role as Role,
      platformRole: claims.prole === 'admin' || claims.prole === 'operator' ? claims.prole : null,
      sessionId: claims.sid,
      secondFactor: claims.acr === 'aal2',
    };
  }

  /**
   * The principal of an API key, or the refusal thrown. Synchronous for a hot key without limits
   * (its verification awaits nothing), else a promise: callers `await` it either way, inside an
   * async function, where a refusal thrown at once and a rejected promise are the same thing.
   */
  apiKey(key: string, scope: ApiKeyScope | undefined): Authenticated | Promise<Authenticated> {
    const result = this.services.apiKeys.check(key, { scope });
    return result instanceof Promise
      ? result.then((settled) => outcome(settled, scope))
      : outcome(result, scope);
  }
}

/** The principal of a VALID verification, else the refusal its code stands for. */
function outcome(result: VerifyResult, scope: ApiKeyScope | undefined): Authenticated {
  switch (result.code) {
    case 'VALID':
      return { principal: result.principal!, rateLimit: result.rateLimit };
    case 'NOT_FOUND':
      throw new PlatformError('UNAUTHORIZED', 'the API key is not valid', CHALLENGE);
    case 'EXPIRED':
      throw new PlatformError('UNAUTHORIZED', 'the API key has expired', CHALLENGE);
    case 'DISABLED':
      throw new PlatformError('UNAUTHORIZED', 'the API key is disabled', CHALLENGE);
    case 'INSUFFICIENT_SCOPE':
      throw new PlatformError('FORBIDDEN', `the API key lacks the scope ${scope ?? ''}`.trim());
    case 'USAGE_EXCEEDED':
      throw new PlatformError('TOO_MANY_REQUESTS', 'the API key has no uses left');
    case 'RATE_LIMITED': {
      const retry = Math.max(1, Math.ceil((result.rateLimit?.retryAfterMs ?? 1000) / 1000));
      throw new PlatformError('TOO_MANY_REQUESTS', 'the API key is over its rate limit', {
        'Retry-After': String(retry),
        // The IETF field as on admitted calls (server/http/trpc-rate-limit.ts), nothing left now.
        RateLimit: `"api_key";r=0;t=${retry}`,
      });
    }
  }
}
