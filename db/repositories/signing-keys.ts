import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';
import type { SigningKeyRow } from './signing-keys.table';

// Serialises key creation and rotation across instances: any fixed number other code does not
// lock on will do; this one is "jwks" in ASCII.
const SIGNING_KEYS_LOCK = 0x6a776b73;

/** A new signing key, its public JWK as JSON and its private JWK already sealed. */
export interface NewSigningKey {
  kid: string;
  alg: string;
  public_jwk: string;
  private_sealed: string;
  created_at: Date;
}

/** Every stored key, newest first. */
export function selectSigningKeys(db: Kysely<Database>): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('kid').execute();
}

/** Takes the transaction's lock on key creation and rotation; released when the transaction ends. */
export async function lockSigningKeys(trx: Kysely<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${SIGNING_KEYS_LOCK}::bigint)`.execute(trx);
}

export async function insertSigningKey(db: Kysely<Database>, values: NewSigningKey): Promise<void> {
  await db.insertInto('signing_keys').values(values).execute();
}

/** Marks the signing key (every key not yet superseded) superseded at `at`, verifying until `retireAt`. */
export async function supersedeSigningKeys(
  db: Kysely<Database>,
  { at, retireAt }: { at: Date; retireAt: Date },
): Promise<void> {
  await db
    .updateTable('signing_keys')
    .set({ superseded_at: at, retire_at: retireAt })
    .where('superseded_at', 'is', null)
    .execute();
}

/** Deletes the keys whose retire_at is at or before `now`; returns how many. */
export async function deleteRetiredSigningKeys(db: Kysely<Database>, now: Date): Promise<number> {
  const deleted = await db.deleteFrom('signing_keys').where('retire_at', '<=', now).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
