import { TRPCClientError } from '@trpc/client';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import type { AppRouter } from './types';

/**
 * Codes the client gives failures that never got an answer from the platform:
 * - NETWORK_ERROR: the request could not be sent or its answer not received (offline, DNS, reset);
 * - TIMEOUT: the call took longer than its timeout, retries included;
 * - ABORTED: the caller's AbortSignal fired;
 * - BAD_RESPONSE: an answer that is not the platform's (a proxy's HTML page, unparsable JSON);
 * - CLIENT_ERROR: the client refused the call itself (an input too large for one request) or a
 *   hook of the caller failed.
 */
export type ClientErrorCode = 'NETWORK_ERROR' | 'TIMEOUT' | 'ABORTED' | 'BAD_RESPONSE' | 'CLIENT_ERROR';

/** The code of any error the client throws: the platform's (tRPC's names) or the client's own. */
export type PlatformErrorCode = TRPC_ERROR_CODE_KEY | ClientErrorCode;

/** Zod's flattened issues, as the server's error formatter sends them for invalid input. */
export interface ValidationIssues {
  /** Issues of the input as a whole. */
  formErrors: string[];
  /** Issues by top-level field name. */
  fieldErrors: Record<string, string[] | undefined>;
}

export interface PlatformClientErrorDetails {
  code: PlatformErrorCode;
  httpStatus?: number | null;
  requestId?: string | null;
  traceId?: string | null;
  validation?: ValidationIssues | null;
  retryAfterMs?: number | null;
  path?: string | null;
  cause?: unknown;
}

/**
 * Every error a platform client throws. It is a `TRPCClientError` (so tRPC tooling keeps working:
 * `shape` and `data` are the server's), with the details a caller switches on as plain fields.
 */
export class PlatformClientError extends TRPCClientError<AppRouter> {
  /** The platform's code (tRPC's names, e.g. UNAUTHORIZED) or the client's own (see ClientErrorCode). */
  readonly code: PlatformErrorCode;
  /** The HTTP status of the answer, or null when there was none. */
  readonly httpStatus: number | null;
  /** The server's request id, to quote when reporting a problem; null without an answer. */
  readonly requestId: string | null;
  /** The request's trace id (W3C), when the platform traces: find the trace with it. */
  readonly traceId: string | null;
  /** What was wrong with the input, for BAD_REQUEST answers to invalid input. */
  readonly validation: ValidationIssues | null;
  /** How long the server asked callers to wait (Retry-After), if it did. */
  readonly retryAfterMs: number | null;
  /** The procedure called, e.g. `auth.me`. */
  readonly path: string | null;

  /** The same as `httpStatus`, under the name of fetch's `Response.status`. */
  get status(): number | null {
    return this.httpStatus;
  }

  constructor(
    message: string,
    details: PlatformClientErrorDetails,
    origin?: Pick<TRPCClientError<AppRouter>, 'shape' | 'meta'>,
  ) {
    super(message, {
      cause: details.cause instanceof Error ? details.cause : undefined,
      result: origin?.shape ? { error: origin.shape } : undefined,
      meta: origin?.meta,
    });
    // TRPCClientError sets its own prototype in its constructor, which would hide this class's.
    Object.setPrototypeOf(this, PlatformClientError.prototype);
    this.name = 'PlatformClientError';
    this.code = details.code;
    this.httpStatus = details.httpStatus ?? null;
    this.requestId = details.requestId ?? null;
    this.traceId = details.traceId ?? null;
    this.validation = details.validation ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
    this.path = details.path ?? null;
  }
}

