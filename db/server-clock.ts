import { type Kysely, sql } from 'kysely';

/** The database's clock, which every instance shares: leases and pauses are measured by it. */
export async function databaseNow<DB>(db: Kysely<DB>): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`select now() as now`.execute(db);
  return (rows[0] as { now: Date }).now;
}
