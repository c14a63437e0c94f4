import { readFileSync } from 'node:fs';
import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Hono } from 'hono';

// Bun's API as far as this file uses it: the project type-checks against Node's types only.
declare const Bun: {
  version: string;
  serve(options: {
    fetch: (request: Request) => Response | Promise<Response>;
    hostname: string;
    port: number;
  }): {
    port: number;
  };
};

/**
 * Baseline for tRPC queries: Hono on Bun handing /api/trpc to tRPC's fetch adapter, with
 * `system.info` and `auth.me` procedures returning objects of the same shape and size as the
 * platform's, and nothing else (no middleware, no context, no auth, no metrics, no logging).
 */
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};
const startedAt = new Date();
// The bench passes the platform's commit so both bodies are the same length.
const commit = process.env.GIT_COMMIT || 'unknown';

const t = initTRPC.create();
const appRouter = t.router({
  system: t.router({
    info: t.procedure.query(() => ({
      name: pkg.name,
      version: pkg.version,
      commit,
      runtime: { name: 'bun', version: Bun.version },
      startedAt: startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    })),
  }),
  // Same shape and size as the platform's auth.me for an API key; no authentication at all.
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

const app = new Hono();
app.all('/api/trpc/*', (c) =>
  fetchRequestHandler({
    endpoint: '/api/trpc',
    req: c.req.raw,
    router: appRouter,
    createContext: () => ({}),
  }),
);

const server = Bun.serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3002), hostname: '127.0.0.1' });
console.log(`bare-hono-trpc listening on 127.0.0.1:${server.port}`);
