import type { Generated, Selectable } from 'kysely';
import type { Role } from '../../shared/auth';
import type { CreatedAt, NullableTimestamp } from '../column-types';

/** An invitation to join an organization: accepted once, before it expires, unless revoked. */
export interface InvitationsTable {
  id: Generated<string>;
  organization_id: string;
  /** Lower-cased, like users.email. */
  email: string;
  role: Role;
  /** Hex SHA-256 of the token; the token itself is shown once and never stored. */
  token_hash: string;
  expires_at: Date | string;
  invited_by: string | null;
  created_at: CreatedAt;
  accepted_at: NullableTimestamp;
  accepted_user_id: string | null;
  revoked_at: NullableTimestamp;
}

export type InvitationRow = Selectable<InvitationsTable>;
