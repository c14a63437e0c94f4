import { migrateDown, migrateToLatest } from '../db/migrate';
import { ConfigError, loadConfig } from '../server/base/config';
import { openScriptDatabase } from './lib/script-database';

/**
 * `npm run db:migrate` applies every pending migration and exits; `npm run db:migrate -- down`
 * undoes the latest one. Uses DATABASE_URL, or the embedded server's data under DATA_DIR.
 */
async function run(): Promise<void> {
  const config = loadConfig();
  const direction = process.argv[2] ?? 'up';
  if (direction !== 'up' && direction !== 'down')
    throw new Error(`unknown direction "${direction}": use up or down`);
  const { database, close } = await openScriptDatabase(config);
  try {
    const { results } =
      direction === 'up' ? await migrateToLatest(database.db) : await migrateDown(database.db);
    if (!results?.length) console.log('nothing to do: the schema is up to date');
    for (const r of results ?? [])
      console.log(`${r.direction === 'Up' ? 'applied' : 'reverted'} ${r.migrationName}`);
  } finally {
    await close();
  }
}

run().catch((error) => {
  console.error(error instanceof ConfigError ? error.message : `migration failed: ${error.message ?? error}`);
  process.exit(1);
});
