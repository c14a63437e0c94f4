import { Hono } from 'hono';
import { buildSystemStatus } from '../operations/status';
import type { AppDeps } from './deps';
import type { AppEnv } from './env';
import { requirePlatformRole } from './middleware/require-platform-role';

/** GET /api/system/status: the operator's one-page view, as system.status gives it. */
export function systemStatusRoutes(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.get('/api/system/status', requirePlatformRole(deps, 'operator', 'system:read'), async (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json(await buildSystemStatus(deps));
  });
  return app;
}
