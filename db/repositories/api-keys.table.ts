import type { ColumnType, Generated, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp, Timestamp } from '../column-types';

/** A named rate limit of an API key: `limit` requests per `periodMs`. */
export interface ApiKeyRateLimit {
  name: string;
  limit: number;
  periodMs: number;
}

export interface ApiKeysTable {
  id: Generated<string>;
  organization_id: string;
  owner_id: string;
  name: string;
  /** Hex SHA-256 of the whole key; the key itself is never stored. */
  key_hash: string;
  /** The key's first characters, for listings. */
  prefix: string;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  expires_at: NullableTimestamp;
  /** Uses left; null is unlimited. */
  remaining: number | null;
  rate_limits: ColumnType<ApiKeyRateLimit[], string | undefined, string>;
  enabled: Generated<boolean>;
  last_used_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: Timestamp;
  revoked_at: NullableTimestamp;
  replaced_by: string | null;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
