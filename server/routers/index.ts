import { router } from '../trpc';
import { systemRouter } from './system';

/** The root router: composition only. */
export const appRouter = router({
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
