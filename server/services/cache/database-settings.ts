import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import { selectServerSettings } from '../../../db/server-settings';
import type { Cache, EntryOptions } from './cache';
import type { CacheWarmer } from './warmers';

/** The PostgreSQL server's settings that status and capacity figures are read against. */
export interface DatabaseSettings {
  serverVersion: string;
  /** The server's connection limit, shared by every instance's pool. */
  maxConnections: number;
}

export const DATABASE_SETTINGS_KEY = 'database:settings';
export const DATABASE_SETTINGS_TAG = 'database-settings';

// Both change only with a server restart: minutes of freshness, and an hour of serving the old
// figures while a reload fails, cost nothing in accuracy and keep status free of queries.
const ENTRY: EntryOptions = { ttlMs: 5 * 60_000, staleMs: 60 * 60_000, tags: [DATABASE_SETTINGS_TAG] };

/** The server's settings, through the cache. */
export function readDatabaseSettings(cache: Cache, database: PlatformDatabase): Promise<DatabaseSettings> {
  return cache.getOrLoad(DATABASE_SETTINGS_KEY, () => database.read(selectDatabaseSettings), ENTRY);
}

/** Reads the settings again and stores them, so that the first status after start costs no query. */
export function databaseSettingsWarmer(database: PlatformDatabase): CacheWarmer {
  return {
    name: 'database-settings',
    async run(cache) {
      // Loaded and set rather than getOrLoad: warming on demand must refresh, not confirm.
      cache.set(DATABASE_SETTINGS_KEY, await database.read(selectDatabaseSettings), ENTRY);
      return 1;
    },
  };
}

async function selectDatabaseSettings(db: Kysely<Database>): Promise<DatabaseSettings> {
  const row = await selectServerSettings(db);
  return { serverVersion: row.server_version, maxConnections: row.max_connections };
}
