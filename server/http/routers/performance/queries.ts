import { performanceExplainInput, performanceQueriesInput } from '../../../../shared/performance-queries';
import {
  type PgStatStatementsReport,
  readPgStatStatements,
} from '../../../services/performance/pg-stat-statements';
import { explainShape } from '../../../services/performance/query-explain';
import { platformProcedure } from '../../trpc';

/** `performance.queries` and `performance.explain`, to be spread into the performance router. */
export const queryProcedures = {
  /**
   * Query shapes ranked by `sort`, the slow-query log, and PostgreSQL's own pg_stat_statements
   * figures for this database when the server has them.
   */
  queries: platformProcedure('operator', 'performance:read')
    .input(performanceQueriesInput)
    .query(async ({ ctx, input }) => {
      const { queries: monitor } = ctx.deps.performance;
      // The in-process figures matter most when the database struggles: a failed read of
      // pg_stat_statements degrades that part only.
      const pgStatStatements: PgStatStatementsReport = await readPgStatStatements(ctx.deps.database, {
        limit: input.limit,
        // Created at start by the performance component; a read never needs to create it.
        createExtension: false,
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
      return explainShape(ctx.deps.database, ctx.deps.performance.queries, input.fingerprint);
    }),
};
