import type { PlatformClientError } from './errors';

export interface RetryOptions {
  /** Attempts after the first; 0 turns retries off. */
  retries: number;
  /** The ceiling of the first wait; each further retry doubles it, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited out: the call fails with the server's answer. */
  maxRetryAfterMs: number;
  /**
   * Mutations that may be sent twice with the same effect, by procedure path (e.g.
   * `auth.apiKeys.revoke`). A single call can say so with `{ context: { idempotent: true } }`.
   */
  idempotent: readonly string[];
}

export const DEFAULT_RETRY: RetryOptions = {
  retries: 3,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
  idempotent: [],
};

/** Statuses that mean "not now" rather than "no": rate limited, or a gateway without an upstream. */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

interface RepeatableOperation {
  type: 'query' | 'mutation' | 'subscription';
  path: string;
  context: Record<string, unknown>;
}

/**
 * Whether a call may be sent again after a failure that may have reached the server. A query
 * changes nothing; a mutation may have taken effect before its answer was lost, so it is sent
 * again only when its procedure is known to be idempotent.
 */
export function mayRepeat(op: RepeatableOperation, idempotent: ReadonlySet<string>): boolean {
  if (op.type === 'query') return true;
  return op.type === 'mutation' && (op.context.idempotent === true || idempotent.has(op.path));
}

/** Whether another attempt could succeed: nothing was received, or the answer said "later". */
export function isTransient(error: PlatformClientError): boolean {
  return (
    error.code === 'NETWORK_ERROR' || (error.httpStatus !== null && TRANSIENT_STATUSES.has(error.httpStatus))
  );
}

/**
 * How long to wait before retry number `retry` (1 for the first), or null to give up. Capped
 * exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * clients that failed together do not retry together. A Retry-After is a floor, as the server
 * knows better; a wait that would outlast the call's deadline is not started.
 */
export function retryDelay(
  options: RetryOptions,
  retry: number,
  error: PlatformClientError,
  msLeft: number,
  random: () => number = Math.random,
): number | null {
  if (retry > options.retries) return null;
  const retryAfter = error.retryAfterMs ?? 0;
  if (retryAfter > options.maxRetryAfterMs) return null;
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  const delay = Math.max(retryAfter, random() * ceiling);
  return delay < msLeft ? delay : null;
}
