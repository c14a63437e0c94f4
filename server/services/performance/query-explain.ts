import type { PlatformDatabase } from '../../../db/connect';
import { explainGenericPlan, setLocalStatementTimeout } from '../../../db/explain';
import { sqlState } from '../../../db/retry';
import { PlatformError } from '../../base/errors';
import type { QueryMonitor } from './query-monitor';

/** Statements whose plan is worth reading; DDL, SET, BEGIN and the like have none. */
const EXPLAINABLE = new Set(['select', 'insert', 'update', 'delete', 'with']);

export interface ShapePlan {
  fingerprint: string;
  /** The normalised text of the shape. */
  text: string;
  /** PostgreSQL's EXPLAIN (FORMAT JSON) output: an array holding one `{ Plan: … }`. */
  plan: unknown;
}

export interface ExplainOptions {
  /** Bound on planning, as statement_timeout inside the transaction. */
  timeoutMs?: number;
}

/**
 * PostgreSQL's plan for a query shape this instance has run, without running it: EXPLAIN with
 * GENERIC_PLAN (PostgreSQL 16 and later), so the `$n` placeholders need no values. The SQL is the
 * text Kysely sent for the first query of the shape; callers name the shape by fingerprint and
 * never supply SQL. Planned in a read-only transaction under a short statement timeout.
 */
export async function explainShape(
  database: PlatformDatabase,
  monitor: QueryMonitor,
  fingerprint: string,
  { timeoutMs = 2_000 }: ExplainOptions = {},
): Promise<ShapePlan> {
  const shape = monitor.shape(fingerprint);
  if (!shape) {
    throw new PlatformError('NOT_FOUND', `this instance has run no query of shape ${fingerprint}`);
  }
  const captured = monitor.capturedSql(fingerprint);
  // A `;` outside literals would mean several statements; Kysely never sends those.
  if (captured === null || !EXPLAINABLE.has(shape.operation) || shape.text.includes(';')) {
    throw new PlatformError(
      'BAD_REQUEST',
      `only select, insert, update, delete and with statements can be explained, not ${shape.operation}`,
    );
  }
  try {
    return await database.db
      .transaction()
      .setAccessMode('read only')
      .execute(async (trx) => {
        await setLocalStatementTimeout(trx, timeoutMs);
        const plan = await explainGenericPlan(trx, captured);
        return { fingerprint, text: shape.text, plan };
      });
  } catch (error) {
    throw planningError(error) ?? error;
  }
}

/** PostgreSQL refusing to plan the shape is the caller's answer, not a server fault. */
function planningError(error: unknown): PlatformError | null {
  const state = sqlState(error);
  if (state === '57014') {
    return new PlatformError('GATEWAY_TIMEOUT', 'PostgreSQL did not finish planning within the time allowed');
  }
  // 42: syntax or unknown objects (a table dropped since, a parameter type it cannot infer,
  // GENERIC_PLAN before PostgreSQL 16); 22: data exceptions; 0A: not supported.
  if (state && /^(?:42|22|0A)/.test(state)) {
    return new PlatformError(
      'BAD_REQUEST',
      `PostgreSQL could not plan this shape: ${(error as Error).message}`,
    );
  }
  return null;
}
