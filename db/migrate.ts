import { type Kysely, type MigrationResultSet, Migrator } from 'kysely';
import { migrations } from './migrations';

/**
 * Brings the schema to the latest migration. Kysely's Migrator takes a PostgreSQL advisory
 * lock for the whole run, so instances starting together apply each migration once.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}

/** Undoes the latest applied migration (for `npm run db:migrate -- down`). */
export async function migrateDown(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result = await migrator.migrateDown();
  if (result.error) throw result.error;
  return result;
}
