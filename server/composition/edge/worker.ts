import type { ExecutionContext } from 'hono';
import { createEdgeApp } from '../../http/edge-app';
import { buildEdgeDependencies } from './dependencies';
import type { EdgeSettings } from './env';
import { type RequestScope, runInScope } from './request-scope';

/**
 * Hono's `env` as server/http/client-ip.ts reads it: a peer lookup shaped like Bun's server. At
 * the edge the peer is the address Cloudflare saw, which it puts in CF-Connecting-IP and which a
 * client cannot set (Cloudflare overwrites it).
 */
const CLOUDFLARE_PEER = {
  requestIP(request: Request): { address: string } | null {
    const address = request.headers.get('cf-connecting-ip');
    return address ? { address } : null;
  },
};

export interface EdgeWorker {
  fetch(request: Request, ctx: ExecutionContext): Promise<Response>;
}

/**
 * The edge's app (server/http/edge-app.ts) over the edge's dependencies, built once per isolate. Each request runs in a
 * scope of its own (its database connections), closed once its response has been sent.
 */
export function createEdgeWorker(settings: EdgeSettings): EdgeWorker {
  const { deps, openScope } = buildEdgeDependencies(settings);
  const app = createEdgeApp(deps);
  // Resolves within a few microtasks: the edge's components have nothing to start.
  const started = deps.initializer.start();

  return {
    async fetch(request, ctx) {
      await started;
      const scope = openScope();
      let response: Response;
      try {
        response = await runInScope(scope, () => app.fetch(request, CLOUDFLARE_PEER, ctx));
      } catch (error) {
        ctx.waitUntil(scope.close());
        throw error;
      }
      return closeWhenSent(request, response, scope, ctx);
    },
  };
}

/**
 * Closes the request's connections once the response has gone. A tRPC batch streams (JSON lines)
 * when its client asks for it, and its calls may still be querying while the body is sent: the
 * connections close when the body ends. Otherwise the body is complete already; one more turn of
 * the event loop lets the access log write the request's line (it writes once per turn).
 */
function closeWhenSent(request: Request, response: Response, scope: RequestScope, ctx: ExecutionContext) {
  if (request.headers.get('trpc-accept') === 'application/jsonl' && response.body) {
    const { readable, writable } = new TransformStream();
    ctx.waitUntil(
      response.body
        .pipeTo(writable)
        .catch(() => undefined)
        .finally(() => scope.close()),
    );
    return new Response(readable, response);
  }
  ctx.waitUntil(Promise.all([scope.close(), new Promise((resolve) => setImmediate(resolve))]));
  return response;
}
