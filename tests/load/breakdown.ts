/**
 * Where the platform's time per request goes: `./node_modules/.bin/bun tests/load/breakdown.ts`.
 *
 * `npm run bench` measures whole servers over HTTP; this calls `app.fetch` in-process (no
 * sockets, no HTTP parsing, which cost every variant the same) for variants that add the
 * platform's layers one at a time, then times the single operations those layers perform.
 * Prints microseconds per request. Nothing connects to a database: the routes measured need none.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Hono } from 'hono';
import pino from 'pino';
import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { createContextInner } from '../../server/context';
import type { AppDeps } from '../../server/deps';
import { observe } from '../../server/middleware/observe';
import { requestId } from '../../server/middleware/request-id';
import { appRouter } from '../../server/routers';
import { readBuildInfo } from '../../server/runtime/build-info';
import { buildDependencies } from '../../server/runtime/dependencies';
import { createLogger, type Logger } from '../../server/runtime/logger';

const ITERATIONS = 100_000;
const LIGHTWEIGHT = 'http://127.0.0.1/api/health/lightweight';
const SYSTEM_INFO = 'http://127.0.0.1/api/trpc/system.info';

/** Median of three timed batches after a warm-up batch, in microseconds per call. */
async function time(fn: () => unknown): Promise<number> {
  const batch = async () => {
    const started = performance.now();
    for (let i = 0; i < ITERATIONS; i++) await fn();
    return ((performance.now() - started) * 1000) / ITERATIONS;
  };
  await batch();
  const runs = [await batch(), await batch(), await batch()].sort((a, b) => a - b);
  return runs[1]!;
}

/** A request's whole cost, body read included (a server writes it out). */
const fetching = (fetch: (r: Request) => Response | Promise<Response>, url: string) => async () => {
  const response = await fetch(new Request(url));
  await response.arrayBuffer();
};

const dir = mkdtempSync('/tmp/bc-breakdown-');
// The logger writes to a file, as the server's stdout does under the bench.
const logger = (level: string): Logger =>
  createLogger({ level, destination: pino.destination({ dest: join(dir, `${level}.log`), sync: false }) });

function platformDeps(env: Record<string, string>): AppDeps {
  const config = loadConfig({ NODE_ENV: 'production', ...env });
  return buildDependencies({
    config,
    logger: logger(config.LOG_LEVEL),
    build: readBuildInfo(),
    // Never connected to: nothing here starts the initializer.
    databaseUrl: 'postgres://bench@127.0.0.1:9/none',
    adminToken: 'x'.repeat(32),
  });
}

function bareLightweight(deps?: AppDeps, layers: ('requestId' | 'observe')[] = []) {
  const app = new Hono();
  if (deps && layers.includes('requestId')) app.use('*', requestId({ logger: deps.logger }));
  if (deps && layers.includes('observe'))
    app.use('*', observe({ metrics: deps.metrics, lifecycle: deps.lifecycle }));
  app.get('/api/health/lightweight', (c) =>
    c.body('{"status":"pass"}', 200, {
      'Cache-Control': 'no-store',
      'Content-Type': 'application/health+json',
    }),
  );
  return app;
}

function bareTrpc() {
  const startedAt = new Date();
  const t = initTRPC.create();
  const router = t.router({
    system: t.router({
      info: t.procedure.query(() => ({
        name: 'beauty-crafter-platform',
        version: '0.1.0',
        commit: '000000000000',
        runtime: { name: 'bun', version: '1.4.5' },
        startedAt: startedAt.toISOString(),
        uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      })),
    }),
  });
  const app = new Hono();
  app.all('/api/trpc/*', (c) =>
    fetchRequestHandler({ endpoint: '/api/trpc', req: c.req.raw, router, createContext: () => ({}) }),
  );
  return app;
}

/**
 * The platform's own tRPC router (its procedure middleware included) behind bare Hono, optionally
 * with the platform's Hono middleware: createApp minus the body limit and the other routes.
 */
