import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';
import type { ChallengePurpose, SecondFactorChallengeRow, TotpFactorRow } from './second-factors.table';
import { timeOf } from './sessions';

/** A user's TOTP factor, confirmed or still waiting for its first code. */
export async function findTotpFactor(
  db: Kysely<Database>,
  userId: string,
): Promise<TotpFactorRow | undefined> {
  return db.selectFrom('totp_factors').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/**
 * Stores a new secret waiting for confirmation, replacing a pending one. A confirmed factor is
 * left alone (returns false): replacing it takes a removal first, which asks for a code.
 */
export async function savePendingTotp(
  db: Kysely<Database>,
  factor: { userId: string; organizationId: string; secretSealed: string },
): Promise<boolean> {
  const result = await db
    .insertInto('totp_factors')
    .values({
      user_id: factor.userId,
      organization_id: factor.organizationId,
      secret_sealed: factor.secretSealed,
    })
    .onConflict((oc) =>
      oc
        .column('user_id')
        .doUpdateSet({ secret_sealed: factor.secretSealed, last_used_step: null })
        .where('totp_factors.confirmed_at', 'is', null),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/**
 * Records `step` as used, only if it is later than the last one used: of two requests with one
 * code, the second changes no row and is refused (RFC 6238 §5.2). Also confirms a pending factor
 * when `confirm` is set. Returns whether the step was taken.
 */
export async function takeTotpStep(
  db: Kysely<Database>,
  { userId, step, confirm }: { userId: string; step: number; confirm: boolean },
): Promise<boolean> {
  let query = db
    .updateTable('totp_factors')
    .set({ last_used_step: step })
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', String(step))]));
  query = confirm
    ? query.set({ confirmed_at: sql`now()` }).where('confirmed_at', 'is', null)
    : query.where('confirmed_at', 'is not', null);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteTotpFactor(db: Kysely<Database>, userId: string): Promise<boolean> {
  const result = await db.deleteFrom('totp_factors').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** Replaces a user's recovery codes with new ones (their hashes). */
export async function replaceRecoveryCodes(
  db: Kysely<Database>,
  userId: string,
  codeHashes: readonly string[],
): Promise<void> {
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  if (codeHashes.length === 0) return;
  await db
    .insertInto('recovery_codes')
    .values(codeHashes.map((hash) => ({ user_id: userId, code_hash: hash })))
    .execute();
}

/** Spends one unused recovery code; false when the code is unknown, used, or another user's. */
export async function useRecoveryCode(
  db: Kysely<Database>,
  userId: string,
  codeHash: string,
): Promise<boolean> {
  const result = await db
    .updateTable('recovery_codes')
    .set({ used_at: sql`now()` })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countUnusedRecoveryCodes(db: Kysely<Database>, userId: string): Promise<number> {
  const row = await db
    .selectFrom('recovery_codes')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

/** Opens a challenge, dropping the user's expired ones on the way. */
export async function insertChallenge(
  db: Kysely<Database>,
  challenge: {
    tokenHash: string;
    userId: string;
    organizationId: string;
    purpose: ChallengePurpose;
    ttlSeconds: number;
  },
): Promise<{ id: string; expires_at: Date }> {
  await db
    .deleteFrom('second_factor_challenges')
    .where('user_id', '=', challenge.userId)
    .where('expires_at', '<=', sql<Date>`now()`)
    .execute();
  return db
    .insertInto('second_factor_challenges')
    .values({
      token_hash: challenge.tokenHash,
      user_id: challenge.userId,
      organization_id: challenge.organizationId,
      purpose: challenge.purpose,
      expires_at: sql<Date>`now() + make_interval(secs => ${challenge.ttlSeconds}::float8)`,
    })
    .returning(['id', 'expires_at'])
    .executeTakeFirstOrThrow() as Promise<{ id: string; expires_at: Date }>;
}

/** A challenge and whether it can still be used, by the database's clock. */
export async function findChallenge(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<(SecondFactorChallengeRow & { usable: boolean }) | undefined> {
  return db
    .selectFrom('second_factor_challenges')
    .selectAll()
    .select(sql<boolean>`(used_at is null and expires_at > now())`.as('usable'))
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** A challenge and whether it can still be used, by the database's clock; row-locked until commit. */
export async function lockChallenge(
  db: Kysely<Database>,
  tokenHash: string,
  at?: Date,
): Promise<(SecondFactorChallengeRow & { usable: boolean }) | undefined> {
  return db
    .selectFrom('second_factor_challenges')
    .selectAll()
    .select(sql<boolean>`(used_at is null and expires_at > ${timeOf(at)})`.as('usable'))
    .where('token_hash', '=', tokenHash)
    .forUpdate()
    .executeTakeFirst();
}

/** Counts one wrong code against a challenge; returns the count. */
export async function recordChallengeFailure(db: Kysely<Database>, challengeId: string): Promise<number> {
  const row = await db
    .updateTable('second_factor_challenges')
    .set((eb) => ({ failures: eb('failures', '+', 1) }))
    .where('id', '=', challengeId)
    .returning('failures')
    .executeTakeFirstOrThrow();
  return row.failures;
}

/** Ends a challenge: it was used, or it saw too many wrong codes. */
export async function endChallenge(db: Kysely<Database>, challengeId: string): Promise<void> {
  await db
    .updateTable('second_factor_challenges')
    .set({ used_at: sql`now()` })
    .where('id', '=', challengeId)
    .execute();
}
