import {
  type AnalyticsSeriesSnapshot,
  type PerformanceOverview,
  type PerformanceRoutes,
  performanceProcedureInput,
  performanceRoutesInput,
} from '../../../../shared/performance';
import { PlatformError } from '../../../base/errors';
import { platformProcedure } from '../../trpc';

/** The live-analytics procedures of the `performance` router, to be spread into it. */
export const analyticsProcedures = {
  /** Totals of routes and of procedures, and the top series by requests, p99 and error rate. */
  overview: platformProcedure('operator', 'performance:read').query(
    ({ ctx }): PerformanceOverview => ctx.deps.performance.analytics.overview(),
  ),

  /** Route templates and procedures, filtered and sorted. */
  routes: platformProcedure('operator', 'performance:read')
    .input(performanceRoutesInput)
    .query(({ ctx, input }): PerformanceRoutes => ctx.deps.performance.analytics.routes(input)),

  /** One procedure's figures; NOT_FOUND when it has not been called since the server started. */
  procedure: platformProcedure('operator', 'performance:read')
    .input(performanceProcedureInput)
    .query(({ ctx, input }): AnalyticsSeriesSnapshot => {
      const series = ctx.deps.performance.analytics.procedure(input.path);
      // The message leaves the path out: it is the caller's text, not ours to echo.
      if (!series) throw new PlatformError('NOT_FOUND', 'no procedure with this path has been called');
      return series;
    }),
};
