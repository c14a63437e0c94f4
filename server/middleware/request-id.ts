import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from '../runtime/logger';

declare module 'hono' {
  interface ContextVariableMap {
    /** This request's id: the caller's X-Request-Id when it is sane, else a new UUID. */
    requestId: string;
    /** The request's logger, made on first use by `requestLogger`. */
    logger: Logger;
  }
}

/** What we accept from a caller's X-Request-Id: short and free of anything a log parser could trip on. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const HEADER = 'X-Request-Id';

/**
 * Gives every request an id and echoes it in `X-Request-Id`, so a caller's report, our response
 * and our log lines can be matched up.
 */
export function requestId(): MiddlewareHandler {
  return async function requestIdMiddleware(c, next) {
    const incoming = c.req.header(HEADER);
    const id = incoming && SAFE_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set('requestId', id);
    c.header(HEADER, id);
    await next();
    // A handler that returns a Response of its own (the tRPC adapter does) replaces the one the
    // header above was prepared for, and Hono drops prepared headers then: set it again.
    if (c.res.headers.get(HEADER) !== id) c.header(HEADER, id);
  };
}

/**
 * A logger whose every line carries the request id. Made on first use and kept for the request:
 * most requests log nothing but their access line, and a pino child per request is not free.
 */
export function requestLogger(c: Context, root: Logger): Logger {
  let logger = c.get('logger');
  if (logger === undefined) {
    logger = root.child({ requestId: c.get('requestId') });
    c.set('logger', logger);
  }
  return logger;
}
