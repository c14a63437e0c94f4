import { router } from '../../trpc';
import { alertProcedures } from './alerts';
import { analyticsProcedures } from './analytics';
import { cacheProcedures } from './cache';
import { insightProcedures } from './insights';
import { queryProcedures } from './queries';

/** The performance router: operators read, and write only what changes no data (cache, alerts). */
export const performanceRouter = router({
  ...analyticsProcedures((ctx) => ctx.deps.performance.analytics),
  ...queryProcedures((ctx) => ({
    monitor: ctx.deps.performance.queries,
    database: ctx.deps.database,
    // Created at start by the performance component; a read never needs to create it.
    createPgStatStatements: false,
  })),
  ...cacheProcedures((ctx) => ({
    cache: ctx.deps.cache,
    warmers: ctx.deps.cacheWarmers,
    invalidation: ctx.deps.cacheInvalidation,
  })),
  ...insightProcedures,
  ...alertProcedures((ctx) => ctx.deps.alerts),
});
