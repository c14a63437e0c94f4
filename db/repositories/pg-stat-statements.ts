import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';

/**
 * PostgreSQL's pg_stat_statements extension: whether the server has it, whether this database
 * created it, and its figures. A missing extension or library surfaces as PostgreSQL's error.
 */

/** One row of pg_stat_statements as read here (bigints as text, as pg returns them). */
export interface PgStatStatementRow {
  queryid: string;
  query: string;
  calls: string;
  total_exec_time: number;
  mean_exec_time: number;
  max_exec_time: number;
  rows: string;
  shared_blks_hit: string;
  shared_blks_read: string;
}

/** This database's statements by total execution time, the `limit` costliest. */
export async function selectTopStatements(
  db: Kysely<Database>,
  limit: number,
): Promise<PgStatStatementRow[]> {
  const { rows } =
    await sql<PgStatStatementRow>`select queryid::text as queryid, query, calls, total_exec_time, mean_exec_time, max_exec_time,
                rows, shared_blks_hit, shared_blks_read
         from pg_stat_statements
         where dbid = (select oid from pg_database where datname = current_database())
         order by total_exec_time desc
         limit ${limit}`.execute(db);
  return rows;
}

/** Whether the server has the extension installed (whether or not this database created it). */
export async function pgStatStatementsAvailable(db: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ available: boolean }>`select exists (
      select 1 from pg_available_extensions where name = 'pg_stat_statements'
    ) as available`.execute(db);
  return rows[0]?.available === true;
}

/** Whether this database has created the extension. */
export async function pgStatStatementsCreated(db: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ created: boolean }>`select exists (
      select 1 from pg_extension where extname = 'pg_stat_statements'
    ) as created`.execute(db);
  return rows[0]?.created === true;
}

/** Creates the extension in this database (needs the privileges to). */
export async function createPgStatStatements(db: Kysely<Database>): Promise<void> {
  await sql`create extension if not exists pg_stat_statements`.execute(db);
}
