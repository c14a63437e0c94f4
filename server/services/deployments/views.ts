import type { DeploymentEventRow } from '../../../db/repositories/deployment-events.table';
import type { DeploymentRow } from '../../../db/repositories/deployments.table';
import type { Deployment, DeploymentEvent } from '../../../shared/devops-deployments';
import { compilePlan } from './plan';
import { redactConfig } from './sealed-config';

/** A deployment row as the procedures answer it. */
export function toDeployment(row: DeploymentRow): Deployment {
  return {
    id: row.id,
    service: row.service,
    environment: row.environment,
    version: row.version,
    stableVersion: row.stable_version,
    strategy: row.strategy,
    spec: row.spec,
    provider: { kind: row.provider.kind, config: redactConfig(row.provider.config) },
    status: row.status,
    plan: compilePlan(row.spec),
    currentStep: row.current_step,
    stepState: row.step_state,
    pausedReason: row.paused_reason,
    requestedAction: row.requested_action,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    finishedAt: row.finished_at === null ? null : iso(row.finished_at),
  };
}

export function toDeploymentEvent(row: DeploymentEventRow): DeploymentEvent {
  return {
    id: String(row.id),
    at: iso(row.at),
    type: row.type,
    fromStatus: row.from_status,
    toStatus: row.to_status,
    step: row.step,
    details: row.details,
  };
}

function iso(value: Date | string): string {
  return new Date(value).toISOString();
}
