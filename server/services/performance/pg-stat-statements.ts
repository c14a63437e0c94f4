import type { PlatformDatabase } from '../../../db/connect';
import {
  createPgStatStatements,
  pgStatStatementsAvailable,
  pgStatStatementsCreated,
  selectTopStatements,
} from '../../../db/repositories/pg-stat-statements';
import { sqlState } from '../../../db/retry';

/** One statement as PostgreSQL's pg_stat_statements counts it (this database, all users). */
export interface StatementFigures {
  /** PostgreSQL's own query id, as a string (a bigint). */
  queryId: string;
  /** PostgreSQL's normalised text (`$n` where values were). */
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  maxMs: number;
  rows: number;
  sharedBlocksHit: number;
  sharedBlocksRead: number;
}

export type PgStatStatementsReport =
  | { available: true; statements: StatementFigures[] }
  | { available: false; reason: string };

export interface PgStatStatementsOptions {
  /** Statements to return, by total execution time. */
  limit: number;
  /**
   * Run `create extension if not exists pg_stat_statements` when the server has the extension
   * but this database has not created it (needs a superuser or the database owner with the
   * extension marked trusted; a refusal is reported, not thrown).
   */
  createExtension: boolean;
}

/**
 * The statements that cost PostgreSQL the most time, from pg_stat_statements, or why they cannot
 * be had. Availability is found out on each call: a DATABASE_URL server may lack the extension,
 * lack it in shared_preload_libraries, or gain it later; none of that is an error here.
 * A migration cannot create the extension, since it would fail on servers that lack it.
 */
export async function readPgStatStatements(
  database: PlatformDatabase,
  { limit, createExtension }: PgStatStatementsOptions,
): Promise<PgStatStatementsReport> {
  const missing = await ensureExtension(database, createExtension);
  if (missing) return { available: false, reason: missing };
  try {
    const rows = await database.read((db) => selectTopStatements(db, limit));
    return {
      available: true,
      statements: rows.map((row) => ({
        queryId: row.queryid,
        query: row.query,
        calls: Number(row.calls),
        totalMs: round(row.total_exec_time),
        meanMs: round(row.mean_exec_time),
        maxMs: round(row.max_exec_time),
        rows: Number(row.rows),
        sharedBlocksHit: Number(row.shared_blks_hit),
        sharedBlocksRead: Number(row.shared_blks_read),
      })),
    };
  } catch (error) {
    // 55000: the extension exists in this database but the server did not preload its library.
    // 42P01: it was dropped between the check and the read.
    const state = sqlState(error);
    if (state === '55000' || state === '42P01') {
      return { available: false, reason: `pg_stat_statements cannot be read: ${(error as Error).message}` };
    }
    throw error;
  }
}

/** Null once the extension exists in this database, else why it does not. */
async function ensureExtension(database: PlatformDatabase, create: boolean): Promise<string | null> {
  if (await extensionCreated(database)) return null;
  const available = await database.read(pgStatStatementsAvailable);
  if (!available) return 'the server does not have the pg_stat_statements extension installed';
  if (!create)
    return 'pg_stat_statements is not created in this database (create extension pg_stat_statements)';
  try {
    await createPgStatStatements(database.db);
    return null;
  } catch (error) {
    // Two callers creating it at once: the loser fails, yet the extension is there.
    if (await extensionCreated(database)) return null;
    return `pg_stat_statements could not be created in this database: ${(error as Error).message}`;
  }
}

function extensionCreated(database: PlatformDatabase): Promise<boolean> {
  return database.read(pgStatStatementsCreated);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
