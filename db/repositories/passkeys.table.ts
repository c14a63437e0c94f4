import type { ColumnType, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp } from '../column-types';

/** A user's WebAuthn credential (a passkey), a second factor beside TOTP. */
export interface PasskeysTable {
  /** The credential id, base64url. */
  id: string;
  user_id: string;
  organization_id: string;
  /** The COSE-encoded public key. */
  public_key: Uint8Array;
  /** The authenticator's signature counter; bigint, read as a string. */
  counter: ColumnType<string, number | undefined, number>;
  transports: ColumnType<string[], string[] | undefined, string[]>;
  name: string;
  created_at: CreatedAt;
  last_used_at: NullableTimestamp;
}

export type PasskeyRow = Selectable<PasskeysTable>;

/** A passwordless sign-in's WebAuthn challenge, handed out before anyone is known; used once. */
export interface PasskeySignInsTable {
  challenge: string;
  expires_at: Date | string;
  used_at: NullableTimestamp;
}

/** The challenge of a passkey registration in progress, one per user. */
export interface PasskeyRegistrationsTable {
  user_id: string;
  challenge: string;
  expires_at: Date | string;
}
