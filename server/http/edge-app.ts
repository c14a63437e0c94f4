import type { Hono } from 'hono';
import { errorBody } from '../base/errors';
import { baseApp, finishApp } from './app-base';
import type { RequestDeps } from './deps';
import type { AppEnv } from './env';
import { servedByOrigin } from './site';

/**
 * The app at the edge: health, /metrics and the tRPC endpoint, where the procedures built to run
 * anywhere answer and the origin's refuse themselves (server/http/trpc.ts). Every other path
 * (the REST API, the dashboard, the key set, the status report) is the origin's: 405 naming it,
 * which a client does not retry here in vain.
 */
export function createEdgeApp(deps: RequestDeps): Hono<AppEnv> {
  return finishApp(baseApp(deps), deps, (c) => {
    const refusal = servedByOrigin(`${c.req.method} ${c.req.path}`);
    return c.json(errorBody(refusal.code, refusal.message, c.get('requestId'), c.get('traceId')), 405);
  });
}
