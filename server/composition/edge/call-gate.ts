import type { MaintenanceMode } from '../../services/devops/maintenance';
import { originOnly, originOnlyError } from './origin-only';

/**
 * The procedures with a policy that the edge serves: token verification and reads whose services
 * it has. Public procedures without a policy (system.info, system.health) are served as well:
 * they go through no gate. Everything else, every mutation included, is the origin's.
 */
export const EDGE_PROCEDURES: ReadonlySet<string> = new Set(['auth.me', 'system.annotations.list']);

/**
 * The app's maintenance switch at the edge, used as the gate of calls this instance may run: the
 * policy middleware (server/http/trpc.ts) asks `refuses(type, path)` of every call with a policy before
 * it authenticates or touches a service, so answering there refuses a call whole, with no side
 * effect half done (a drain flag set before an audit write fails, say).
 *
 * The edge writes nothing: maintenance mode, the change feed and session revocations reach
 * instances through a LISTEN connection an isolate cannot hold, so an edge that wrote could
 * neither pause its writes in maintenance nor learn what other instances changed. With no writes
 * here there is nothing for maintenance to pause, and its state (`current()`) is the origin's
 * to tell.
 */
export function edgeCallGate(): MaintenanceMode {
  return originOnly<MaintenanceMode>('maintenance mode', {
    refuses(type: string, path: string): boolean {
      if (type === 'mutation') throw originOnlyError(`${path} (a mutation)`);
      if (!EDGE_PROCEDURES.has(path)) throw originOnlyError(path);
      return false;
    },
  });
}
