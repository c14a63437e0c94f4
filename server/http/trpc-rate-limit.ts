import { TRPCError } from '@trpc/server';
import { PlatformError } from '../base/errors';
import { type RateLimiter, rateLimitHeaders } from '../base/rate-limit/limiter';
import type { RateLimitNote } from './context';
import type { RequestDeps } from './deps';
import type { AppContext } from './env';

/** The note of an API key's own limits (named per key, not a limiter policy). */
export const API_KEY_POLICY = 'api_key';

const ADMITTED: Promise<void> = Promise.resolve();

/**
 * Per-address limit on tRPC requests that carry no credential (public procedures, login
 * attempts, probing). Each call of a batch counts, so a batch of 20 spends 20. Requests with a
 * credential are limited per user or per API key instead, once authenticated (see trpc.ts), so a
 * server-side client sending many keyed calls from one address is not throttled as anonymous.
 *
 * Not an async function: a request with a credential, the common case for partners, gets a
 * settled promise back without a frame of its own. Rejects (never throws) with TOO_MANY_REQUESTS.
 */
export function limitAnonymous(
  c: AppContext,
  deps: RequestDeps,
  calls: number,
  ip: () => string,
  notes: RateLimitNote[],
): Promise<void> {
  const headers = c.req.raw.headers;
  if (headers.has('authorization') || headers.has('x-api-key')) return ADMITTED;
  return limitAddress(deps, Math.max(1, calls), ip, notes);
}

async function limitAddress(
  deps: RequestDeps,
  cost: number,
  ip: () => string,
  notes: RateLimitNote[],
): Promise<void> {
  const limit = deps.rateLimiter.policy('ip').limit;
  // A batch larger than the whole allowance could never be admitted: refuse it as such.
  if (cost > limit) {
    const refusal = new PlatformError(
      'TOO_MANY_REQUESTS',
      `a batch of ${cost} calls exceeds the limit of ${limit} a minute`,
      { 'Retry-After': '60' },
    );
    throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: refusal.message, cause: refusal });
  }
  const outcome = await deps.rateLimiter.check('ip', `ip:${ip()}`, cost);
  notes.push({ policy: 'ip', decision: outcome.decision, allowed: outcome.allowed });
  if (!outcome.allowed) {
    const refusal = rateLimited(outcome.decision?.retryAfterMs);
    throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: refusal.message, cause: refusal });
  }
}

/**
 * The IETF RateLimit headers of a request, from its most constraining decision: a refusal if
 * there was one, else the one with the least left.
 */
export function rateLimitResponseHeaders(
  notes: RateLimitNote[],
  limiter: RateLimiter,
): Record<string, string> {
  let chosen: RateLimitNote | undefined;
  for (const note of notes) {
    if (!chosen) chosen = note;
    else if (!note.allowed && chosen.allowed) chosen = note;
    else if (note.allowed === chosen.allowed && remaining(note) < remaining(chosen)) chosen = note;
  }
  if (!chosen) return {};
  if (chosen.policy !== API_KEY_POLICY) {
    const policy = limiter.policy(chosen.policy);
    return rateLimitHeaders(
      {
        allowed: chosen.allowed,
        decision: chosen.decision,
        policy: chosen.policy,
        storeFailed: chosen.decision === null,
      },
      policy,
    );
  }
  // An API key's own named limit: its quota is in the decision, its window is the key's.
  if (!chosen.decision) return {};
  const seconds = Math.ceil(chosen.decision.resetMs / 1000);
  return { RateLimit: `"${API_KEY_POLICY}";r=${chosen.decision.remaining};t=${seconds}` };
}

function remaining(note: RateLimitNote): number {
  return note.decision?.remaining ?? Number.POSITIVE_INFINITY;
}

/** The refusal of a rate-limited call, with Retry-After in whole seconds (rounded up). */
export function rateLimited(retryAfterMs: number | undefined): PlatformError {
  const seconds = Math.max(1, Math.ceil((retryAfterMs ?? 1000) / 1000));
  return new PlatformError('TOO_MANY_REQUESTS', `too many requests; retry in ${seconds} s`, {
    'Retry-After': String(seconds),
  });
}
