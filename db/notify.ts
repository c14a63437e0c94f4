import { type Kysely, sql } from 'kysely';
import type { Database } from './database';

/**
 * NOTIFY through `pg_notify`, channel and payload both as parameters. Through a transaction, the
 * notification is delivered when it commits and never if it rolls back. The caller checks the
 * channel and the payload's size (the change feed does).
 */
export async function notify(db: Kysely<Database>, channel: string, payload: string): Promise<void> {
  await sql`select pg_notify(${channel}, ${payload})`.execute(db);
}
