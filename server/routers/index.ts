import { router } from '../trpc';
import { authRouter } from './auth';
import { performanceRouter } from './performance';
import { systemRouter } from './system';

/** The root router: composition only. */
export const appRouter = router({
  system: systemRouter,
  auth: authRouter,
  performance: performanceRouter,
});

export type AppRouter = typeof appRouter;
