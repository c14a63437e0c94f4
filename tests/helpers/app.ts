import { Writable } from 'node:stream';
import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import type { AppDeps } from '../../server/deps';
import { readBuildInfo } from '../../server/runtime/build-info';
import { buildDependencies } from '../../server/runtime/dependencies';
import { createLogger } from '../../server/runtime/logger';
import { createTestDatabase, type TestDatabase } from './database';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijklmnop';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  database: TestDatabase;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Headers carrying the admin token. */
  admin: { authorization: string };
  close(): Promise<void>;
}

/**
 * The whole app, built the way main.ts builds it, on a fresh database of its own, with its
 * components started. No port: call `app.request()`.
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: database.url, LOG_LEVEL: 'debug', ...env });
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const deps = buildDependencies({
    config,
    logger: createLogger({ level: config.LOG_LEVEL, destination }),
    build: readBuildInfo(),
    databaseUrl: database.url,
    adminToken: TEST_ADMIN_TOKEN,
  });
  await deps.initializer.start();
  return {
    app: createApp(deps),
    deps,
    database,
    logs,
    admin: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    async close() {
      await deps.initializer.stop();
      await deps.database.close();
      await database.drop();
    },
  };
}
