import type { Hono } from 'hono';
import { errorBody } from '../base/errors';
import { baseApp, finishApp } from './app-base';
import { dashboardRoutes } from './dashboard';
import type { AppDeps } from './deps';
import type { AppEnv } from './env';
import { jwksRoutes } from './jwks';
import { docsPageRoutes } from './rest/docs-page';
import { openApiRoutes } from './rest/openapi-routes';
import { REST_PREFIX, restApi } from './rest/serve';
import { systemStatusRoutes } from './system-status';

/**
 * Builds the origin's whole HTTP application from its dependencies. No ports, no globals: a
 * test builds it with its own deps and calls `app.request()`.
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = baseApp(deps);
  app.route('/', systemStatusRoutes(deps));
  app.route('/', jwksRoutes(deps.auth.keyring));
  app.route('/', dashboardRoutes(deps));

  // The same procedures as plain REST routes, their OpenAPI document and its reference page.
  app.route(REST_PREFIX, restApi(deps));
  app.route('/', openApiRoutes(deps));
  app.route('/', docsPageRoutes(deps));

  return finishApp(app, deps, (c) =>
    c.json(
      errorBody(
        'NOT_FOUND',
        `no route for ${c.req.method} ${c.req.path}`,
        c.get('requestId'),
        c.get('traceId'),
      ),
      404,
    ),
  );
}

export type App = ReturnType<typeof createApp>;
