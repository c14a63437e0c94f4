import { type Kysely, sql } from 'kysely';

/** The server's version and connection limit, as `current_setting` gives them. */
export async function selectServerSettings<DB>(
  db: Kysely<DB>,
): Promise<{ server_version: string; max_connections: number }> {
  const { rows } = await sql<{ server_version: string; max_connections: number }>`
    select current_setting('server_version') as server_version,
           current_setting('max_connections')::int as max_connections
  `.execute(db);
  return rows[0]!;
}
