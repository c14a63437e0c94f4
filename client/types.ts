import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
// The client knows the server only by type: this import vanishes from any bundle.
import type { AppRouter } from '../server/http/routers/index';

export type { AppRouter };
/** The input of every procedure, e.g. `RouterInputs['auth']['apiKeys']['create']`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** The output of every procedure, e.g. `RouterOutputs['auth']['me']`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;
