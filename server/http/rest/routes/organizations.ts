import { restRoutes } from '../route';

/** REST routes of `auth.organizations.*`, `auth.platformRoles.*` and `auth.invitations.*` (docs/api.md, "REST"). */
export const organizationsRoutes = restRoutes({});
