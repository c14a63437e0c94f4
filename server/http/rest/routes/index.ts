import { authRoutes } from './auth';
import { devopsRoutes } from './devops';
import { organizationsRoutes } from './organizations';
import { performanceRoutes } from './performance';
import { secondFactorRoutes } from './second-factor';
import { systemRoutes } from './system';

/**
 * Every REST route, keyed by the procedure it calls. Each procedure an API key may call has one
 * (tests/integration/rest-api.test.ts walks the router to make sure); procedures only a signed-in
 * person may call (sessions, password) have none.
 */
export const REST_ROUTES = {
  ...systemRoutes,
  ...authRoutes,
  ...secondFactorRoutes,
  ...organizationsRoutes,
  ...performanceRoutes,
  ...devopsRoutes,
};
