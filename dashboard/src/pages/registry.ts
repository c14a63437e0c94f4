import { holdsPlatformRole, type Me } from '../api';
import { renderAlerts } from './alerts';
import { renderApiKeys } from './api-keys';
import { renderAudit } from './audit';
import { renderBackups } from './backups';
import { renderDeployments } from './deployments';
import { renderEnvironments } from './environments';
import { renderMaintenance } from './maintenance';
import { renderOrganizations } from './organizations';
import { renderOverview } from './overview';
import { renderPerformance } from './performance';
import { renderUsers } from './users';

/**
 * A page fills `main` and returns what stops its timers when another page replaces it.
 * `platformRole`: the platform role it needs (platform scope, README "Authority"), whatever the
 * user's role in their organization; `role`: the organization role it needs. The navigation
 * leaves a page out for users without them (the server would refuse every call it makes).
 */
export interface Page {
  id: string;
  title: string;
  platformRole?: 'operator' | 'admin';
  role?: Me['role'];
  render: (main: HTMLElement, me: Me) => () => void;
}

const RANK: Record<Me['role'], number> = { viewer: 0, operator: 1, admin: 2 };

/** Why `me` may not use `page`, in words; null when they may. */
export function refusal(page: Page, me: Me): string | null {
  if (page.platformRole && !holdsPlatformRole(me, page.platformRole))
    return page.platformRole === 'admin' ? 'for platform admins only' : 'for platform operators only';
  if (page.role && RANK[me.role] < RANK[page.role])
    return `for ${page.role === 'admin' ? 'admins' : 'operators and admins'} of your organization only`;
  return null;
}

export const pages: Page[] = [
  { id: 'overview', title: 'Overview', render: renderOverview },
  { id: 'api-keys', title: 'API keys', role: 'operator', render: renderApiKeys },
  { id: 'deployments', title: 'Deployments', render: renderDeployments },
  { id: 'environments', title: 'Environments', render: renderEnvironments },
  { id: 'backups', title: 'Backups', platformRole: 'operator', render: renderBackups },
  { id: 'users', title: 'Users and sessions', render: renderUsers },
  { id: 'audit', title: 'Audit log', role: 'admin', render: renderAudit },
  { id: 'performance', title: 'Performance', platformRole: 'operator', render: renderPerformance },
  { id: 'alerts', title: 'Alerts', platformRole: 'operator', render: renderAlerts },
  { id: 'maintenance', title: 'Maintenance', platformRole: 'operator', render: renderMaintenance },
  { id: 'organizations', title: 'Organizations', platformRole: 'admin', render: renderOrganizations },
];
