import type { ColumnType, Generated, Selectable } from 'kysely';
import type { DeploymentEventType, DeploymentStatus } from '../../shared/devops-deployments';
import type { CreatedAt } from '../column-types';

export interface DeploymentEventsTable {
  id: Generated<string>;
  deployment_id: string;
  at: CreatedAt;
  type: DeploymentEventType;
  /** Set, with `to_status`, by the events that change the status. */
  from_status: DeploymentStatus | null;
  to_status: DeploymentStatus | null;
  step: number | null;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
}

export type DeploymentEventRow = Selectable<DeploymentEventsTable>;
