import { createTRPCClient, httpBatchLink, httpLink, type TRPCClient } from '@trpc/client';
import {
  AuthSession,
  type AuthTransport,
  SecondFactorRequiredError,
  type SessionCredentials,
  type SessionTokens,
} from './auth-session';
import { callLink } from './call-link';
import type { PlatformClientError } from './errors';
import { type FetchLike, platformFetch } from './fetch';
import { DEFAULT_RETRY, type RetryOptions } from './retry';
import type { AppRouter } from './types';

type HeaderMap = Record<string, string>;

/** W3C Trace Context headers (https://www.w3.org/TR/trace-context/). */
export interface TraceContextHeaders {
  traceparent?: string;
  tracestate?: string;
}

interface CommonOptions {
  /** Base URL of the platform, e.g. `https://api.example.com` (the tRPC path is added). */
  url: string;
  /** Headers sent with every call, or a function computing them per request. */
  headers?: HeaderMap | (() => HeaderMap | Promise<HeaderMap>);
  /** The fetch to use instead of the global one (tests, instrumentation, polyfills). */
  fetch?: FetchLike;
  /**
   * The caller's trace context (W3C `traceparent`, `tracestate`), asked for as each HTTP request
   * leaves, so that the platform's spans continue the caller's trace. With OpenTelemetry's API:
   * `traceContext: () => { const h = {}; propagation.inject(context.active(), h); return h; }`.
   */
  traceContext?: () => TraceContextHeaders | undefined;
  /** How long a call may take, retries and token renewal included. Default 15 s. */
  timeoutMs?: number;
  /** Retries of queries, idempotent mutations and anything refused before it ran. */
  retry?: Partial<RetryOptions>;
  /**
   * Calls made in the same tick share one HTTP request, within both bounds. Keep maxItems at or
   * below the server's TRPC_MAX_BATCH_SIZE (default 20), and maxURLLength under the limits of
   * proxies on the way (default 4,000 characters: batched queries travel in the URL).
   */
  batch?: { maxItems?: number; maxURLLength?: number };
  /** @deprecated The same as `batch.maxItems`. */
  maxBatchSize?: number;
}

interface ApiKeyAuth {
  /** An API key (`bc_...`), sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  credentials?: never;
}

interface SessionAuth {
  /** How the session signs in; see SessionCredentials. */
  credentials: SessionCredentials;
  apiKey?: never;
  /** Every new token pair, before it is used: persist the refresh token here. */
  onTokens?: (tokens: SessionTokens) => void | Promise<void>;
  /** Called once when the session ends: sign-in or refresh refused, or logout. */
  onSessionEnded?: (reason: PlatformClientError) => void;
  /** How long before expiry an access token is renewed. Default 60 s (at most half its lifetime). */
  refreshBeforeExpiryMs?: number;
  /** The time source for token renewal, in epoch milliseconds (tests move it). */
  clock?: () => number;
}

interface AnonymousAuth {
  apiKey?: never;
  credentials?: never;
}

export type ClientOptions = CommonOptions & (ApiKeyAuth | SessionAuth | AnonymousAuth);

/** A typed client of the platform's tRPC API: `client.auth.me.query()`. */
export type PlatformClient = TRPCClient<AppRouter>;

const DEFAULT_TIMEOUT_MS = 15_000;
const sessions = new WeakMap<PlatformClient, AuthSession>();

/**
 * A typed client of the platform. With `apiKey`, every call carries the key; with `credentials`,
 * calls carry an access token of a session the client signs in, renews and, if asked, persists
 * (see `sessionOf`); with neither, calls are anonymous (public procedures only).
 */
