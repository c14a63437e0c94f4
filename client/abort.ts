/** Why a call's signal fired. */
export type StopReason = 'aborted' | 'timeout' | 'cancelled';

/**
 * The signal of one call: it fires when the caller's own signal does, when the call's time runs
 * out, or when the call is cancelled (its subscriber went away). Built by hand rather than with
 * AbortSignal.any/timeout, which older browsers lack.
 */
export interface CallSignal {
  readonly signal: AbortSignal;
  /** When the call's time runs out (epoch ms). */
  readonly deadline: number;
  /** Why the signal fired, or null while it has not. */
  stopReason(): StopReason | null;
  cancel(): void;
  /** Releases the timer and the listener on the caller's signal. */
  dispose(): void;
}

export function callSignal(parent: AbortSignal | null | undefined, timeoutMs: number): CallSignal {
  const controller = new AbortController();
  let reason: StopReason | null = null;
  const stop = (why: StopReason, cause: unknown) => {
    if (reason) return;
    reason = why;
    controller.abort(cause);
  };
  const onParentAbort = () => stop('aborted', parent?.reason);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  const timer = setTimeout(
    () => stop('timeout', new Error(`timed out after ${timeoutMs} ms`)),
    Math.min(timeoutMs, 2 ** 31 - 1),
  );
  return {
    signal: controller.signal,
    deadline: Date.now() + timeoutMs,
    stopReason: () => reason,
    cancel: () => stop('cancelled', new Error('cancelled')),
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}

/** Waits `ms`, or less if the signal fires (then rejects with its reason). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
