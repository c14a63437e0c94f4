import type { ExecutionContext } from 'hono';
import { ConfigError } from './base/config';
import { errorBody } from './base/errors';
import { type EdgeEnv, readEdgeSettings } from './composition/edge/env';
import { createEdgeWorker, type EdgeWorker } from './composition/edge/worker';

// One per isolate: the Worker's environment is fixed for the isolate's life, so the app and the
// dependencies that outlive a request (metrics, analytics, rate limits, the origin's keys) are
// built on the first request and kept.
let worker: EdgeWorker | undefined;

/**
 * The Cloudflare Workers entry (deploy/wrangler.toml): the app of server/http/app.ts over edge
 * dependencies (server/composition/edge/dependencies.ts). What the edge serves and what stays on the origin
 * is in docs/operations.md ("On the edge").
 */
export default {
  async fetch(request: Request, env: EdgeEnv, ctx: ExecutionContext): Promise<Response> {
    if (!worker) {
      try {
        worker = createEdgeWorker(readEdgeSettings(env));
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        // The messages name variables, never their values.
        console.error(error.message);
        return Response.json(
          errorBody(
            'INTERNAL_SERVER_ERROR',
            'the edge is misconfigured; its log names the problem',
            crypto.randomUUID(),
          ),
          { status: 500 },
        );
      }
    }
    return worker.fetch(request, ctx);
  },
};
