import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ErrorCode } from '../../shared/errors';
import { errorBody, PlatformError } from '../base/errors';
import { createAccessLog } from './access-log';
import type { RequestDeps } from './deps';
import type { AppContext, AppEnv } from './env';
import { healthRoutes } from './health';
import { metricsRoutes } from './metrics';
import { cors } from './middleware/cors';
import { observe } from './middleware/observe';
import { requestLogger } from './middleware/request-id';
import { traceRequests } from './middleware/trace';
import { PROBE_PATHS, withProbes } from './probes';
import { REST_PREFIX } from './rest/serve';
import { trpcAdapter } from './trpc-adapter';
import { singleCallDispatcher } from './trpc-single-call';

const TRPC_ENDPOINT = '/api/trpc';

/**
 * What every app serves, at the origin and at the edge: the request's observation (metrics, the
 * access log, analytics), health and /metrics, and the tRPC endpoint with its CORS and body
 * limit. `createApp` (the origin) and `createEdgeApp` add their own routes, then `finishApp`.
 */
export function baseApp(deps: RequestDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(
    '*',
    observe({
      metrics: deps.metrics,
      lifecycle: deps.lifecycle,
      logger: deps.logger,
      accessLog: createAccessLog(deps.logger),
      analytics: deps.performance.analytics,
      traced: !!deps.tracing,
    }),
  );
  // Inside observe, which then finds the trace id for the request's lines: only when tracing.
  if (deps.tracing) app.use('*', traceRequests(deps.tracing));

  app.route('/', healthRoutes(deps));
  app.route('/', metricsRoutes(deps));

  // Only with an allow-list: a middleware layer costs ~15% of a small request's throughput, and
  // without allowed origins there are no CORS headers to give (a preflight then gets no grant).
  if (deps.config.CORS_ORIGINS.length > 0) {
    app.use(`${TRPC_ENDPOINT}/*`, cors({ origins: deps.config.CORS_ORIGINS }));
    app.use(`${REST_PREFIX}/*`, cors({ origins: deps.config.CORS_ORIGINS }));
  }

  // Only methods with a body go through the limit: queries (GET) skip a layer.
  const limitBody = bodyLimit({
    maxSize: deps.config.BODY_LIMIT_BYTES,
    onError: () => {
      throw new PlatformError(
        'PAYLOAD_TOO_LARGE',
        `request bodies are limited to ${deps.config.BODY_LIMIT_BYTES} bytes`,
      );
    },
  });
  app.post(`${TRPC_ENDPOINT}/*`, limitBody);
  app.on(['POST', 'PATCH', 'PUT'], `${REST_PREFIX}/*`, limitBody);
  // A single call takes the hot path, decided from the request before anything runs; the rest
  // (batches, streaming, anything unusual) goes through tRPC's fetch adapter.
  const singleCall = deps.config.TRPC_FAST_PATH ? singleCallDispatcher(deps, TRPC_ENDPOINT) : null;
  const throughAdapter = trpcAdapter(deps, TRPC_ENDPOINT);
  app.all(`${TRPC_ENDPOINT}/*`, (c) => singleCall?.(c) ?? throughAdapter(c));
  return app;
}

/**
 * The answers of an app once its routes are in: 405 with Allow for a known path called with
 * another method, `unmatched` for the rest (404 at the origin), the error handler, and the probes
 * in front of it all.
 */
export function finishApp(
  app: Hono<AppEnv>,
  deps: RequestDeps,
  unmatched: (c: AppContext) => Response | Promise<Response>,
): Hono<AppEnv> {
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
          c.get('traceId'),
        ),
        405,
        { Allow: [...allowed].join(', ') },
      );
    }
    return unmatched(c);
  });

  app.onError((error, c) => {
    const id = c.get('requestId') ?? 'unknown';
    const traceId = c.get('traceId');
    if (error instanceof PlatformError) {
      return c.json(errorBody(error.code, error.message, id, traceId), error.status as 400, error.headers);
    }
    if (error instanceof HTTPException && error.status < 500) {
      const code = httpExceptionCode(error.status);
      return c.json(errorBody(code, error.message || code, id, traceId), error.status);
    }
    // Anything else is our bug: log it whole, tell the caller only the request id.
    (c.get('requestId') ? requestLogger(c, deps.logger) : deps.logger).error(
      { err: error },
      'unhandled error',
    );
    return c.json(errorBody('INTERNAL_SERVER_ERROR', 'Internal server error', id, traceId), 500);
  });

  return withProbes(app, deps);
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
