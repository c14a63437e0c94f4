import { type Kysely, sql } from 'kysely';
import type { Database } from './database';

/** Bounds every statement for the rest of the transaction. */
export async function setLocalStatementTimeout(trx: Kysely<Database>, timeoutMs: number): Promise<void> {
  await sql`select set_config('statement_timeout', ${String(timeoutMs)}, true)`.execute(trx);
}

/**
 * PostgreSQL's plan of `capturedSql` without running it: EXPLAIN (GENERIC_PLAN, FORMAT JSON),
 * PostgreSQL 16 and later, so `$n` placeholders need no values. `capturedSql` must be text this
 * process's own Kysely compiled (the query monitor's capture), never a caller's: it is spliced.
 * Returns EXPLAIN's JSON (an array holding one `{ Plan: … }`), or null.
 */
export async function explainGenericPlan(trx: Kysely<Database>, capturedSql: string): Promise<unknown> {
  // sql-check: allow text captured from this process's own Kysely queries (values as $n), looked up by fingerprint, never from a caller; EXPLAIN without ANALYZE plans it in a read-only transaction without running it
  const statement = sql.raw(capturedSql);
  const { rows } = await sql<{
    'QUERY PLAN': unknown;
  }>`explain (generic_plan, format json) ${statement}`.execute(trx);
  return rows[0]?.['QUERY PLAN'] ?? null;
}
