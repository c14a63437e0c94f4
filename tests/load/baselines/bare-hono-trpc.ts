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
 * Baseline for the system.info query: Hono on Bun handing /api/trpc to tRPC's fetch adapter,
 * with a `system.info` procedure returning an object of the same shape and size as the
 * platform's, and nothing else (no middleware, no context, no metrics, no logging).
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
