import type { Logger } from '../../base/logger';
import type { AppContext } from '../env';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** What we accept from a caller's X-Request-Id: short and free of anything a log parser could trip on. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id of a request: the caller's X-Request-Id when it is safe to echo and log (so a trace
 * started upstream continues here), else a new UUID.
 */
export function resolveRequestId(incoming: string | undefined): string {
  return incoming !== undefined && SAFE_ID.test(incoming) ? incoming : crypto.randomUUID();
}

/**
 * A logger whose every line carries the request id (and the trace id, when the app traces). Made on first use and kept for the request:
 * most requests log nothing but their access line, and a pino child per request is not free.
 */
export function requestLogger(c: AppContext, root: Logger): Logger {
  let logger = c.get('logger');
  if (logger === undefined) {
    const traceId = c.get('traceId');
    // trace_id as OpenTelemetry's log data model names it, so a log store links line and trace.
    logger = root.child(
      traceId === undefined
        ? { requestId: c.get('requestId') }
        : { requestId: c.get('requestId'), trace_id: traceId },
    );
    c.set('logger', logger);
  }
  return logger;
}
