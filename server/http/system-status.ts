import { Hono } from 'hono';
import type { AppDeps } from '../deps';
import { adminToken } from '../middleware/admin-token';
import { buildSystemStatus } from '../services/monitoring/status';

/** GET /api/system/status: the operator's one-page view. Admin only. */
export function systemStatusRoutes(deps: AppDeps) {
  const app = new Hono();
  app.get('/api/system/status', adminToken({ token: deps.adminToken }), async (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json(await buildSystemStatus(deps));
  });
  return app;
}