function platformTrpc(deps: AppDeps, withMiddleware: boolean) {
  const app = new Hono();
  if (withMiddleware) {
    app.use('*', requestId({ logger: deps.logger }));
    app.use('*', observe({ metrics: deps.metrics, lifecycle: deps.lifecycle }));
  }
  app.all('/api/trpc/*', (c) =>
    fetchRequestHandler({
      endpoint: '/api/trpc',
      req: c.req.raw,
      router: appRouter,
      createContext: () =>
        createContextInner({
          deps,
          requestId: withMiddleware ? c.get('requestId') : 'bench',
          logger: withMiddleware ? c.get('logger') : deps.logger,
          isAdmin: false,
          hasCredentials: false,
        }),
    }),
  );
  return app;
}

async function main(): Promise<void> {
  const info = platformDeps({});
  const warn = platformDeps({ LOG_LEVEL: 'warn' });
  const noDefaults = platformDeps({ METRICS_DEFAULTS: 'false' });
  const rows: [string, number][] = [];
  const measure = async (name: string, fn: () => unknown) => {
    rows.push([name, await time(fn)]);
    console.log(`${name.padEnd(64)} ${rows.at(-1)![1].toFixed(2).padStart(7)} µs`);
  };

  console.log('GET /api/health/lightweight, in-process');
  await measure('bare Hono route', fetching(bareLightweight().fetch, LIGHTWEIGHT));
  await measure('+ requestId middleware', fetching(bareLightweight(info, ['requestId']).fetch, LIGHTWEIGHT));
  await measure(
    '+ requestId + observe middleware',
    fetching(bareLightweight(info, ['requestId', 'observe']).fetch, LIGHTWEIGHT),
  );
  await measure('platform createApp (LOG_LEVEL=info)', fetching(createApp(info).fetch, LIGHTWEIGHT));
  await measure('platform createApp (LOG_LEVEL=warn)', fetching(createApp(warn).fetch, LIGHTWEIGHT));
  await measure(
    'platform createApp (METRICS_DEFAULTS=false)',
    fetching(createApp(noDefaults).fetch, LIGHTWEIGHT),
  );

  console.log('\ntRPC system.info, in-process');
  await measure('bare Hono + tRPC', fetching(bareTrpc().fetch, SYSTEM_INFO));
  await measure(
    "bare Hono + the platform's router (procedure middleware)",
    fetching(platformTrpc(info, false).fetch, SYSTEM_INFO),
  );
  await measure(
    '+ requestId + observe middleware (LOG_LEVEL=info)',
    fetching(platformTrpc(info, true).fetch, SYSTEM_INFO),
  );
  await measure(
    '+ requestId + observe middleware (LOG_LEVEL=warn)',
    fetching(platformTrpc(warn, true).fetch, SYSTEM_INFO),
  );
  await measure('platform createApp (LOG_LEVEL=info)', fetching(createApp(info).fetch, SYSTEM_INFO));
  await measure('platform createApp (LOG_LEVEL=warn)', fetching(createApp(warn).fetch, SYSTEM_INFO));

  console.log('\nsingle operations the middleware performs per request');
  const child = info.logger.child({ requestId: crypto.randomUUID() });
  const line = {
    method: 'GET',
    route: '/api/trpc/*',
    path: '/api/trpc/system.info',
    status: 200,
    durationMs: 0.12,
  };
  const { duration, inFlight } = info.metrics.http;
  await measure('crypto.randomUUID()', () => crypto.randomUUID());
  await measure('logger.child({ requestId })', () => info.logger.child({ requestId: 'abc' }));
  await measure('child.debug(line) below the level (lightweight access line)', () =>
    child.debug(line, 'request'),
  );
  await measure('child.info(line) written (tRPC access line)', () => child.info(line, 'request'));
  await measure('http histogram observe (3 labels)', () =>
    duration.observe({ method: 'GET', route: '/api/health/lightweight', status_code: 200 }, 0.0001),
  );
  await measure('in-flight gauge inc + dec (1 label)', () => {
    inFlight.inc({ method: 'GET' });
    inFlight.dec({ method: 'GET' });
  });
  await measure('tRPC counter inc + histogram observe (3 labels)', () => {
    const labels = { procedure: 'system.info', type: 'query', code: 'OK' };
    info.metrics.trpc.calls.inc(labels);
    info.metrics.trpc.duration.observe(labels, 0.0001);
  });

  for (const deps of [info, warn, noDefaults]) await deps.database.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  rmSync(dir, { recursive: true, force: true });
}

await main();
