import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from '../base/logger';

/**
 * Hono's typed environment of the app: what a request carries from the middleware that sets it
 * to the handlers that read it. Every Hono app, handler and middleware of server/http is typed by
 * it, so `c.get('requestId')` is known where it is read, with no global augmentation of Hono.
 */
export interface AppEnv {
  Variables: {
    /** This request's id: the caller's X-Request-Id when it is sane, else a new UUID (observe). */
    requestId: string;
    /** The request's logger, made on first use by `requestLogger`. */
    logger: Logger;
    /** Set by the not-found handler: the request matched no route. */
    unmatched: boolean;
    /** The request's trace id, when the app traces (middleware/trace.ts); in logs and error bodies. */
    traceId: string | undefined;
  };
}

/** A request's context in the app. */
export type AppContext = Context<AppEnv>;

/** A middleware of the app. */
export type AppMiddleware = MiddlewareHandler<AppEnv>;
