import type { ExecutionContext } from 'hono';
import { errorBody } from '../../base/errors';
import { createApp } from '../../http/app';
import { REQUEST_ID_HEADER } from '../../http/middleware/request-id';
import { applySecurityHeaders } from '../../http/middleware/security-headers';
import { buildEdgeDependencies } from './dependencies';
import type { EdgeSettings } from './env';
import { originOnlyError } from './origin-only';
import { type RequestScope, runInScope } from './request-scope';

/**
 * Plain routes whose answer describes a server process (its memory, CPU, pool and components),
 * which an isolate is not: refused in front of the app, as the probes are answered in front of it,
 * because the route would otherwise fail inside (workerd has no process.cpuUsage).
 */
const ORIGIN_ONLY_ROUTES: ReadonlyMap<string, string> = new Map([
  ['/api/system/status', 'GET /api/system/status'],
]);

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
 * The app of server/http/app.ts over edge dependencies, built once per isolate. Each request runs in a
 * scope of its own (its database connections), closed once its response has been sent.
 */
export function createEdgeWorker(settings: EdgeSettings): EdgeWorker {
  const { deps, openScope } = buildEdgeDependencies(settings);
  const app = createApp(deps);
  // Resolves within a few microtasks: the edge's components have nothing to start.
  const started = deps.initializer.start();

  return {
    async fetch(request, ctx) {
      const refused = ORIGIN_ONLY_ROUTES.get(new URL(request.url).pathname);
      if (refused) return originOnlyResponse(refused, request);
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

function originOnlyResponse(route: string, request: Request): Response {
  const error = originOnlyError(route);
  // A fresh id, as the probes give: this answer reads no header.
  const requestId = crypto.randomUUID();
  const headers = new Headers({ 'Content-Type': 'application/json', [REQUEST_ID_HEADER]: requestId });
  applySecurityHeaders(headers);
  const body =
    request.method === 'HEAD' ? null : JSON.stringify(errorBody(error.code, error.message, requestId));
  return new Response(body, { status: error.status, headers });
}
