import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startEmbeddedPostgres } from '../../../db/embedded-postgres';
import { readBuildInfo } from '../../../server/base/build-info';
import { loadConfig } from '../../../server/base/config';
import { createLogger } from '../../../server/base/logger';
import { buildDependencies } from '../../../server/composition/dependencies';
import type { AppDeps } from '../../../server/http/deps';
import { API_KEY_SCOPES } from '../../../shared/auth';

/**
 * The in-process measurements (observe-cpu.ts, trpc-dispatch-cpu.ts, api-key-cpu.ts): the
 * platform's dependencies built the way main.ts builds them, with production defaults, and the
 * CPU a sequence of `app.fetch` calls costs.
 */

export type Fetch = (request: Request) => Response | Promise<Response>;

export interface InProcessPlatform {
  deps: AppDeps;
  /** An API key of the first admin with every scope, and its id. */
  key: string;
  keyId: string;
  /** `bun 1.4.5` or `node v20.20.2`. */
  runtime: string;
  close(): Promise<void>;
}

/**
 * Dependencies on `DATABASE_URL`, else on an embedded PostgreSQL in a throwaway folder, started,
 * with the first admin and an all-scopes key of theirs. The access log goes where production's
 * does (sonic-boom, asynchronous), to /dev/null; every request comes from one address, so the
 * limits are checked as usual but never refuse.
 */
export async function startInProcessPlatform(name: string): Promise<InProcessPlatform> {
  const admin = { email: `${name}@platform.test`, password: `${name}-admin-password-0123` };
  const folder = await mkdtemp(join(tmpdir(), `${name}-`));
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
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    RATE_LIMIT_IP_PER_MINUTE: '10000000',
    RATE_LIMIT_USER_PER_MINUTE: '10000000',
    // Traces when the run asks for them, as main.ts reads them (docs/operations.md, "Tracing").
    OTEL_EXPORTER_OTLP_ENDPOINT: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_TRACES_SAMPLER: process.env.OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG: process.env.OTEL_TRACES_SAMPLER_ARG,
  });
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
  const close = async () => {
    await deps.initializer.stop();
    await deps.database.close();
    await embedded?.stop();
    await rm(folder, { recursive: true, force: true });
  };
  try {
    await deps.initializer.start();
    const owner = await deps.database.db
      .selectFrom('users')
      .select(['id', 'organization_id', 'role'])
      .where('email', '=', admin.email)
      .executeTakeFirstOrThrow();
    const { key, apiKey } = await deps.auth.apiKeys.create(
      { organizationId: owner.organization_id, userId: owner.id, role: owner.role },
      { name, scopes: [...API_KEY_SCOPES] },
    );
    const bun = (globalThis as { Bun?: { version: string } }).Bun;
    const runtime = bun ? `bun ${bun.version}` : `node ${process.version}`;
    return { deps, key, keyId: apiKey.id, runtime, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * CPU µs per request of `count` sequential requests made by `request`, bodies read as a client
 * would; CPU from `process.cpuUsage()` (user + system, every thread: GC and the log writer count).
 */
export async function cpuPerRequest(fetch: Fetch, request: () => Request, count: number): Promise<number> {
  // A failing request would measure the error path: check one before timing.
  const check = await fetch(request());
  if (check.status !== 200) throw new Error(`${request().url}: ${check.status} ${await check.text()}`);
  await check.arrayBuffer();
  collectGarbage();
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const response = await fetch(request());
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

/** Ends a measurement script: exit 0, or print the error and exit 1 (its servers' handles would keep it alive). */
export function runScript(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
