import type { ColumnType, Generated, Selectable } from 'kysely';
import type { CreatedAt } from '../column-types';

export interface EnvironmentsTable {
  id: Generated<string>;
  organization_id: string;
  /** Unique per organization; `^[a-z][a-z0-9-]{0,62}$`. */
  name: string;
  description: Generated<string>;
  /** Stricter configuration rules, and no change without the revision it replaces. */
  protected: Generated<boolean>;
  created_at: CreatedAt;
}

export type EnvironmentRow = Selectable<EnvironmentsTable>;

/** A secret of a configuration revision: sealed with AES-256-GCM, and a keyed fingerprint. */
export interface SealedConfigSecret {
  sealed: string;
  /** HMAC-SHA256 prefix under a key derived from the key-encryption key: equal values, equal fingerprints. */
  fingerprint: string;
}

/** Append-only: an environment's current configuration is its highest revision. */
export interface ConfigRevisionsTable {
  id: Generated<string>;
  environment_id: string;
  /** 1, 2, 3… per environment, unique with it. */
  revision: number;
  values: ColumnType<Record<string, string | number | boolean>, string, never>;
  secrets: ColumnType<Record<string, SealedConfigSecret>, string, never>;
  author_user_id: string | null;
  author_api_key_id: string | null;
  message: Generated<string>;
  created_at: CreatedAt;
  /** On a rollback: the revision whose content this one restored. */
  rolled_back_from: number | null;
}

export type ConfigRevisionRow = Selectable<ConfigRevisionsTable>;
