import { router } from '../trpc';
import { authRouter } from './auth';
import { devopsRouter } from './devops/index';
import { performanceRouter } from './performance/index';
import { systemRouter } from './system';

/** The root router: composition only. */
export const appRouter = router({
  system: systemRouter,
  auth: authRouter,
  performance: performanceRouter,
  devops: devopsRouter,
});

export type AppRouter = typeof appRouter;
