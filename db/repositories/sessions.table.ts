import type { ColumnType, Generated, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp, Timestamp } from '../column-types';

/** One login on one device: a refresh-token family. */
export interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  organization_id: string;
  created_at: CreatedAt;
  last_used_at: Timestamp;
  /** Absolute end of the session; the idle timeout counts from last_used_at. */
  expires_at: Date | string;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
  ip: string | null;
  user_agent: string | null;
  /** RFC 8176 methods the session was opened with (`pwd`, `otp`), copied into its access tokens. */
  amr: ColumnType<string[], string[] | undefined, string[]>;
}

export type SessionRow = Selectable<SessionsTable>;

/** A deleted session, remembered for a day (the longest access-token lifetime): its tokens stay refused. */
export interface SessionTombstonesTable {
  id: string;
  revoked_at: Date | string;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  session_id: string;
  /** Hex SHA-256 of the token; the token itself is never stored. */
  token_hash: string;
  parent_id: string | null;
  created_at: CreatedAt;
  /** When this token's child was issued; null while it is the family's current token. */
  rotated_at: NullableTimestamp;
}

export type RefreshTokenRow = Selectable<RefreshTokensTable>;
