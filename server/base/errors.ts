import { type ErrorBody, type ErrorCode, type ErrorReason, statusOf } from '../../shared/errors';

/**
 * The one error class of plain HTTP routes: a code from the closed set in shared/errors.ts,
 * a message safe to show a caller, and optional headers (Retry-After, WWW-Authenticate).
 */
export class PlatformError extends Error {
  override name = 'PlatformError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** A finer, stable reason for clients to switch on (shared/errors.ts ERROR_REASONS). */
    readonly reason?: ErrorReason,
  ) {
    super(message);
    this.status = statusOf(code);
  }
}

/** The error body; `traceId` is the request's trace when the app traces (docs/operations.md, "Tracing"). */
export function errorBody(code: ErrorCode, message: string, requestId: string, traceId?: string): ErrorBody {
  return traceId === undefined
    ? { error: { code, message, requestId } }
    : { error: { code, message, requestId, traceId } };
}
