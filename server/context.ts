import type { FetchCreateContextFnOptions } from '@trpc/server/adapters/fetch';
import type { Context as HonoContext } from 'hono';
import type { AppDeps } from './deps';
import { bearerToken, tokensMatch } from './middleware/admin-token';
import { requestLogger } from './middleware/request-id';
import type { Logger } from './runtime/logger';

export interface CreateContextOptions {
  deps: AppDeps;
  requestId: string;
  /** The request's logger (its lines carry the request id), made on first call. */
  log: () => Logger;
  /** Whether the caller presented the admin token. */
  isAdmin: boolean;
  /** Whether the caller presented any bearer token (tells 401 from 403). */
  hasCredentials: boolean;
}

/** The context of a procedure call, without HTTP: what tests build directly. */
export function createContextInner(options: CreateContextOptions): CreateContextOptions {
  return options;
}

export type Context = ReturnType<typeof createContextInner>;

/** The context of a call that arrived over HTTP through Hono. */
export function createContext(c: HonoContext, deps: AppDeps, _opts?: FetchCreateContextFnOptions): Context {
  const token = bearerToken(c.req.header('authorization'));
  return createContextInner({
    deps,
    requestId: c.get('requestId'),
    // A function, not a getter: tRPC copies the context when a middleware extends it, and a
    // getter would then make a child logger for every call, though most calls never log.
    log: () => requestLogger(c, deps.logger),
    isAdmin: tokensMatch(token, deps.adminToken),
    hasCredentials: token !== undefined,
  });
}
