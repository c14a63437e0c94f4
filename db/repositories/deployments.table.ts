import type { ColumnType, Generated, Selectable } from 'kysely';
import type {
  DeploymentProviderRef,
  DeploymentSpec,
  DeploymentStatus,
  DeploymentStrategyName,
  StepState,
} from '../../shared/devops-deployments';
import type { CreatedAt, NullableTimestamp, Timestamp } from '../column-types';

export interface DeploymentsTable {
  id: Generated<string>;
  organization_id: string;
  service: string;
  environment: string;
  version: string;
  /** The version serving before this deployment; null for a service's first. */
  stable_version: string | null;
  strategy: DeploymentStrategyName;
  spec: ColumnType<DeploymentSpec, string, never>;
  provider: ColumnType<DeploymentProviderRef, string, never>;
  status: ColumnType<DeploymentStatus, DeploymentStatus | undefined, DeploymentStatus>;
  /** Index into the plan compiled from `spec` (server/services/deployments/plan.ts). */
  current_step: ColumnType<number, number | undefined, number>;
  step_state: ColumnType<StepState, string | undefined, string>;
  paused_reason: string | null;
  /** An abort or rollback the lease holder is to carry out. */
  requested_action: 'abort' | 'rollback' | null;
  requested_reason: string | null;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  finished_at: NullableTimestamp;
  /** The engine instance driving the deployment, until `lease_expires_at` (the database's clock). */
  lease_owner: string | null;
  lease_expires_at: NullableTimestamp;
}

export type DeploymentRow = Selectable<DeploymentsTable>;
