import { join } from 'node:path';
import { prepareSpool } from '../../db/backup/wal-archiving';
import { PlatformDatabase } from '../../db/connect';
import { startEmbeddedPostgres } from '../../db/embedded-postgres';
import type { Config } from '../../server/base/config';
import { embeddedServerSettings, pointInTimeSpoolDir } from '../../server/composition/point-in-time';

/**
 * The platform's database for a one-off script (migrations, the first admin): DATABASE_URL, or
 * the embedded server's data under DATA_DIR, connected. `close()` closes the pool and stops the
 * embedded server if the script started it.
 */
export async function openScriptDatabase(
  config: Config,
): Promise<{ database: PlatformDatabase; close(): Promise<void> }> {
  if (!config.DATABASE_URL && config.BACKUP_PITR) await prepareSpool(pointInTimeSpoolDir(config));
  const embedded = config.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({
        dataDir: join(config.DATA_DIR, 'postgres'),
        port: config.EMBEDDED_PG_PORT,
        // The same archiving as the platform's: a start without it would leave a gap in the WAL.
        settings: embeddedServerSettings(config),
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
