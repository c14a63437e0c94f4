import { join } from 'node:path';
import { PlatformDatabase } from '../../db/connect';
import { startEmbeddedPostgres } from '../../db/embedded-postgres';
import type { Config } from '../../server/base/config';

/**
 * The platform's database for a one-off script (migrations, the first admin): DATABASE_URL, or
 * the embedded server's data under DATA_DIR, connected. `close()` closes the pool and stops the
 * embedded server if the script started it.
 */
export async function openScriptDatabase(
  config: Config,
): Promise<{ database: PlatformDatabase; close(): Promise<void> }> {
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
  const close = async () => {
    await database.close();
    await embedded?.stop();
  };
  try {
    await database.connect();
  } catch (error) {
    await close();
    throw error;
  }
  return { database, close };
}
