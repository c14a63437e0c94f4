/**
 * CPU µs per tRPC request, single-call path against tRPC's fetch adapter, measured in process:
 * the whole app built the way main.ts builds it (production defaults: access log at info,
 * metrics, analytics, rate limits, secure headers), N sequential `app.fetch` calls per scenario,
 * CPU read from `process.cpuUsage()` (user + system, every thread: GC and the log writer count).
 * The two apps share their dependencies and differ only in TRPC_FAST_PATH.
 *
 *   ./node_modules/.bin/bun tests/load/trpc-dispatch-cpu.ts
 *   node --import tsx tests/load/trpc-dispatch-cpu.ts
 *
 * Not a test and not the benchmark (`npm run bench` measures throughput across processes): a
 * table of µs per request, to compare the two dispatchers on one machine.
 *
 * Environment: TRPC_CPU_REQUESTS (20000 a round), TRPC_CPU_ROUNDS (5; the median is printed),
 * DATABASE_URL (else an embedded PostgreSQL in a throwaway folder).
 */

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startEmbeddedPostgres } from '../../db/embedded-postgres';
import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import type { AppDeps } from '../../server/deps';
import { readBuildInfo } from '../../server/runtime/build-info';
import { buildDependencies } from '../../server/runtime/dependencies';
import { createLogger } from '../../server/runtime/logger';
import { API_KEY_SCOPES } from '../../shared/auth';

const REQUESTS = Number(process.env.TRPC_CPU_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.TRPC_CPU_ROUNDS ?? 5);
const ORIGIN = 'http://127.0.0.1';
const ADMIN = { email: 'dispatch@platform.test', password: 'dispatch-cpu-admin-password-0123' };

type Fetch = (request: Request) => Response | Promise<Response>;

interface Scenario {
  name: string;
  request: () => Request;
}

async function main(): Promise<void> {
  const runtime = typeof (globalThis as { Bun?: unknown }).Bun === 'undefined' ? 'node' : 'bun';
  const folder = await mkdtemp(join(tmpdir(), 'trpc-dispatch-cpu-'));
  // PostgreSQL runs as the `postgres` user when we are root: it must be able to reach its folder.
  await chmod(folder, 0o755);
  const embedded = process.env.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir: join(folder, 'pg') });
  const databaseUrl = process.env.DATABASE_URL ?? embedded!.url;
  const config = loadConfig({
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    DATA_DIR: folder,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    // Every request comes from one address: the limits are checked as usual but never refuse.
    RATE_LIMIT_IP_PER_MINUTE: '10000000',
    RATE_LIMIT_USER_PER_MINUTE: '10000000',
  });
  // The access log goes where production's does (sonic-boom, asynchronous), to /dev/null.
  const logger = createLogger({
    level: config.LOG_LEVEL,
    destination: pino.destination({ dest: '/dev/null', sync: false }),
  });
  const deps = buildDependencies({
    config,
    logger,
    build: readBuildInfo(),
    databaseUrl,
    kek: new Uint8Array(32).fill(9),
  });
  await deps.initializer.start();
  try {
    const admin = await deps.database.db
      .selectFrom('users')
      .select(['id', 'organization_id', 'role'])
      .where('email', '=', ADMIN.email)
      .executeTakeFirstOrThrow();
    const { key, apiKey } = await deps.auth.apiKeys.create(
      { organizationId: admin.organization_id, userId: admin.id, role: admin.role },
      { name: 'trpc-dispatch-cpu', scopes: [...API_KEY_SCOPES] },
    );
    const getInput = encodeURIComponent(JSON.stringify({ id: apiKey.id }));

    const scenarios: Scenario[] = [
      { name: 'system.info (anonymous)', request: () => new Request(`${ORIGIN}/api/trpc/system.info`) },
      {
        name: 'auth.me (API key)',
        request: () => new Request(`${ORIGIN}/api/trpc/auth.me`, { headers: { 'x-api-key': key } }),
      },
      {
        name: 'auth.apiKeys.get (API key, one row)',
        request: () =>
          new Request(`${ORIGIN}/api/trpc/auth.apiKeys.get?input=${getInput}`, {
            headers: { 'x-api-key': key },
          }),
      },
    ];
    const variants = [
      { name: 'fetch adapter (off)', fetch: appOf(deps, false) },
      { name: 'single-call path (on)', fetch: appOf(deps, true) },
    ];

    console.log(
      `trpc-dispatch-cpu on ${runtime} ${runtime === 'bun' ? (globalThis as unknown as { Bun: { version: string } }).Bun.version : process.version}: ` +
        `${REQUESTS} sequential requests a round, median of ${ROUNDS} rounds, CPU µs per request`,
    );
    for (const scenario of scenarios) {
      const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
      for (const variant of variants) await run(variant.fetch, scenario, Math.min(REQUESTS, 5_000));
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate the order so that drift in the machine's speed lands on both variants.
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order)
          samples.get(variant.name)!.push(await run(variant.fetch, scenario, REQUESTS));
      }
      const [off, on] = variants.map((v) => median(samples.get(v.name)!)) as [number, number];
      console.log(`\n${scenario.name}`);
      console.log(`  ${variants[0]!.name.padEnd(24)} ${off.toFixed(1).padStart(7)} µs`);
      console.log(
        `  ${variants[1]!.name.padEnd(24)} ${on.toFixed(1).padStart(7)} µs  (${(off - on).toFixed(1)} µs less, ${((1 - on / off) * 100).toFixed(0)}%)`,
      );
    }
  } finally {
    await deps.initializer.stop();
    await deps.database.close();
    await embedded?.stop();
    await rm(folder, { recursive: true, force: true });
  }
}

function appOf(deps: AppDeps, fastPath: boolean): Fetch {
  const app = createApp({ ...deps, config: { ...deps.config, TRPC_FAST_PATH: fastPath } });
  return (request) => app.fetch(request);
}

/** CPU µs per request of `count` sequential requests, bodies read as a client would. */
async function run(fetch: Fetch, scenario: Scenario, count: number): Promise<number> {
  // A failing request would measure the error path: check one before timing.
  const check = await fetch(scenario.request());
  if (check.status !== 200) throw new Error(`${scenario.name}: ${check.status} ${await check.text()}`);
  await check.arrayBuffer();
  collectGarbage();
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const response = await fetch(scenario.request());
    await response.arrayBuffer();
  }
  // Let the access log's buffered lines go out: their writing is part of the request's cost.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

/** A full collection before each measurement, so that no run pays for the garbage of the one before. */
function collectGarbage(): void {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun) bun.gc(true);
  else (globalThis as { gc?: () => void }).gc?.();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
