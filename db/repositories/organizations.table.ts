import type { Generated, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp } from '../column-types';

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  created_at: CreatedAt;
  /** Set while suspended: its sessions and keys are refused, its users cannot sign in. */
  suspended_at: NullableTimestamp;
  suspended_reason: string | null;
  /** Its members must sign in with a second factor (and enrol one at their next sign-in). */
  require_second_factor: Generated<boolean>;
}

export type OrganizationRow = Selectable<OrganizationsTable>;
