import { Hono } from 'hono';
import type { AppDeps } from '../deps';
import type { AppEnv } from '../env';
import { openApiDocument } from './openapi';

/**
 * `GET /api/openapi.json`: the REST API's OpenAPI 3.1 document, written once on first request
 * (it depends only on the router and the build) and served as the same bytes afterwards.
 */
export function openApiRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  let document: string | undefined;
  app.get('/api/openapi.json', (c) => {
    document ??= JSON.stringify(openApiDocument({ version: deps.build.version }));
    return c.body(document, 200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'public, max-age=300',
      'Access-Control-Allow-Origin': '*',
    });
  });
  return app;
}
