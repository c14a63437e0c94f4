import type { PlatformDatabase } from '../../../../db/connect';
import { performanceExplainInput, performanceQueriesInput } from '../../../../shared/performance-queries';
import {
  type PgStatStatementsReport,
  readPgStatStatements,
} from '../../../services/performance/pg-stat-statements';
import { explainShape } from '../../../services/performance/query-explain';
import type { QueryMonitor } from '../../../services/performance/query-monitor';
import type { Context } from '../../context';
import { platformProcedure } from '../../trpc';

/** Where the query procedures find the monitor and the database of this instance. */
export interface QuerySources {
  monitor: QueryMonitor;
  database: PlatformDatabase;
  /**
   * Create pg_stat_statements in the database when the server has it but the database does not
   * (default true; needs sufficient privileges, a refusal is reported as unavailable).
   */
  createPgStatStatements?: boolean;
}

/** `performance.queries` and `performance.explain`, to be spread into the performance router. */
export function queryProcedures(get: (ctx: Context) => QuerySources) {
  return {
    /**
     * Query shapes ranked by `sort`, the slow-query log, and PostgreSQL's own pg_stat_statements
     * figures for this database when the server has them.
     */
    queries: platformProcedure('operator', 'performance:read')
      .input(performanceQueriesInput)
      .query(async ({ ctx, input }) => {
        const { monitor, database, createPgStatStatements = true } = get(ctx);
        // The in-process figures matter most when the database struggles: a failed read of
        // pg_stat_statements degrades that part only.
        const pgStatStatements: PgStatStatementsReport = await readPgStatStatements(database, {
          limit: input.limit,
          createExtension: createPgStatStatements,
        }).catch((error) => {
          ctx.log().warn({ err: error }, 'pg_stat_statements could not be read');
          return { available: false, reason: 'pg_stat_statements could not be read; see the server log' };
        });
        return {
          slowQueryMs: monitor.slowQueryMs,
          totals: monitor.totals(),
          shapes: monitor.top(input.limit, input.sort),
          slow: input.includeSlow ? monitor.slow(input.limit) : null,
          pgStatStatements,
        };
      }),

    /** PostgreSQL's generic plan of a captured shape (EXPLAIN without ANALYZE: nothing is run). */
    explain: platformProcedure('admin', 'performance:read')
      .input(performanceExplainInput)
      .query(({ ctx, input }) => {
        const { monitor, database } = get(ctx);
        return explainShape(database, monitor, input.fingerprint);
      }),
  };
}
