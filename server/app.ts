import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ErrorCode } from '../shared/errors';
import { createContext } from './context';
import type { AppDeps } from './deps';
import { errorBody, PlatformError } from './errors';
import { healthRoutes } from './http/health';
import { metricsRoutes } from './http/metrics';
import { systemStatusRoutes } from './http/system-status';
import { observe } from './middleware/observe';
import { requestId } from './middleware/request-id';
import { appRouter } from './routers';

const TRPC_ENDPOINT = '/api/trpc';

/**
 * Builds the whole HTTP application from its dependencies. No ports, no globals: a test
 * builds it with its own deps and calls `app.request()`.
 */
export function createApp(deps: AppDeps) {
  const app = new Hono();

  app.use('*', requestId({ logger: deps.logger }));
  app.use('*', observe({ metrics: deps.metrics, lifecycle: deps.lifecycle }));

  app.route('/', healthRoutes(deps));
  app.route('/', metricsRoutes(deps));
  app.route('/', systemStatusRoutes(deps));

  app.use(
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
  app.all(`${TRPC_ENDPOINT}/*`, (c) =>
    fetchRequestHandler({
      endpoint: TRPC_ENDPOINT,
      req: c.req.raw,
      router: appRouter,
      createContext: (opts) => createContext(c, deps, opts),
      maxBatchSize: deps.config.TRPC_MAX_BATCH_SIZE,
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR')
          c.get('logger').error({ err: error, procedure: path }, 'tRPC error');
      },
    }),
  );

  app.notFound((c) => {
    c.set('unmatched', true);
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
    (c.get('logger') ?? deps.logger).error({ err: error }, 'unhandled error');
    return c.json(errorBody('INTERNAL_SERVER_ERROR', 'Internal server error', id), 500);
  });

  return app;
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
