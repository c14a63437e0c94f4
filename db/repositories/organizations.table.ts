import type { Generated, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp } from '../column-types';

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  created_at: CreatedAt;
  /** Set while suspended: its sessions and keys are refused, its users cannot sign in. */
  suspended_at: NullableTimestamp;
  suspended_reason: string | null;
}

export type OrganizationRow = Selectable<OrganizationsTable>;
