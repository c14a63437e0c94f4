import { router } from '../../trpc';
import { alertsRouter } from './alerts';
import { analyticsProcedures } from './analytics';
import { cacheRouter } from './cache';
import { historyProcedures } from './history';
import { insightProcedures } from './insights';
import { queryProcedures } from './queries';

/** The performance router: operators read, and write only what changes no data (cache, alerts). */
export const performanceRouter = router({
  ...analyticsProcedures,
  ...historyProcedures,
  ...queryProcedures,
  cache: cacheRouter,
  ...insightProcedures,
  alerts: alertsRouter,
});
