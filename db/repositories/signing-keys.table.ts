import type { ColumnType, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp } from '../column-types';

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: ColumnType<Record<string, unknown>, string, never>;
  /** The private JWK sealed with AES-256-GCM; see server/services/auth/signing-keys.ts. */
  private_sealed: string;
  created_at: CreatedAt;
  /** When a newer key took over signing. */
  superseded_at: NullableTimestamp;
  /** After this, no token the key signed can be valid: it leaves the JWKS. */
  retire_at: NullableTimestamp;
}

export type SigningKeyRow = Selectable<SigningKeysTable>;
