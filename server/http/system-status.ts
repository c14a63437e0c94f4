import { Hono } from 'hono';
import type { AppDeps } from '../deps';
import { requireRole } from '../middleware/require-role';
import { buildSystemStatus } from '../services/monitoring/status';

/** GET /api/system/status: the operator's one-page view, as system.status gives it. */
export function systemStatusRoutes(deps: AppDeps) {
  const app = new Hono();
  app.get('/api/system/status', requireRole(deps, 'operator', 'system:read'), async (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json(await buildSystemStatus(deps));
  });
  return app;
}
