import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';
import type { PasskeyRow } from './passkeys.table';

export async function listPasskeys(db: Kysely<Database>, userId: string): Promise<PasskeyRow[]> {
  return db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
}

export async function countPasskeys(db: Kysely<Database>, userId: string): Promise<number> {
  const row = await db
    .selectFrom('passkeys')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

/** One of the user's passkeys; undefined for another user's, as for an unknown id. */
export async function findPasskey(
  db: Kysely<Database>,
  userId: string,
  credentialId: string,
): Promise<PasskeyRow | undefined> {
  return db
    .selectFrom('passkeys')
    .selectAll()
    .where('user_id', '=', userId)
    .where('id', '=', credentialId)
    .executeTakeFirst();
}

export async function insertPasskey(
  db: Kysely<Database>,
  passkey: {
    id: string;
    userId: string;
    organizationId: string;
    publicKey: Uint8Array;
    counter: number;
    transports: string[];
    name: string;
  },
): Promise<PasskeyRow> {
  return db
    .insertInto('passkeys')
    .values({
      id: passkey.id,
      user_id: passkey.userId,
      organization_id: passkey.organizationId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      transports: passkey.transports,
      name: passkey.name,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Records a use: the new signature counter, only if it went forward (or both are 0, for
 * authenticators that keep none). False means a counter that went back: a cloned authenticator.
 */
export async function recordPasskeyUse(
  db: Kysely<Database>,
  { id, userId, counter }: { id: string; userId: string; counter: number },
): Promise<boolean> {
  const result = await db
    .updateTable('passkeys')
    .set({ counter, last_used_at: sql`now()` })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    // 0 and 0: an authenticator that keeps no counter (WebAuthn §6.1.1).
    .where('counter', counter === 0 ? '=' : '<', counter === 0 ? '0' : String(counter))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deletePasskey(
  db: Kysely<Database>,
  userId: string,
  credentialId: string,
): Promise<boolean> {
  const result = await db
    .deleteFrom('passkeys')
    .where('user_id', '=', userId)
    .where('id', '=', credentialId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** Starts (or restarts) a registration: its challenge, valid `ttlSeconds`. */
export async function saveRegistrationChallenge(
  db: Kysely<Database>,
  { userId, challenge, ttlSeconds }: { userId: string; challenge: string; ttlSeconds: number },
): Promise<void> {
  const expires = sql<Date>`now() + make_interval(secs => ${ttlSeconds}::float8)`;
  await db
    .insertInto('passkey_registrations')
    .values({ user_id: userId, challenge, expires_at: expires })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ challenge, expires_at: expires }))
    .execute();
}

/** Takes the user's registration challenge (it works once), if it has not expired. */
export async function takeRegistrationChallenge(
  db: Kysely<Database>,
  userId: string,
): Promise<string | null> {
  const row = await db
    .deleteFrom('passkey_registrations')
    .where('user_id', '=', userId)
    .returning(['challenge', sql<boolean>`expires_at > now()`.as('live')])
    .executeTakeFirst();
  return row?.live ? row.challenge : null;
}

/** Remembers the WebAuthn challenge a sign-in challenge's passkey must sign. */
export async function setChallengeWebauthn(
  db: Kysely<Database>,
  challengeId: string,
  webauthnChallenge: string,
): Promise<void> {
  await db
    .updateTable('second_factor_challenges')
    .set({ webauthn_challenge: webauthnChallenge })
    .where('id', '=', challengeId)
    .execute();
}

/** Hands out a passwordless sign-in's challenge, dropping expired ones on the way. */
export async function insertSignInChallenge(
  db: Kysely<Database>,
  { challenge, ttlSeconds }: { challenge: string; ttlSeconds: number },
): Promise<void> {
  await db.deleteFrom('passkey_sign_ins').where('expires_at', '<=', sql<Date>`now()`).execute();
  await db
    .insertInto('passkey_sign_ins')
    .values({ challenge, expires_at: sql<Date>`now() + make_interval(secs => ${ttlSeconds}::float8)` })
    .execute();
}

/** Spends a passwordless sign-in's challenge: true once, if it was handed out and has not expired. */
export async function useSignInChallenge(db: Kysely<Database>, challenge: string): Promise<boolean> {
  const result = await db
    .updateTable('passkey_sign_ins')
    .set({ used_at: sql`now()` })
    .where('challenge', '=', challenge)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** A passkey by its credential id, whoever holds it (a passwordless sign-in learns the user from it). */
export async function findPasskeyById(
  db: Kysely<Database>,
  credentialId: string,
): Promise<PasskeyRow | undefined> {
  return db.selectFrom('passkeys').selectAll().where('id', '=', credentialId).executeTakeFirst();
}
