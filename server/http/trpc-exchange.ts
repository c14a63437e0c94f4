import type { TRPCError } from '@trpc/server';
import { PlatformError } from '../base/errors';
import { epochMsOf } from '../services/performance/analytics';
import { clientIp } from './client-ip';
import { type Context, createContext, type RateLimitNote } from './context';
import type { RequestDeps } from './deps';
import type { AppContext } from './env';
import { requestLogger } from './middleware/request-id';
import { ProcedureCalls } from './procedure-calls';
import { limitAnonymous, rateLimitResponseHeaders } from './trpc-rate-limit';

/**
 * One tRPC request as both of its dispatchers see it (the single-call fast path in
 * trpc-single-call.ts and tRPC's own fetch adapter in trpc-adapter.ts), so that the two cannot
 * drift apart: how its context is made, what a failure does (tRPC's `onError`), which headers
 * the response gains, and the metrics and analytics of its calls.
 */
export class TrpcExchange {
  /** What tRPC reports of the request's calls, recorded once the response is made. */
  readonly calls = new RequestCalls();
  /**
   * The context was refused (the per-address limit): tRPC formats the errors of such a request
   * without a context, so with `requestId: null`; `withRequestId` gives them this request's id.
   */
  contextRefused = false;
  /** Rate-limit decisions taken while serving the request; the most constraining one becomes its headers. */
  readonly rateLimits: RateLimitNote[] = [];
  private address: string | undefined;
  /** Retry-After of a refused call, WWW-Authenticate of a 401 (RFC 6750 §3). */
  private errorHeaders: Record<string, string> | undefined;
  private unavailable = false;

  constructor(
    private readonly c: AppContext,
    private readonly deps: RequestDeps,
    private readonly started: number,
  ) {}

  /** The caller's address, read once and only if a rate limit or a procedure asks for it. */
  readonly ip = (): string => {
    this.address ??= clientIp(this.c, this.deps.config.TRUST_PROXY);
    return this.address;
  };

  /**
   * The context of the request's calls, after the per-address limit on requests without a
   * credential (which throws when it refuses). `calls` is the number of calls the request holds.
   */
  async createContext(calls: number, out: { readonly resHeaders: Headers }): Promise<Context> {
    try {
      await limitAnonymous(this.c, this.deps, calls, this.ip, this.rateLimits);
    } catch (refusal) {
      this.contextRefused = true;
      throw refusal;
    }
    return createContext(this.c, this.deps, out, this.rateLimits, this.ip);
  }

  /**
   * An error shape tRPC's formatter made without a context (`data.requestId` null) with this
   * request's id, as every other error of the platform carries it. Changes `shape` in place.
   */
  withRequestId<T>(shape: T): T {
    const data = (shape as { data?: { requestId?: unknown } } | null)?.data;
    if (data && typeof data === 'object' && data.requestId === null) data.requestId = this.c.get('requestId');
    return shape;
  }

  /**
   * tRPC's `onError`: a failed call (`path` undefined when the request failed as a whole, e.g. its
   * context refused it) with the error its caller receives.
   */
  failed(error: TRPCError, path: string | undefined): void {
    this.calls.failed(path, error);
    if (error.cause instanceof PlatformError)
      this.errorHeaders = { ...this.errorHeaders, ...error.cause.headers };
    if (error.code === 'SERVICE_UNAVAILABLE') this.unavailable = true;
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      requestLogger(this.c, this.deps.logger).error({ err: error, procedure: path }, 'tRPC error');
    }
  }

  /** Records the request's calls and gives the response the headers its calls asked for. */
  finish(response: Response): Response {
    const { deps } = this;
    const ended = performance.now();
    this.calls.record(
      deps.metrics,
      deps.performance.analytics,
      (ended - this.started) / 1000,
      epochMsOf(ended),
    );
    if (this.rateLimits.length === 0 && !this.errorHeaders && !this.unavailable) return response;
    const headers = response.headers;
    if (this.rateLimits.length > 0) {
      for (const [name, value] of Object.entries(
        rateLimitResponseHeaders(this.rateLimits, deps.rateLimiter),
      )) {
        headers.set(name, value);
      }
    }
    for (const [name, value] of Object.entries(this.errorHeaders ?? {})) headers.set(name, value);
    // A database that is down or a pool that is full: say when to come back, unless the refusal
    // named its own time (maintenance, the rate-limit store's fail-closed policy).
    if (this.unavailable && !headers.has('Retry-After')) headers.set('Retry-After', '1');
    return response;
  }
}

type ReportedCalls = Parameters<ProcedureCalls['seen']>[0];

/**
 * The request's calls, where a failure of the whole request (tRPC's `onError` without a path:
 * a result only a stream can carry, one that cannot be serialized) fails every call it reported
 * that has no failure of its own, instead of leaving them counted as OK.
 */
class RequestCalls extends ProcedureCalls {
  private reported: ReportedCalls;
  private wholeRequest: TRPCError | undefined;

  override seen(calls: ReportedCalls, type: string | undefined): void {
    this.reported = calls;
    super.seen(calls, type);
  }

  override failed(path: string | undefined, error: TRPCError): void {
    if (path === undefined) this.wholeRequest = error;
    super.failed(path, error);
  }

  override record(...args: Parameters<ProcedureCalls['record']>): void {
    const failure = this.wholeRequest;
    if (failure !== undefined && this.reported) {
      // Each call takes its own failure first (record matches them in order), then this one.
      for (const call of this.reported) super.failed(call.path, failure);
    }
    super.record(...args);
  }
}

/** A procedure of the router as tRPC's adapter calls it (`proc(opts)` in resolveResponse). */
export type CallableProcedure = (opts: {
  path: string;
  getRawInput: () => Promise<unknown>;
  ctx: Context;
  type: 'query' | 'mutation';
  signal: AbortSignal | undefined;
  batchIndex: number;
}) => Promise<unknown>;
