import { join } from 'node:path';
import { prepareSpool } from '../db/backup/wal-archiving';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../db/embedded-postgres';
import { readBuildInfo } from './base/build-info';
import { ConfigError, loadConfig, redactConfig } from './base/config';
import { createLogger } from './base/logger';
import { buildDependencies } from './composition/dependencies';
import { resolveKeyEncryptionKey } from './composition/key-encryption-key';
import { embeddedServerSettings, pointInTimeSpoolDir } from './composition/point-in-time';
import { serve } from './composition/serve';
import { installShutdown } from './composition/shutdown';
import { createApp } from './http/app';

/** Entry point on Bun and Node: wires configuration, dependencies, the app and signals. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const logger = createLogger({ level: config.LOG_LEVEL });
  const build = readBuildInfo();
  logger.info({ build, config: redactConfig(config) }, 'starting');

  let embedded: EmbeddedPostgres | undefined;
  if (!config.DATABASE_URL) {
    if (config.BACKUP_PITR) await prepareSpool(pointInTimeSpoolDir(config));
    embedded = await startEmbeddedPostgres({
      settings: embeddedServerSettings(config),
      dataDir: join(config.DATA_DIR, 'postgres'),
      port: config.EMBEDDED_PG_PORT,
      // Stopped last, after the pool: let its sessions finish closing rather than end them.
      smartStopMs: 2_000,
      onLog: (line) => logger.debug({ postgres: line }, 'embedded postgres'),
    });
    logger.info({ port: embedded.port, dataDir: embedded.dataDir }, 'embedded PostgreSQL started');
  }

  const kek = resolveKeyEncryptionKey(config.AUTH_KEY_ENCRYPTION_KEY, config.DATA_DIR);
  if (kek.file) {
    logger.info(
      { file: kek.file },
      'key-encryption key kept in DATA_DIR (set AUTH_KEY_ENCRYPTION_KEY to manage it yourself)',
    );
  }

  const deps = buildDependencies({
    config,
    logger,
    build,
    databaseUrl: config.DATABASE_URL ?? embedded!.url,
    kek: kek.kek,
  });
  const app = createApp(deps);
  const server = await serve(app.fetch, {
    host: config.HOST,
    port: config.PORT,
    maxBodyBytes: config.BODY_LIMIT_BYTES,
  });
  logger.info({ host: config.HOST, port: server.port, runtime: build.runtime }, 'listening');

  installShutdown({ deps, server, embedded, logger });
  // Components come up in the background: the server answers (not ready) meanwhile.
  void deps.initializer.start().then(async () => {
    // One line for the person who just ran `npm start`: where to go, and how to get in.
    const dashboard = `http://${displayHost(config.HOST)}:${server.port}/`;
    const noUser = !config.ADMIN_EMAIL && !(await deps.auth.users.anyUser());
    logger.info(
      { dashboard },
      noUser
        ? `ready: the dashboard is at ${dashboard}; no user exists yet, so create the first admin with \`npm run admin:create -- you@example.com\` (or set ADMIN_EMAIL and ADMIN_PASSWORD)`
        : `ready: the dashboard is at ${dashboard}; sign in there`,
    );
  });
}

/** The address to show a person: a wildcard listener is reached through the loopback. */
function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

main().catch((error) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`start-up failed: ${message}\n`);
  process.exit(1);
});
