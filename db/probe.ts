import { type Kysely, sql } from 'kysely';

/** `select <value>::int`: a query that touches nothing, for self-tests that watch queries pass. */
export async function selectProbe<DB>(db: Kysely<DB>, value: number): Promise<void> {
  await sql`select ${value}::int as probe`.execute(db);
}
