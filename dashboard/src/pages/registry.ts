import { renderAlerts } from './alerts';
import { renderApiKeys } from './api-keys';
import { renderAudit } from './audit';
import { renderBackups } from './backups';
import { renderDeployments } from './deployments';
import { renderOverview } from './overview';
import { renderPerformance } from './performance';
import { renderUsers } from './users';

/** A page fills `main` and returns what stops its timers when another page replaces it. */
export interface Page {
  id: string;
  title: string;
  render: (main: HTMLElement) => () => void;
}

export const pages: Page[] = [
  { id: 'overview', title: 'Overview', render: renderOverview },
  { id: 'api-keys', title: 'API keys', render: renderApiKeys },
  { id: 'deployments', title: 'Deployments', render: renderDeployments },
  { id: 'backups', title: 'Backups', render: renderBackups },
  { id: 'users', title: 'Users and sessions', render: renderUsers },
  { id: 'audit', title: 'Audit log', render: renderAudit },
  { id: 'performance', title: 'Performance', render: renderPerformance },
  { id: 'alerts', title: 'Alerts', render: renderAlerts },
];
