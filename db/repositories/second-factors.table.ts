import type { ColumnType, Generated, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp } from '../column-types';

/** A user's TOTP secret (RFC 6238), sealed; active once `confirmed_at` is set. */
export interface TotpFactorsTable {
  user_id: string;
  organization_id: string;
  /** Sealed under the key-encryption key (server/base/sealed-secret.ts), its context the user id. */
  secret_sealed: string;
  /** Null while the enrolment waits for its first valid code. */
  confirmed_at: NullableTimestamp;
  /** The last time step a code was accepted for; a code of that step or an earlier one is refused. */
  last_used_step: ColumnType<string | null, number | null | undefined, number | null>;
  created_at: CreatedAt;
}

export type TotpFactorRow = Selectable<TotpFactorsTable>;

/** One-time recovery codes: ten per user, each used once. */
export interface RecoveryCodesTable {
  id: Generated<string>;
  user_id: string;
  /** Hex SHA-256 of the code; the code itself is shown once. */
  code_hash: string;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

/** What a challenge lets its holder do: present a factor, or enrol one the organization requires. */
export type ChallengePurpose = 'verify' | 'enrol';

/** The short-lived, single-use step between a valid password and the second factor. */
export interface SecondFactorChallengesTable {
  id: Generated<string>;
  /** Hex SHA-256 of the challenge token. */
  token_hash: string;
  user_id: string;
  organization_id: string;
  purpose: ChallengePurpose;
  expires_at: Date | string;
  failures: Generated<number>;
  /** The WebAuthn challenge a passkey must sign for this sign-in, once asked for. */
  webauthn_challenge: ColumnType<string | null, string | null | undefined, string | null>;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

export type SecondFactorChallengeRow = Selectable<SecondFactorChallengesTable>;
