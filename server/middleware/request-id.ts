import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../runtime/logger';

declare module 'hono' {
  interface ContextVariableMap {
    /** This request's id: the caller's X-Request-Id when it is sane, else a new UUID. */
    requestId: string;
    /** A logger whose every line carries the request id. */
    logger: Logger;
  }
}

/** What we accept from a caller's X-Request-Id: short and free of anything a log parser could trip on. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id, echoes it in `X-Request-Id` and binds it to the request's logger,
 * so a caller's report, our response and our log lines can be matched up.
 */
export function requestId(options: { logger: Logger; header?: string }): MiddlewareHandler {
  const header = options.header ?? 'X-Request-Id';
  return async function requestIdMiddleware(c, next) {
    const incoming = c.req.header(header);
    const id = incoming && SAFE_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set('requestId', id);
    c.set('logger', options.logger.child({ requestId: id }));
    c.header(header, id);
    await next();
    // A handler that returns a Response of its own (the tRPC adapter does) replaces the one the
    // header above was prepared for, and Hono drops prepared headers then: set it again.
    if (c.res.headers.get(header) !== id) c.header(header, id);
  };
}
