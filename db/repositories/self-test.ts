import type { Kysely } from 'kysely';
import type { Database } from '../database';

export async function writeScratch(db: Kysely<Database>, id: string, payload: string): Promise<void> {
  await db.insertInto('self_test_scratch').values({ id, payload }).execute();
}

export async function readScratch(db: Kysely<Database>, id: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('self_test_scratch')
    .select('payload')
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.payload;
}

export async function deleteScratch(db: Kysely<Database>, id: string): Promise<number> {
  const result = await db.deleteFrom('self_test_scratch').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows);
}