/** A fetch that threw: nothing was received. Raised by the client's fetch wrapper. */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(`network error: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'NetworkError';
  }
}

/** A failed answer that is not JSON, so not the platform's own (a proxy's 502 page, say). */
export class UnexpectedResponseError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | null,
    readonly requestId: string | null,
  ) {
    super(`the server answered HTTP ${status} without a platform error body`);
    this.name = 'UnexpectedResponseError';
  }
}

/** tRPC's codes for the HTTP statuses a proxy in front of the platform answers with. */
const CODE_OF_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  429: 'TOO_MANY_REQUESTS',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

/** Turns anything a call failed with into a PlatformClientError. */
export function toPlatformError(error: unknown, path: string | null = null): PlatformClientError {
  if (error instanceof PlatformClientError) return error;
  if (!(error instanceof TRPCClientError)) {
    const message = error instanceof Error ? error.message : String(error);
    return new PlatformClientError(message, { code: 'CLIENT_ERROR', path, cause: error });
  }
  const headers = responseHeaders(error.meta);
  const data = error.data as ServerErrorData | null | undefined;
  if (data?.code) {
    return new PlatformClientError(
      error.message,
      {
        code: data.code as PlatformErrorCode,
        httpStatus: data.httpStatus ?? null,
        requestId: data.requestId ?? headers?.get('x-request-id') ?? null,
        traceId: data.traceId ?? null,
        validation: data.validation ?? null,
        retryAfterMs: parseRetryAfter(headers?.get('retry-after') ?? null),
        path: data.path ?? path,
        cause: error.cause,
      },
      error,
    );
  }
  const cause: unknown = error.cause;
  if (cause instanceof NetworkError) {
    return new PlatformClientError(cause.message, { code: 'NETWORK_ERROR', path, cause });
  }
  if (cause instanceof UnexpectedResponseError) {
    return new PlatformClientError(cause.message, {
      code: CODE_OF_STATUS[cause.status] ?? 'BAD_RESPONSE',
      httpStatus: cause.status,
      requestId: cause.requestId,
      retryAfterMs: cause.retryAfterMs,
      path,
      cause,
    });
  }
  const plain = plainHttpError(error.meta);
  if (plain) {
    return new PlatformClientError(plain.message, {
      code: plain.code as PlatformErrorCode,
      httpStatus: responseStatus(error.meta),
      requestId: plain.requestId ?? headers?.get('x-request-id') ?? null,
      traceId: plain.traceId,
      retryAfterMs: parseRetryAfter(headers?.get('retry-after') ?? null),
      path,
      cause: error,
    });
  }
  if (cause instanceof Error && cause.name === 'AbortError') {
    return new PlatformClientError(`${path ?? 'the call'} was aborted`, { code: 'ABORTED', path, cause });
  }
  if (cause instanceof SyntaxError) {
    return new PlatformClientError(`the server's answer is not valid JSON: ${cause.message}`, {
      code: 'BAD_RESPONSE',
      path,
      cause,
    });
  }
  return new PlatformClientError(error.message, { code: 'CLIENT_ERROR', path, cause: error });
}

/**
 * The platform's details of an error, or null when `error` did not come from a platform client
 * call. Same fields as PlatformClientError, for callers that prefer a plain object.
 */
export function errorDetails(error: unknown): {
  code: PlatformErrorCode;
  httpStatus: number | null;
  message: string;
  requestId: string | null;
  validation: ValidationIssues | null;
  retryAfterMs: number | null;
} | null {
  if (!(error instanceof TRPCClientError)) return null;
  const e = toPlatformError(error);
  return {
    code: e.code,
    httpStatus: e.httpStatus,
    message: e.message,
    requestId: e.requestId,
    validation: e.validation,
    retryAfterMs: e.retryAfterMs,
  };
}

/**
 * Retry-After (RFC 9110 §10.2.3) in milliseconds: delay-seconds or an HTTP date. Null when absent
 * or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** What the server's error formatter puts in `data` (server/http/trpc.ts). */
interface ServerErrorData {
  code?: string;
  httpStatus?: number;
  path?: string;
  requestId?: string | null;
  traceId?: string;
  validation?: ValidationIssues | null;
}

function responseOf(meta: Record<string, unknown> | undefined): Response | null {
  const response = meta?.response;
  return typeof response === 'object' && response !== null && 'headers' in response
    ? (response as Response)
    : null;
}

function responseHeaders(meta: Record<string, unknown> | undefined): Headers | null {
  const headers = responseOf(meta)?.headers;
  return headers && typeof headers.get === 'function' ? headers : null;
}

function responseStatus(meta: Record<string, unknown> | undefined): number | null {
  const status = responseOf(meta)?.status;
  return typeof status === 'number' ? status : null;
}

/** The body of the platform's plain HTTP routes (shared/errors.ts), e.g. a 413 before tRPC. */
function plainHttpError(
  meta: Record<string, unknown> | undefined,
): { code: string; message: string; requestId: string | null; traceId: string | null } | null {
  const body = meta?.responseJSON as {
    error?: { code?: unknown; message?: unknown; requestId?: unknown; traceId?: unknown };
  };
  const error = body?.error;
  if (!error || typeof error.code !== 'string' || typeof error.message !== 'string') return null;
  return {
    code: error.code,
    message: error.message,
    requestId: typeof error.requestId === 'string' ? error.requestId : null,
    traceId: typeof error.traceId === 'string' ? error.traceId : null,
  };
}
