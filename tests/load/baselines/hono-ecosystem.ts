import { readFileSync } from 'node:fs';
import { prometheus } from '@hono/prometheus';
import { trpcServer } from '@hono/trpc-server';
import { initTRPC } from '@trpc/server';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { rateLimiter } from 'hono-rate-limiter';
import { Registry } from 'prom-client';

// Bun's API as far as this file uses it: the project type-checks against Node's types only.
declare const Bun:
  | {
      version: string;
      serve(options: {
        fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
        hostname: string;
        port: number;
      }): BunServer;
    }
  | undefined;
interface BunServer {
  port: number;
  requestIP(request: Request): { address: string } | null;
}

/**
 * Baseline for DESIGN.md's Node target, and a reference on Bun: the stack a user would assemble
 * from the Hono ecosystem instead of the platform, each piece with its defaults:
 *   - `hono/request-id` (an X-Request-Id on every response, the caller's if valid),
 *   - `hono/secure-headers`,
 *   - `@hono/prometheus` (request counter and duration histogram by method, route and status;
 *     prom-client's default process metrics on, as the platform has; GET /metrics),
 *   - `hono-rate-limiter` (in-memory store, keyed by the client address, a per-minute window),
 *   - tRPC through `@hono/trpc-server`, with `system.info` and `auth.me` answering objects of the
 *     same shape and size as the platform's (auth.me without any authentication).
 * It runs on Bun (Bun.serve) and on Node (@hono/node-server), whichever runs this file.
 */
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};
const startedAt = new Date();
// The bench passes the platform's commit so both bodies are the same length.
const commit = process.env.GIT_COMMIT || 'unknown';
const runtime =
  typeof Bun !== 'undefined'
    ? { name: 'bun', version: Bun.version }
    : { name: 'node', version: process.versions.node };

const t = initTRPC.create();
const appRouter = t.router({
  system: t.router({
    info: t.procedure.query(() => ({
      name: pkg.name,
      version: pkg.version,
      commit,
      runtime,
      startedAt: startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    })),
  }),
  auth: t.router({
    me: t.procedure.query(() => ({
      kind: 'apiKey',
      userId: '00000000-0000-4000-8000-000000000001',
      organizationId: '00000000-0000-4000-8000-000000000002',
      role: 'admin',
      sessionId: null,
      apiKeyId: '00000000-0000-4000-8000-000000000003',
      scopes: ['auth:read'],
    })),
  }),
});

type Env = { Bindings: { incoming?: { socket: { remoteAddress?: string } } } & Partial<BunServer> };

/** The client's address: Bun's server is the env on Bun, Node's IncomingMessage on @hono/node-server. */
function clientAddress(c: { env: Env['Bindings']; req: { raw: Request } }): string {
  if (c.env?.incoming) return c.env.incoming.socket.remoteAddress ?? 'unknown';
  return c.env?.requestIP?.(c.req.raw)?.address ?? 'unknown';
}

const { printMetrics, registerMetrics } = prometheus({
  registry: new Registry(),
  collectDefaultMetrics: true,
});

const app = new Hono<Env>();
app.use('*', requestId());
app.use('*', secureHeaders());
app.use('*', registerMetrics);
app.use(
  '*',
  rateLimiter<Env>({
    windowMs: 60_000,
    // As the bench configures the platform: checked on every call, never reached at ~100k req/s.
    limit: 10_000_000,
    standardHeaders: 'draft-6',
    keyGenerator: (c) => clientAddress(c),
  }),
);
app.get('/metrics', printMetrics);
app.get('/api/health/lightweight', (c) =>
  c.body('{"status":"pass"}', 200, {
    'Cache-Control': 'no-store',
    'Content-Type': 'application/health+json',
  }),
);
const trpc = trpcServer({ endpoint: '/api/trpc', router: appRouter, createContext: () => ({}) });
// @hono/trpc-server returns tRPC's own Response, and Hono merges the headers middleware set before
// `next()` (X-Request-Id, RateLimit-*) only into a response it already holds: touching `c.res`
// first makes one, so they reach tRPC's answers too, as the platform's "every response carries
// X-Request-Id" asks (without it both headers are silently missing from every tRPC response).
app.use('/api/trpc/*', (c, next) => {
  void c.res;
  return trpc(c, next);
});

const port = Number(process.env.PORT ?? 3004);
const hostname = '127.0.0.1';
if (typeof Bun !== 'undefined') {
  const server = Bun.serve({ fetch: (request, server) => app.fetch(request, server), hostname, port });
  console.log(`hono-ecosystem (bun) listening on ${hostname}:${server.port}`);
} else {
  const { serve } = await import('@hono/node-server');
  serve({ fetch: app.fetch, hostname, port }, (info) =>
    console.log(`hono-ecosystem (node) listening on ${hostname}:${info.port}`),
  );
}
