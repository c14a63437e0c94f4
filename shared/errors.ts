/**
 * The closed set of error codes the platform answers with over plain HTTP.
 * Clients may switch on them: a code, once published, keeps its meaning.
 * tRPC procedures use tRPC's own codes (same names where they overlap).
 */
export const ERROR_CODES = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_SUPPORTED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_SERVER_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Finer reasons a refusal may carry beside its code (`reason` in the error body, `data.reason`
 * over tRPC). Stable like the codes:
 * - SECOND_FACTOR_REQUIRED: the session was opened without a second factor and this needs one
 *   (sign in again with it, after enrolling one if need be).
 */
export const ERROR_REASONS = ['SECOND_FACTOR_REQUIRED'] as const;
export type ErrorReason = (typeof ERROR_REASONS)[number];

/** The one error body of plain HTTP routes. Never carries stack traces, SQL, tokens or keys. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    requestId: string;
    reason?: ErrorReason | null;
    traceId?: string;
  };
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code];
}
