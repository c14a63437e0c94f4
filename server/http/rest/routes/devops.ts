import { restRoutes } from '../route';

/** REST routes of `devops.*` (docs/api.md, "REST"). */
export const devopsRoutes = restRoutes({});
