import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E2E_ADMIN, E2E_BASE_URL, E2E_PG_PORT, E2E_PORT, E2E_RESTORE_DATABASE } from './platform';

const START_TIMEOUT_MS = 90_000;

/**
 * Starts the platform as operators run it (`node --import tsx server/main.ts`) with an embedded
 * PostgreSQL in a fresh DATA_DIR, waits until it is ready, and stops it by PID afterwards.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bc-e2e-'));
  // As root, the embedded PostgreSQL runs as the postgres user, which must write here.
  chmodSync(dataDir, 0o777);
  const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(E2E_PORT),
      DATA_DIR: dataDir,
      // A known port, so the restore test can make a scratch database beside the platform's.
      EMBEDDED_PG_PORT: String(E2E_PG_PORT),
      // Restores write only into allow-listed databases, spelled host:port/database.
      BACKUP_RESTORE_TARGETS: `127.0.0.1:${E2E_PG_PORT}/${E2E_RESTORE_DATABASE}`,
      // Point-in-time recovery as production runs it: WAL archived and shipped (every half second,
      // so the dashboard's figures move within a test), a first base backup taken at start.
      BACKUP_PITR: 'true',
      BACKUP_PITR_SHIP_INTERVAL_MS: '500',
      ADMIN_EMAIL: E2E_ADMIN.email,
      ADMIN_PASSWORD: E2E_ADMIN.password,
      AUTH_PASSWORD_COST: '10',
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      // The dashboard polls every two seconds; the default per-IP limit is for the internet.
      // The deployment test's webhook receiver listens on 127.0.0.1.
      DEPLOY_ALLOW_PRIVATE_NETWORKS: 'true',
      // The deployment form test's analysis measures that receiver's /metrics.
      OUTBOUND_ALLOW_METRICS: '127.0.0.1',
      RATE_LIMIT_IP_PER_MINUTE: '100000',
      RATE_LIMIT_USER_PER_MINUTE: '100000',
      RATE_LIMIT_LOGIN_PER_MINUTE: '1000',
      RATE_LIMIT_REFRESH_PER_MINUTE: '1000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  // Playwright's workers start after global setup and inherit its environment.
  process.env.E2E_DATA_DIR = dataDir;
  try {
    await waitUntilReady(server);
  } catch (error) {
    await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return async () => {
    await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
  };
}

async function waitUntilReady(server: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the platform exited with code ${server.exitCode}`);
    try {
      const response = await fetch(`${E2E_BASE_URL}/api/health/ready`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the platform was not ready within ${START_TIMEOUT_MS} ms`);
}

function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => server.kill('SIGKILL'), 20_000);
    server.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    server.kill('SIGTERM');
  });
}
