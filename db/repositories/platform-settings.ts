import type { Kysely } from 'kysely';
import type { Database } from '../database';

/** A platform setting's stored JSON value, if it was ever set. */
export async function findPlatformSetting(
  db: Kysely<Database>,
  name: string,
): Promise<{ value: Record<string, unknown> } | undefined> {
  return db.selectFrom('platform_settings').select('value').where('name', '=', name).executeTakeFirst();
}

/** Sets a platform setting to `value` (JSON text), recording who did. */
export async function upsertPlatformSetting(
  db: Kysely<Database>,
  { name, value, updatedBy }: { name: string; value: string; updatedBy: string },
): Promise<void> {
  await db
    .insertInto('platform_settings')
    .values({ name, value, updated_by: updatedBy })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({ value, updated_by: updatedBy, updated_at: new Date() }),
    )
    .execute();
}
