import type { Logger } from '../base/logger';
import type { Principal, UserPrincipal } from '../base/principal';
import type { RateLimitDecision } from '../base/rate-limit/gcra';
import { type Credential, readCredential } from '../services/auth/authenticator';
import type { RequestDeps } from './deps';
import type { AppContext } from './env';
import { requestLogger } from './middleware/request-id';

/** A rate-limit decision taken during the request, for the RateLimit response headers. */
export interface RateLimitNote {
  policy: string;
  decision: RateLimitDecision | null;
  allowed: boolean;
}

/**
 * The HTTP side of a call. Everything is read on demand: public procedures such as system.info
 * never touch a header, and reading one costs measurably on the hot path.
 */
export interface HttpInfo {
  /** The request's credential (Authorization: Bearer or X-API-Key), or null. Throws on a malformed one. */
  credential(): Credential | null;
  /** The access token's principal, verified once per request however many calls the batch has. */
  accessToken(token: string): Promise<UserPrincipal>;
  /** The caller's address (the peer, or X-Forwarded-For behind a trusted proxy). */
  ip(): string;
  userAgent(): string | null;
  /** The request's own host (and port), for same-origin checks. */
  host: string;
  /** One request header, by name. */
  header(name: string): string | null;
  /** Headers to add to the response (Set-Cookie). */
  resHeaders: Headers;
  /** Rate-limit decisions of the request's calls; the most constraining one becomes its headers. */
  rateLimits: RateLimitNote[];
}

export interface Context {
  deps: RequestDeps;
  requestId: string;
  /** The request's logger (its lines carry the request id), made on first call. */
  log: () => Logger;
  /** Null for in-process calls (a caller from `createCallerFactory`), which state their principal instead. */
  http: HttpInfo | null;
  /** Who is calling: set by the policy middleware; given up front by in-process callers. */
  principal: Principal | null;
}

/**
 * The context of a call that arrived over HTTP through Hono. `opts.resHeaders` are headers the
 * response gains (tRPC's fetch adapter hands its own; the single-call path makes them).
 */
export function createContext(
  c: AppContext,
  deps: RequestDeps,
  opts: { readonly resHeaders: Headers },
  rateLimits: RateLimitNote[],
  ip: () => string,
): Context {
  const headers = c.req.raw.headers;
  let credential: Credential | null | undefined;
  let accessToken: Promise<UserPrincipal> | undefined;
  let verifiedToken: string | undefined;
  return {
    deps,
    requestId: c.get('requestId'),
    // A function, not a getter: tRPC copies the context when a middleware extends it, and a
    // getter would then make a child logger for every call, though most calls never log.
    log: () => requestLogger(c, deps.logger),
    principal: null,
    http: new LazyHttpFacts(c, opts, {
      credential() {
        if (credential === undefined) {
          credential = readCredential(headers.get('authorization'), headers.get('x-api-key'));
        }
        return credential;
      },
      accessToken(token) {
        if (accessToken === undefined || verifiedToken !== token) {
          verifiedToken = token;
          accessToken = deps.auth.authenticator.accessToken(token);
        }
        return accessToken;
      },
      ip,
      userAgent: () => headers.get('user-agent'),
      header: (name) => headers.get(name),
      rateLimits,
    }),
  };
}

/**
 * `host` and `resHeaders` read on demand, as getters on a class: V8 keeps the getters of an
 * object literal in the object's own hidden class, so a literal with getter closures made per
 * request gets a new hidden class per request, allocated in old space, which keeps the whole
 * request alive through every young-generation GC until the next full one.
 */
class LazyHttpFacts implements HttpInfo {
  readonly credential: HttpInfo['credential'];
  readonly accessToken: HttpInfo['accessToken'];
  readonly ip: HttpInfo['ip'];
  readonly userAgent: HttpInfo['userAgent'];
  readonly header: HttpInfo['header'];
  readonly rateLimits: RateLimitNote[];
  constructor(
    private readonly c: AppContext,
    private readonly opts: { readonly resHeaders: Headers },
    rest: Omit<HttpInfo, 'host' | 'resHeaders'>,
  ) {
    this.credential = rest.credential;
    this.accessToken = rest.accessToken;
    this.ip = rest.ip;
    this.userAgent = rest.userAgent;
    this.header = rest.header;
    this.rateLimits = rest.rateLimits;
  }
  get host(): string {
    return this.c.req.raw.headers.get('host') ?? new URL(this.c.req.url).host;
  }
  get resHeaders(): Headers {
    return this.opts.resHeaders;
  }
}
