/**
 * Which database failures are worth another try, and how long to wait between tries.
 *
 * Transient means "the same statement may well succeed if sent again": the connection was
 * lost or refused (SQLSTATE class 08), the server is shutting down or restarting
 * (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now), or the
 * transaction lost a serialization race or a deadlock (40001, 40P01). Whether repeating is
 * *safe* is a separate question the caller answers: see `Database.read` and
 * `Database.transaction` in ./connect.ts.
 */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '40001', '40P01']);

/** Network-level failures that node-postgres reports without a SQLSTATE. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

const TRANSIENT_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'the database system is starting up',
  'the database system is shutting down',
  'terminating connection',
];

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isTransientError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = sqlState(error);
  if (code) {
    if (code.startsWith('08') || TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NETWORK_CODES.has(code))
      return true;
  }
  return TRANSIENT_MESSAGES.some((m) => error.message.includes(m));
}

/**
 * pg-pool's refusal when every connection of the pool stayed busy for `connectionTimeoutMillis`
 * (it raises this one only for callers queued on a full pool; a connect that timed out says
 * "Connection terminated due to connection timeout"). Transient, so callers get a 503, but the
 * database is fine: the pool is saturated.
 */
export function isPoolExhausted(error: unknown): boolean {
  return error instanceof Error && error.message === POOL_EXHAUSTED;
}
const POOL_EXHAUSTED = 'timeout exceeded when trying to connect';

/**
 * Transient and worth sending again at once. Not a saturated pool: a repeat queues behind the
 * same busy connections, so a caller waited the acquire timeout once per attempt (ten by
 * default) before its 503, and every retrying caller kept the queue long for the others.
 */
export function isRetryableError(error: unknown): boolean {
  return (isTransientError(error) && !isPoolExhausted(error)) || isStalePlan(error);
}

/**
 * PostgreSQL re-plans a named prepared statement by itself when a table it reads changes, but
 * refuses to run it (0A000, "cached plan must not change result type") once its result columns
 * changed, as a migration adding a column does to `select *`. The connection then sends that SQL
 * unnamed (./compiled-client.ts), so the statement succeeds if sent again: retryable, though not
 * a connection failure.
 */
export function isStalePlan(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return (
    e?.code === '0A000' &&
    typeof e.message === 'string' &&
    e.message.includes('cached plan must not change result type')
  );
}

/** A failure of the connection itself, as opposed to a conflict inside a healthy one or a full pool. */
export function isConnectionError(error: unknown): boolean {
  const code = sqlState(error);
  if (code === '40001' || code === '40P01') return false;
  return isTransientError(error) && !isPoolExhausted(error);
}

export interface BackoffOptions {
  /** Delay before the second try. */
  baseMs: number;
  /** No delay exceeds this. */
  maxMs: number;
  /** Source of randomness, replaceable for tests. */
  random?: () => number;
}

/**
 * Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
 * Jitter"): a uniform delay in [0, min(max, base * 2^attempt)], so clients that failed together
 * do not retry together. `attempt` counts from 0 for the first retry.
 */
export function backoffDelay(
  attempt: number,
  { baseMs, maxMs, random = Math.random }: BackoffOptions,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(random() * ceiling);
}

export interface RetryOptions extends BackoffOptions {
  /** Total tries, the first included. */
  attempts: number;
  /** Decides whether an error is worth another try; defaults to `isTransientError`. */
  retryable?: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  try {
    return await operation(0);
  } catch (error) {
    return retryAfterFailure(error, operation, options);
  }
}

/**
 * What `withRetry` does once the first attempt has failed with `error`: the retries, with the
 * same attempts, backoff and `onRetry` calls. For callers that make the first attempt themselves
 * and pay for the retry machinery only when it fails (`PlatformDatabase.read`).
 */
export async function retryAfterFailure<T>(
  error: unknown,
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const retryable = options.retryable ?? isTransientError;
  let last = error;
  for (let attempt = 1; ; attempt++) {
    if (attempt >= options.attempts || !retryable(last) || options.signal?.aborted) throw last;
    const delay = backoffDelay(attempt - 1, options);
    options.onRetry?.(last, attempt, delay);
    await sleep(delay, options.signal);
    try {
      return await operation(attempt);
    } catch (next) {
      last = next;
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
