import { backoffDelay, sleep } from '../../../db/retry';

/** How provider calls are retried: capped exponential backoff with full jitter, `attempts` tries in all. */
export interface CallRetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
  /** One try that has not settled by then counts as failed (a provider that hangs must not stall a deployment). */
  timeoutMs: number;
}

export const DEFAULT_CALL_RETRY: CallRetryPolicy = {
  attempts: 5,
  baseMs: 500,
  maxMs: 10_000,
  timeoutMs: 60_000,
};

/** Every try failed: the error the deployment records and pauses (or fails) on. */
export class ProviderCallFailed extends Error {
  override name = 'ProviderCallFailed';
  constructor(
    readonly call: string,
    readonly attempts: number,
    readonly lastError: string,
  ) {
    super(`${call} failed ${attempts} times; last error: ${lastError}`);
  }
}

/** The driver was told to stop (shutdown, lost lease, an operator's change) while waiting. */
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor() {
    super('interrupted');
  }
}

export interface FailedAttempt {
  call: string;
  attempt: number;
  error: string;
  /** Null after the last try. */
  retryInMs: number | null;
}

/**
 * Calls `work` until it succeeds or the tries run out. Each failure is reported before the next
 * try, so none goes unrecorded. Stops between tries once `signal` aborts (throwing Interrupted);
 * a try under way is never abandoned half-way, since providers cannot be told to cancel.
 */
export async function callWithRetry<T>(
  call: string,
  work: () => Promise<T>,
  {
    policy,
    signal,
    onFailedAttempt,
  }: {
    policy: CallRetryPolicy;
    signal: AbortSignal;
    onFailedAttempt: (failure: FailedAttempt) => Promise<void>;
  },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw new Interrupted();
    try {
      return await withTimeout(work(), policy.timeoutMs, call);
    } catch (error) {
      if (error instanceof Interrupted) throw error;
      const message = (error instanceof Error ? error.message : String(error)).slice(0, 1_000);
      const last = attempt + 1 >= policy.attempts;
      const retryInMs = last ? null : backoffDelay(attempt, policy);
      await onFailedAttempt({ call, attempt: attempt + 1, error: message, retryInMs });
      if (last) throw new ProviderCallFailed(call, attempt + 1, message);
      await sleep(retryInMs ?? 0, signal);
    }
  }
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, call: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${call} did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