export function createClient(options: ClientOptions): PlatformClient {
  if (options.apiKey !== undefined && options.credentials !== undefined) {
    throw new TypeError('createClient takes an apiKey or credentials, not both');
  }
  const endpoint = `${options.url.replace(/\/+$/, '')}/api/trpc`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...options.retry };
  const traceContext = options.traceContext;
  const ownHeaders = async (): Promise<HeaderMap> => {
    const headers = typeof options.headers === 'function' ? await options.headers() : { ...options.headers };
    return traceContext ? withTraceContext(headers, traceContext()) : headers;
  };

  const session =
    options.credentials !== undefined
      ? new AuthSession({
          credentials: options.credentials,
          transport: authTransport(endpoint, ownHeaders, options.fetch, timeoutMs),
          onTokens: options.onTokens,
          onSessionEnded: options.onSessionEnded,
          refreshBeforeExpiryMs: options.refreshBeforeExpiryMs,
          clock: options.clock,
        })
      : null;
  const apiKey = options.apiKey !== undefined ? `Bearer ${options.apiKey}` : null;

  const client = createTRPCClient<AppRouter>({
    links: [
      callLink({ session, timeoutMs, retry }),
      httpBatchLink({
        url: endpoint,
        maxItems: options.batch?.maxItems ?? options.maxBatchSize ?? 20,
        maxURLLength: options.batch?.maxURLLength ?? 4_000,
        fetch: platformFetch(options.fetch),
        async headers() {
          const headers = await ownHeaders();
          // Read when the request leaves, so that a batch goes with the newest token.
          const authorization = apiKey ?? session?.authorization() ?? null;
          return authorization ? { ...headers, authorization } : headers;
        },
      }),
    ],
  });
  if (session) sessions.set(client, session);
  return client;
}

/**
 * The session of a client made with `credentials`, or null: its tokens, sign-in (`login`) for a
 * login form, `setTokens` for tokens kept from before, and `logout`.
 */
export function sessionOf(client: PlatformClient): AuthSession | null {
  return sessions.get(client) ?? null;
}

/**
 * The session's own calls: unbatched, so that a refresh never waits in a batch with the calls it
 * rescues, with the refresh cookie (credentials: 'include') for browsers, and with the timeout of
 * the client but no retries of their own (the calls that need them retry).
 */
function authTransport(
  endpoint: string,
  ownHeaders: () => Promise<HeaderMap>,
  fetch: FetchLike | undefined,
  timeoutMs: number,
): AuthTransport {
  const auth = createTRPCClient<AppRouter>({
    links: [
      callLink({ session: null, timeoutMs, retry: { ...DEFAULT_RETRY, retries: 0 } }),
      httpLink({
        url: endpoint,
        fetch: platformFetch(fetch, { credentials: 'include' }),
        async headers({ op }) {
          const headers = await ownHeaders();
          const authorization = op.context.authorization;
          return typeof authorization === 'string' ? { ...headers, authorization } : headers;
        },
      }),
    ],
  }).auth;
  return {
    login: async (credentials) => {
      const answer = await auth.login.mutate(credentials);
      if ('secondFactor' in answer) throw new SecondFactorRequiredError(answer.secondFactor);
      return tokensOf(answer);
    },
    // Browsers send no token: the server reads the HttpOnly cookie instead.
    refresh: async (refreshToken) =>
      tokensOf(await auth.refresh.mutate(refreshToken === null ? undefined : { refreshToken })),
    async logout(accessToken) {
      await auth.logout.mutate(undefined, { context: { authorization: `Bearer ${accessToken}` } });
    },
  };
}

function tokensOf(issued: SessionTokens): SessionTokens {
  return {
    accessToken: issued.accessToken,
    expiresAt: issued.expiresAt,
    refreshToken: issued.refreshToken,
    ...(issued.session ? { session: { id: issued.session.id, expiresAt: issued.session.expiresAt } } : {}),
  };
}

/** `headers` with the trace context's two headers, when given (nothing else of it is sent). */
function withTraceContext(headers: HeaderMap, trace: TraceContextHeaders | undefined): HeaderMap {
  if (!trace?.traceparent) return headers;
  const out: HeaderMap = { ...headers, traceparent: trace.traceparent };
  if (trace.tracestate) out.tracestate = trace.tracestate;
  return out;
}
