import { restRoutes } from '../route';

/** REST routes of `system.*` (docs/api.md, "REST"). */
export const systemRoutes = restRoutes({});
