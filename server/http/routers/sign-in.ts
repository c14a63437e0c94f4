import { PlatformError } from '../../base/errors';
import type { Context } from '../context';
import { isBrowser, refreshCookie } from '../refresh-cookie';
import { rateLimited } from '../trpc-rate-limit';

/** Spends one unit of a strict, fail-closed policy (login, refresh) for the caller's address. */
export async function limitByIp(ctx: Context, policy: 'login' | 'refresh'): Promise<void> {
  if (!ctx.http) return;
  const outcome = await ctx.deps.rateLimiter.check(policy, `${policy}:ip:${ctx.http.ip()}`);
  ctx.http.rateLimits.push({ policy, decision: outcome.decision, allowed: outcome.allowed });
  if (!outcome.allowed) {
    if (outcome.storeFailed) {
      throw new PlatformError('SERVICE_UNAVAILABLE', 'sign-in is unavailable, retry later');
    }
    throw rateLimited(outcome.decision?.retryAfterMs);
  }
}

interface Issued {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  session: { id: string; expiresAt: Date };
}

/** Browsers get the refresh token as an HttpOnly cookie and never see it; other clients in the body. */
export function deliver(ctx: Context, issued: Issued) {
  const browser = ctx.http !== null && isBrowser(ctx.http.header('sec-fetch-site'));
  if (browser)
    ctx.http!.resHeaders.append('Set-Cookie', refreshCookie(issued.refreshToken, issued.session.expiresAt));
  return {
    accessToken: issued.accessToken,
    tokenType: 'Bearer' as const,
    expiresAt: issued.accessTokenExpiresAt.toISOString(),
    refreshToken: browser ? null : issued.refreshToken,
    session: { id: issued.session.id, expiresAt: issued.session.expiresAt.toISOString() },
  };
}
