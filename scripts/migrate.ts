import { join } from 'node:path';
import { PlatformDatabase } from '../db/connect';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { migrateDown, migrateToLatest } from '../db/migrate';
import { ConfigError, loadConfig } from '../server/config';

/**
 * `npm run db:migrate` applies every pending migration and exits; `npm run db:migrate -- down`
 * undoes the latest one. Uses DATABASE_URL, or the embedded server's data under DATA_DIR.
 */
async function run(): Promise<void> {
  const config = loadConfig();
  const direction = process.argv[2] ?? 'up';
  if (direction !== 'up' && direction !== 'down')
    throw new Error(`unknown direction "${direction}": use up or down`);
  const embedded = config.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({
        dataDir: join(config.DATA_DIR, 'postgres'),
        port: config.EMBEDDED_PG_PORT,
      });
  const database = new PlatformDatabase({
    url: config.DATABASE_URL ?? embedded!.url,
    poolMax: 2,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: 0,
    idleTimeoutMs: config.DB_IDLE_TIMEOUT_MS,
    retry: {
      attempts: config.DB_CONNECT_ATTEMPTS,
      baseMs: config.DB_RETRY_BASE_MS,
      maxMs: config.DB_RETRY_MAX_MS,
    },
  });
  try {
    await database.connect();
    const { results } =
      direction === 'up' ? await migrateToLatest(database.db) : await migrateDown(database.db);
    if (!results?.length) console.log('nothing to do: the schema is up to date');
    for (const r of results ?? [])
      console.log(`${r.direction === 'Up' ? 'applied' : 'reverted'} ${r.migrationName}`);
  } finally {
    await database.close();
    await embedded?.stop();
  }
}

run().catch((error) => {
  console.error(error instanceof ConfigError ? error.message : `migration failed: ${error.message ?? error}`);
  process.exit(1);
});
