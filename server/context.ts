import type { FetchCreateContextFnOptions } from '@trpc/server/adapters/fetch';
import type { Context as HonoContext } from 'hono';
import type { AppDeps } from './deps';
import { bearerToken, tokensMatch } from './middleware/admin-token';
import { requestLogger } from './middleware/request-id';
import type { Logger } from './runtime/logger';

export interface CreateContextOptions {
  deps: AppDeps;
  requestId: string;
  logger: Logger;
  /** Whether the caller presented the admin token. */
  isAdmin: boolean;
  /** Whether the caller presented any bearer token (tells 401 from 403). */
  hasCredentials: boolean;
}

/**
 * The context of a procedure call, without HTTP: what tests build directly. Returned as given
 * (not copied) so that a lazy `logger` getter stays lazy.
 */
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
    // Most calls never log: the request's child logger is made only if one does.
    get logger() {
      return requestLogger(c, deps.logger);
    },
    isAdmin: tokensMatch(token, deps.adminToken),
    hasCredentials: token !== undefined,
  });
}
