/**
 * CPU µs per request through the observing layers, measured in process: the whole app built the
 * way main.ts builds it (production defaults: access log at info, metrics, analytics, the
 * anonymous rate limit, secure headers), N sequential `app.fetch` calls per scenario, CPU read
 * from `process.cpuUsage()` (user + system, every thread: GC and the log writer count too).
 *
 *   ./node_modules/.bin/bun tests/load/observe-cpu.ts
 *   node --import tsx tests/load/observe-cpu.ts
 *
 * Each layer is switched off for the measurement only, by handing `createApp` dependencies with
 * that part replaced (the production defaults never change): the access log by the logger's level,
 * analytics by a disabled RequestAnalytics, metrics by histograms that record nothing, the
 * anonymous limit by a limiter that admits without asking its store. "bare" is Hono + tRPC's fetch
 * adapter with the same router and context and nothing else. Secure headers and the request id
 * live inside the observing middleware and are priced on their own, per response.
 *
 * Not a test and not the benchmark (`npm run bench` measures throughput across processes): a
 * table of µs per request, to compare before and after a change on one machine.
 *
 * Environment: OBSERVE_CPU_REQUESTS (20000 a round), OBSERVE_CPU_ROUNDS (5; the least is
 * printed: on a shared machine noise only ever adds), OBSERVE_CPU_ONLY (a scenario name's part:
 * that scenario's full stack alone, e.g. under --cpu-prof), DATABASE_URL (else an embedded
 * PostgreSQL in a throwaway folder).
 */

import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Hono } from 'hono';
import { FastHistogram, type HistogramSeries } from '../../server/base/metrics/fast-histogram';
import type { RateLimiter, RateLimitOutcome } from '../../server/base/rate-limit/limiter';
import { createApp } from '../../server/http/app';
import { createContext } from '../../server/http/context';
import type { AppDeps } from '../../server/http/deps';
import type { AppEnv } from '../../server/http/env';
import { resolveRequestId } from '../../server/http/middleware/request-id';
import { applySecurityHeaders } from '../../server/http/middleware/security-headers';
import { appRouter } from '../../server/http/routers/index';
import { RequestAnalytics } from '../../server/services/performance/analytics';
import { cpuPerRequest, type Fetch, runScript, startInProcessPlatform } from './lib/in-process';

const REQUESTS = Number(process.env.OBSERVE_CPU_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.OBSERVE_CPU_ROUNDS ?? 5);
const ORIGIN = 'http://127.0.0.1';

interface Scenario {
  name: string;
  request: () => Request;
}

interface Variant {
  name: string;
  fetch: Fetch;
  /** Runs around the measurement (the access log is switched by the logger's level). */
  around?: <T>(work: () => Promise<T>) => Promise<T>;
}

async function main(): Promise<void> {
  const platform = await startInProcessPlatform('observe-cpu');
  const { deps, key } = platform;
  try {
    const scenarios: Scenario[] = [
      { name: 'GET /api/health/lightweight', request: () => new Request(`${ORIGIN}/api/health/lightweight`) },
      { name: 'tRPC system.info (anonymous)', request: () => new Request(`${ORIGIN}/api/trpc/system.info`) },
      {
        name: 'tRPC auth.me (API key)',
        request: () => new Request(`${ORIGIN}/api/trpc/auth.me`, { headers: { 'x-api-key': key } }),
      },
    ];
    const only = process.env.OBSERVE_CPU_ONLY;
    const variants = buildVariants(deps).filter((v) => !only || v.name === 'full stack');

    console.log(
      `observe-cpu on ${platform.runtime}: ` +
        `${REQUESTS} sequential requests a round, best of ${ROUNDS} rounds, CPU µs per request`,
    );
    for (const scenario of scenarios.filter((s) => !only || s.name.includes(only))) {
      const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
      for (const variant of variants) await run(variant, scenario, Math.min(REQUESTS, 5_000));
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate the order so that drift in the machine's speed lands on every variant.
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) samples.get(variant.name)!.push(await run(variant, scenario, REQUESTS));
      }
      const full = least(samples.get('full stack')!);
      console.log(`\n${scenario.name}`);
      for (const variant of variants) {
        const us = least(samples.get(variant.name)!);
        const delta = variant.name === 'full stack' ? '' : `  (layer ≈ ${(full - us).toFixed(1)} µs)`;
        console.log(`  ${variant.name.padEnd(28)} ${us.toFixed(1).padStart(7)} µs${delta}`);
      }
    }
    if (only) return;
    console.log('\nper response, on its own');
    console.log(`  ${'secure headers'.padEnd(28)} ${(await priceSecureHeaders()).toFixed(2).padStart(7)} µs`);
    console.log(`  ${'request id (new UUID)'.padEnd(28)} ${priceRequestId().toFixed(2).padStart(7)} µs`);
  } finally {
    await platform.close();
  }
}

