import type {
  Operation,
  OperationLink,
  OperationResultEnvelope,
  TRPCClientError,
  TRPCLink,
} from '@trpc/client';
import { observable } from '@trpc/server/observable';
import { untilAborted } from '../shared/abortable';
import { type CallSignal, callSignal, sleep } from './abort';
import type { AuthSession } from './auth-session';
import { PlatformClientError, toPlatformError } from './errors';
import { isTransient, mayRepeat, type RetryOptions, retryDelay } from './retry';
import type { AppRouter } from './types';

/**
 * What a single call may say about itself, as `{ context: { ... } }` in its options:
 * `client.devops.backups.verify.mutate(input, { context: { idempotent: true, timeoutMs: 60_000 } })`.
 */
export interface CallContext {
  /** This mutation may be sent again after a failure that may have reached the server. */
  idempotent?: boolean;
  /** This call's timeout, retries included, instead of the client's. */
  timeoutMs?: number;
}

export interface CallLinkOptions {
  /** The session whose tokens the calls carry, or null (API key, anonymous). */
  session: AuthSession | null;
  timeoutMs: number;
  retry: RetryOptions;
}

type Envelope = OperationResultEnvelope<unknown, TRPCClientError<AppRouter>>;
type Next = Parameters<OperationLink<AppRouter>>[0]['next'];

/** Procedures whose UNAUTHORIZED is their answer (wrong password, spent token), not an expired token. */
const SIGN_IN_PATHS = new Set(['auth.login', 'auth.refresh']);

/**
 * The link every call goes through before the HTTP link: its timeout and AbortSignal, the session's
 * token (renewed once, with every other call refused at the same time, when the server says it
 * expired), retries with backoff for what may be repeated, and one error type for everything.
 */
export function callLink(options: CallLinkOptions): TRPCLink<AppRouter> {
  const idempotent = new Set(options.retry.idempotent);
  return () =>
    ({ op, next }) => {
      if (op.type === 'subscription') return next(op);
      return observable<Envelope, TRPCClientError<AppRouter>>((observer) => {
        const timeoutMs = timeoutOf(op, options.timeoutMs);
        const call = callSignal(op.signal, timeoutMs);
        run(op, next, call, options, idempotent)
          .then(
            (envelope) => {
              observer.next(envelope);
              observer.complete();
            },
            (error: unknown) =>
              observer.error(stopped(call, op, timeoutMs) ?? toPlatformError(error, op.path)),
          )
          .finally(() => call.dispose());
        // The subscriber left (the call settled, or tRPC tore it down): stop whatever is pending.
        return () => call.cancel();
      });
    };
}

async function run(
  op: Operation,
  next: Next,
  call: CallSignal,
  options: CallLinkOptions,
  idempotent: ReadonlySet<string>,
): Promise<Envelope> {
  const session = SIGN_IN_PATHS.has(op.path) ? null : options.session;
  let renewed = false;
  let failures = 0;
  for (;;) {
    // Whether this attempt may have run the procedure: decides if a mutation may be repeated.
    let reached = false;
    try {
      const generation = session ? await session.prepare(call.signal) : 0;
      reached = true;
      try {
        return await send(next, { ...op, signal: call.signal }, call.signal);
      } catch (error) {
        const failure = toPlatformError(error, op.path);
        if (!session || renewed || failure.code !== 'UNAUTHORIZED') throw failure;
        // The platform answers UNAUTHORIZED only about credentials, before a procedure changes
        // anything: any call may go again, once, with renewed tokens.
        reached = false;
        await untilAborted(session.renewAfter(generation), call.signal);
        renewed = true;
      }
    } catch (error) {
      if (call.signal.aborted) throw error;
      const failure = toPlatformError(error, op.path);
      failures += 1;
      const delay =
        isTransient(failure) && (!reached || mayRepeat(op, idempotent))
          ? retryDelay(options.retry, failures, failure, call.deadline - Date.now())
          : null;
      if (delay === null) throw failure;
      await sleep(delay, call.signal);
    }
  }
}

/** One attempt through the rest of the links; rejects as soon as the call's signal fires. */
function send(next: Next, op: Operation, signal: AbortSignal): Promise<Envelope> {
  return new Promise<Envelope>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const settle = () => signal.removeEventListener('abort', onAbort);
    const subscription = next(op).subscribe({
      next(envelope) {
        settle();
        resolve(envelope);
      },
      error(error) {
        settle();
        reject(error);
      },
      complete() {
        settle();
        // After a result this changes nothing; without one, the link chain misbehaved.
        reject(new Error(`${op.path} ended without a result`));
      },
    });
    // Leaving the batch lets tRPC abort its request once every call in it has left.
    function onAbort() {
      subscription.unsubscribe();
      reject(signal.reason);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function timeoutOf(op: Operation, fallback: number): number {
  const own = (op.context as CallContext).timeoutMs;
  return typeof own === 'number' && own > 0 ? own : fallback;
}

/** The error of a call stopped by its timeout or its caller, or null if it was not stopped. */
function stopped(call: CallSignal, op: Operation, timeoutMs: number): PlatformClientError | null {
  const reason = call.stopReason();
  if (reason === 'timeout') {
    return new PlatformClientError(`${op.path} timed out after ${timeoutMs} ms`, {
      code: 'TIMEOUT',
      path: op.path,
    });
  }
  if (reason === 'aborted' || reason === 'cancelled') {
    return new PlatformClientError(`${op.path} was aborted`, {
      code: 'ABORTED',
      path: op.path,
      cause: call.signal.reason,
    });
  }
  return null;
}
