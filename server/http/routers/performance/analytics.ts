import {
  type AnalyticsSeriesSnapshot,
  type PerformanceOverview,
  type PerformanceRoutes,
  performanceProcedureInput,
  performanceRoutesInput,
} from '../../../../shared/performance';
import { PlatformError } from '../../../base/errors';
import type { RequestAnalytics } from '../../../services/performance/analytics';
import type { Context } from '../../context';
import { platformProcedure } from '../../trpc';

/**
 * The live-analytics procedures of the `performance` router, to be spread into it. They reach
 * the analytics through `analyticsOf` (the router passes `(ctx) => ctx.deps.performance.analytics`),
 * so they can be built and tested without the rest of the performance dependencies.
 */
export function analyticsProcedures(analyticsOf: (ctx: Context) => RequestAnalytics) {
  return {
    /** Totals of routes and of procedures, and the top series by requests, p99 and error rate. */
    overview: platformProcedure('operator', 'performance:read').query(
      ({ ctx }): PerformanceOverview => analyticsOf(ctx).overview(),
    ),

    /** Route templates and procedures, filtered and sorted. */
    routes: platformProcedure('operator', 'performance:read')
      .input(performanceRoutesInput)
      .query(({ ctx, input }): PerformanceRoutes => analyticsOf(ctx).routes(input)),

    /** One procedure's figures; NOT_FOUND when it has not been called since the server started. */
    procedure: platformProcedure('operator', 'performance:read')
      .input(performanceProcedureInput)
      .query(({ ctx, input }): AnalyticsSeriesSnapshot => {
        const series = analyticsOf(ctx).procedure(input.path);
        // The message leaves the path out: it is the caller's text, not ours to echo.
        if (!series) throw new PlatformError('NOT_FOUND', 'no procedure with this path has been called');
        return series;
      }),
  };
}