/** CPU µs per request of the variant's `count` sequential requests. */
async function run(variant: Variant, scenario: Scenario, count: number): Promise<number> {
  const work = () => cpuPerRequest(variant.fetch, scenario.request, count);
  return variant.around ? variant.around(work) : work();
}

function buildVariants(deps: AppDeps): Variant[] {
  const appOf = (d: AppDeps): Fetch => {
    const app = createApp(d);
    return (request) => app.fetch(request);
  };
  const nothing = { observe() {} } as unknown as HistogramSeries;
  const idle = Object.assign(Object.create(FastHistogram.prototype) as FastHistogram, {
    observe() {},
    series: () => nothing,
  });
  const admitting = Object.create(deps.rateLimiter) as RateLimiter;
  admitting.check = async (policy: string, key: string, cost?: number): Promise<RateLimitOutcome> =>
    // Only the anonymous per-address policy is switched off; per-user and per-key limits still ask.
    policy === 'ip'
      ? { allowed: true, decision: null, policy, storeFailed: false }
      : deps.rateLimiter.check(policy, key, cost);
  const logger = deps.logger;
  return [
    { name: 'full stack', fetch: appOf(deps) },
    {
      name: 'no access log',
      fetch: appOf(deps),
      around: async (work) => {
        logger.level = 'warn';
        try {
          return await work();
        } finally {
          logger.level = 'info';
        }
      },
    },
    {
      name: 'no analytics',
      fetch: appOf({
        ...deps,
        performance: { ...deps.performance, analytics: new RequestAnalytics({ enabled: false }) },
      }),
    },
    {
      name: 'no request metrics',
      fetch: appOf({
        ...deps,
        metrics: { ...deps.metrics, http: { duration: idle }, trpc: { duration: idle } },
      }),
    },
    { name: 'no anonymous rate limit', fetch: appOf({ ...deps, rateLimiter: admitting }) },
    { name: 'bare Hono + tRPC', fetch: bareApp(deps) },
  ];
}

/** Hono and tRPC's fetch adapter with the platform's router and context, and nothing else. */
function bareApp(deps: AppDeps): Fetch {
  const app = new Hono<AppEnv>();
  app.all('/api/trpc/*', (c) =>
    fetchRequestHandler({
      endpoint: '/api/trpc',
      req: c.req.raw,
      router: appRouter,
      createContext: (opts) => createContext(c, deps, opts, [], () => 'unknown'),
    }),
  );
  app.get('/api/health/lightweight', (c) => c.json({ status: 'pass' }));
  return (request) => app.fetch(request);
}

/** µs to put the secure headers on a JSON response like tRPC's. */
async function priceSecureHeaders(): Promise<number> {
  const make = () => new Response('{}', { headers: { 'content-type': 'application/json' } });
  // In batches with a turn between them: Node frees a Response only once the loop turns.
  const measure = async (mark: boolean) => {
    let used = 0;
    for (let batch = 0; batch < 100; batch++) {
      const before = process.cpuUsage();
      for (let i = 0; i < 1_000; i++) {
        const response = make();
        if (mark) applySecurityHeaders(response.headers);
      }
      const delta = process.cpuUsage(before);
      used += delta.user + delta.system;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return used / 100_000;
  };
  await measure(true);
  await measure(false);
  const marked: number[] = [];
  const unmarked: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    marked.push(await measure(true));
    unmarked.push(await measure(false));
  }
  return least(marked) - least(unmarked);
}

/** µs to give a request that brought none its id. */
function priceRequestId(): number {
  const count = 200_000;
  const samples: number[] = [];
  let sink = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < count; i++) sink += resolveRequestId(undefined).length;
    const used = process.cpuUsage(before);
    if (round > 0) samples.push((used.user + used.system) / count);
  }
  if (sink === 0) throw new Error('unreachable');
  return least(samples);
}

function least(values: number[]): number {
  return Math.min(...values);
}

runScript(main);
