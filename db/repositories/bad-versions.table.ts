import type { Selectable } from 'kysely';
import type { CreatedAt } from '../column-types';

/** A version that neither a new deployment nor a rollback may go to. */
export interface BadVersionsTable {
  organization_id: string;
  service: string;
  environment: string;
  version: string;
  marked_at: CreatedAt;
  reason: string;
  deployment_id: string | null;
}

export type BadVersionRow = Selectable<BadVersionsTable>;
