import { type PerformanceHistory, performanceHistoryInput } from '../../../../shared/performance-history';
import { platformProcedure } from '../../trpc';

/** `performance.history`, to be spread into the performance router. */
export const historyProcedures = {
  /**
   * Per-minute requests, 4xx, 5xx and latency percentiles of every route together, or of one
   * route or procedure, over a range: every instance's stored minutes summed, plus this one's
   * minutes not stored yet.
   */
  history: platformProcedure('operator', 'performance:read')
    .input(performanceHistoryInput)
    .query(({ ctx, input }): Promise<PerformanceHistory> => ctx.deps.performance.history.read(input)),
};
