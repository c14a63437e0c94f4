import type { ColumnType, Generated, Selectable } from 'kysely';
import type { CreatedAt } from '../column-types';

export interface AuditEventsTable {
  id: Generated<string>;
  /** 'platform': an action on the installation, read by platform roles; else the organization's own. */
  scope: ColumnType<'organization' | 'platform', 'organization' | 'platform' | undefined, never>;
  organization_id: string | null;
  actor_user_id: string | null;
  actor_api_key_id: string | null;
  type: string;
  result: 'success' | 'failure';
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
  created_at: CreatedAt;
}

export type AuditEventRow = Selectable<AuditEventsTable>;
