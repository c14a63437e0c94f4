import { Hono } from 'hono';

// Bun's API as far as this file uses it: the project type-checks against Node's types only.
declare const Bun: {
  serve(options: {
    fetch: (request: Request) => Response | Promise<Response>;
    hostname: string;
    port: number;
  }): {
    port: number;
  };
};

/**
 * Baseline for GET /api/health/lightweight: one Hono route on Bun answering the same body and
 * headers as the platform, with no middleware. The platform's target is a ratio of this.
 */
const app = new Hono();

app.get('/api/health/lightweight', (c) =>
  c.body('{"status":"pass"}', 200, {
    'Cache-Control': 'no-store',
    'Content-Type': 'application/health+json',
  }),
);

const server = Bun.serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3001), hostname: '127.0.0.1' });
console.log(`bare-hono listening on 127.0.0.1:${server.port}`);
