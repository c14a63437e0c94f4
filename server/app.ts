import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ErrorCode } from '../shared/errors';
import { createContext, type RateLimitNote } from './context';
import type { AppDeps } from './deps';
import { errorBody, PlatformError } from './errors';
import { clientIp } from './http/client-ip';
import { dashboardRoutes } from './http/dashboard';
import { healthRoutes } from './http/health';
import { jwksRoutes } from './http/jwks';
import { metricsRoutes } from './http/metrics';
import { PROBE_PATHS, withProbes } from './http/probes';
import { systemStatusRoutes } from './http/system-status';
import { limitAnonymous, rateLimitResponseHeaders } from './http/trpc-rate-limit';
import { cors } from './middleware/cors';
import { observe } from './middleware/observe';
import { requestLogger } from './middleware/request-id';
import { appRouter } from './routers';
import { createAccessLog } from './runtime/access-log';
import { ProcedureCalls } from './services/monitoring/procedure-calls';
import { epochMsOf } from './services/performance/analytics';

const TRPC_ENDPOINT = '/api/trpc';

/**
 * Builds the whole HTTP application from its dependencies. No ports, no globals: a test
 * builds it with its own deps and calls `app.request()`.
 */
export function createApp(deps: AppDeps) {
  const app = new Hono();

  app.use(
    '*',
    observe({
      metrics: deps.metrics,
      lifecycle: deps.lifecycle,
      logger: deps.logger,
      accessLog: createAccessLog(deps.logger),
      analytics: deps.performance.analytics,
    }),
  );

  app.route('/', healthRoutes(deps));
  app.route('/', metricsRoutes(deps));
  app.route('/', systemStatusRoutes(deps));
  app.route('/', jwksRoutes(deps.auth.keyring));
  app.route('/', dashboardRoutes(deps));

  // Only with an allow-list: a middleware layer costs ~15% of a small request's throughput, and
  // without allowed origins there are no CORS headers to give (a preflight then gets no grant).
  if (deps.config.CORS_ORIGINS.length > 0) {
    app.use(`${TRPC_ENDPOINT}/*`, cors({ origins: deps.config.CORS_ORIGINS }));
  }

  // Only methods with a body go through the limit: queries (GET) skip a layer.
  app.post(
    `${TRPC_ENDPOINT}/*`,
    bodyLimit({
      maxSize: deps.config.BODY_LIMIT_BYTES,
      onError: () => {
        throw new PlatformError(
          'PAYLOAD_TOO_LARGE',
          `request bodies are limited to ${deps.config.BODY_LIMIT_BYTES} bytes`,
        );
      },
    }),
  );
  app.all(`${TRPC_ENDPOINT}/*`, async (c) => {
    const started = performance.now();
    const calls = new ProcedureCalls();
    const rateLimits: RateLimitNote[] = [];
    let address: string | undefined;
    const ip = () => (address ??= clientIp(c, deps.config.TRUST_PROXY));
    let beforeContext = false;
    let errorHeaders: Record<string, string> | undefined;
    let unavailable = false;
    const response = await fetchRequestHandler({
      endpoint: TRPC_ENDPOINT,
      req: c.req.raw,
      router: appRouter,
      createContext: async (opts) => {
        await limitAnonymous(c, deps, opts.info.calls.length, ip, rateLimits);
        return createContext(c, deps, opts, rateLimits, ip);
      },
      maxBatchSize: deps.config.TRPC_MAX_BATCH_SIZE,
      onError: ({ error, path }) => {
        calls.failed(path, error);
        if (error.cause instanceof PlatformError) errorHeaders = { ...errorHeaders, ...error.cause.headers };
        if (error.code === 'SERVICE_UNAVAILABLE') unavailable = true;
        if (error.code === 'INTERNAL_SERVER_ERROR')
          requestLogger(c, deps.logger).error({ err: error, procedure: path }, 'tRPC error');
      },
      responseMeta: ({ info, errors }) => {
        calls.seen(info?.calls, info?.type);
        // tRPC has no request info (and so no context) when it rejects a request before reading
        // it: a batch over TRPC_MAX_BATCH_SIZE, a missing or unsupported content type, a badly
        // encoded path.
        if (!info && errors.length > 0) beforeContext = true;
        return {};
      },
    });
    const ended = performance.now();
    calls.record(deps.metrics, deps.performance.analytics, (ended - started) / 1000, epochMsOf(ended));
    if (rateLimits.length > 0 || errorHeaders || unavailable) {
      const headers = response.headers;
      if (rateLimits.length > 0) {
        for (const [name, value] of Object.entries(rateLimitResponseHeaders(rateLimits, deps.rateLimiter))) {
          headers.set(name, value);
        }
      }
      // Retry-After of a refused call, WWW-Authenticate of a 401 (RFC 6750 §3).
      for (const [name, value] of Object.entries(errorHeaders ?? {})) headers.set(name, value);
      // A database that is down or a pool that is full: say when to come back, unless the
      // refusal named its own time (maintenance, the rate-limit store's fail-closed policy).
      if (unavailable && !headers.has('Retry-After')) headers.set('Retry-After', '1');
    }
    return beforeContext ? withRequestId(response, c.get('requestId')) : response;
  });

  // Paths we serve, with the methods each accepts, so that a known path called with another
  // method answers 405 with an Allow header (as tRPC does for its procedures), not 404.
  const methodsByPath = new Map<string, Set<string>>();
  // The probes are answered in front of Hono (see http/probes.ts), for GET and HEAD only.
  for (const path of PROBE_PATHS) methodsByPath.set(path, new Set(['GET', 'HEAD']));
  for (const route of app.routes) {
    if (route.method === 'ALL') continue;
    const methods = methodsByPath.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    // Hono answers HEAD with the GET handler.
    if (route.method === 'GET') methods.add('HEAD');
    methodsByPath.set(route.path, methods);
  }

  app.notFound((c) => {
    c.set('unmatched', true);
    const allowed = methodsByPath.get(c.req.path);
    if (allowed) {
      return c.json(
        errorBody(
          'METHOD_NOT_SUPPORTED',
          `${c.req.path} does not accept ${c.req.method}; it accepts ${[...allowed].join(', ')}`,
          c.get('requestId'),
        ),
        405,
        { Allow: [...allowed].join(', ') },
      );
    }
    return c.json(
      errorBody('NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`, c.get('requestId')),
      404,
    );
  });

  app.onError((error, c) => {
    const id = c.get('requestId') ?? 'unknown';
    if (error instanceof PlatformError) {
      return c.json(errorBody(error.code, error.message, id), error.status as 400, error.headers);
    }
    if (error instanceof HTTPException && error.status < 500) {
      const code = httpExceptionCode(error.status);
      return c.json(errorBody(code, error.message || code, id), error.status);
    }
    // Anything else is our bug: log it whole, tell the caller only the request id.
    (c.get('requestId') ? requestLogger(c, deps.logger) : deps.logger).error(
      { err: error },
      'unhandled error',
    );
    return c.json(errorBody('INTERNAL_SERVER_ERROR', 'Internal server error', id), 500);
  });

  return withProbes(app, deps);
}

/**
 * An error tRPC formatted without a context carries `requestId: null` and, as tRPC builds it,
 * a text/plain content type: give it this request's id and say it is JSON.
 */
async function withRequestId(response: Response, requestId: string): Promise<Response> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new Response(text, response);
  }
  const data = (body as { error?: { data?: { requestId?: unknown } } } | null)?.error?.data;
  if (data && typeof data === 'object') data.requestId = requestId;
  const headers = new Headers(response.headers);
  headers.set('content-type', 'application/json');
  return new Response(JSON.stringify(body), { status: response.status, headers });
}

function httpExceptionCode(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 405:
      return 'METHOD_NOT_SUPPORTED';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'TOO_MANY_REQUESTS';
    default:
      return 'BAD_REQUEST';
  }
}

export type App = ReturnType<typeof createApp>;
