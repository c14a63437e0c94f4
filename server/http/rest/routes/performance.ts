import { restRoutes } from '../route';

/** REST routes of `performance.*` (docs/api.md, "REST"). */
export const performanceRoutes = restRoutes({});
