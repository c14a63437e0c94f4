import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { readBuildInfo } from '../../server/base/build-info';
import { loadConfig } from '../../server/base/config';
import { createLogger } from '../../server/base/logger';
import { buildDependencies } from '../../server/composition/dependencies';
import { createApp } from '../../server/http/app';
import type { AppDeps } from '../../server/http/deps';
import { API_KEY_SCOPES } from '../../shared/auth';
import { createTestDatabase, type TestDatabase } from './database';

/** The first admin of every test app (ADMIN_EMAIL / ADMIN_PASSWORD). */
export const TEST_ADMIN = { email: 'admin@platform.test', password: 'test-admin-password-0123' };

/** A fixed key-encryption key: tests need no DATA_DIR. */
export const TEST_KEK = new Uint8Array(32).fill(7);

export interface TestApp {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  database: TestDatabase;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Headers carrying an API key of the first admin with every scope. */
  admin: { authorization: string };
  /** The first admin: what in-process callers act as. */
  adminUser: { id: string; organizationId: string };
  close(): Promise<void>;
}

/**
 * The whole app, built the way main.ts builds it, on a fresh database of its own, with its
 * components started. No port: call `app.request()`.
 */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  // Backups the app writes go to a directory of its own, removed on close.
  const backupDir = await mkdtemp(join(tmpdir(), 'bc-test-backups-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    LOG_LEVEL: 'debug',
    // scrypt at 2^10 rather than OWASP's 2^17: the suite hashes hundreds of passwords.
    AUTH_PASSWORD_COST: '10',
    // Every request of app.request() comes from one unknown address: tests of the limits set them.
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_USER_PER_MINUTE: '1000000',
    RATE_LIMIT_LOGIN_PER_MINUTE: '10000',
    RATE_LIMIT_REFRESH_PER_MINUTE: '10000',
    BACKUP_DIR: backupDir,
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    ...env,
  });
  const { logs, destination } = capturedLogs();
  const deps = buildDependencies({
    config,
    logger: createLogger({ level: config.LOG_LEVEL, destination }),
    build: readBuildInfo(),
    databaseUrl: database.url,
    kek: TEST_KEK,
  });
  await deps.initializer.start();
  const adminRow = await deps.database.db
    .selectFrom('users')
    .select(['id', 'organization_id', 'role'])
    .where('email', '=', TEST_ADMIN.email)
    .executeTakeFirstOrThrow();
  const { key } = await deps.auth.apiKeys.create(
    { organizationId: adminRow.organization_id, userId: adminRow.id, role: adminRow.role },
    { name: 'test admin', scopes: [...API_KEY_SCOPES] },
  );
  return {
    app: createApp(deps),
    deps,
    database,
    logs,
    admin: { authorization: `Bearer ${key}` },
    adminUser: { id: adminRow.id, organizationId: adminRow.organization_id },
    async close() {
      await deps.initializer.stop();
      await deps.database.close();
      await database.drop();
      await rm(backupDir, { recursive: true, force: true });
    },
  };
}

/** A log destination that keeps every line, parsed, for the test to read. */
function capturedLogs(): { logs: Record<string, unknown>[]; destination: Writable } {
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  return { logs, destination };
}

export interface PeerApp {
  app: TestApp['app'];
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * Another instance of `of`'s app: the same configuration, database and key-encryption key, as a
 * second replica would be (change-feed and shared-store tests).
 */
export async function startPeerApp(of: TestApp): Promise<PeerApp> {
  const { logs, destination } = capturedLogs();
  const deps = buildDependencies({
    config: of.deps.config,
    logger: createLogger({ level: of.deps.config.LOG_LEVEL, destination }),
    build: readBuildInfo(),
    databaseUrl: of.database.url,
    kek: TEST_KEK,
  });
  await deps.initializer.start();
  return {
    app: createApp(deps),
    logs,
    async close() {
      await deps.initializer.stop();
      await deps.database.close();
    },
  };
}
