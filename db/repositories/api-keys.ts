import { type Kysely, sql } from 'kysely';
import type { PlatformRole, Role } from '../../shared/auth';
import { prepareQuery } from '../compiled-query';
import type { Database } from '../database';
import type { ApiKeyRateLimit, ApiKeyRow } from './api-keys.table';

/** A key's owner as verification and creation need it. */
export interface ApiKeyOwner {
  id: string;
  role: Role;
  disabled: boolean;
}

/** A key row with what verification needs to know about its owner. */
export interface ApiKeyWithOwner extends ApiKeyRow {
  owner_role: Role;
  owner_platform_role: PlatformRole | null;
  owner_disabled: boolean;
  /** Set while the key's organization is suspended: the key is then refused as DISABLED. */
  organization_suspended_at: Date | null;
}

/** A listed row and its exact creation time, as text: JS dates drop the microseconds a cursor needs. */
export type ListedApiKey = ApiKeyRow & { created_at_exact: string };

export interface NewApiKeyValues {
  organization_id: string;
  owner_id: string;
  name: string;
  key_hash: string;
  prefix: string;
  scopes: string[];
  expires_at: Date | null;
  remaining: number | null;
  rate_limits: ApiKeyRateLimit[];
  enabled: boolean;
}

export interface ApiKeyChanges {
  name?: string;
  scopes?: string[];
  expires_at?: Date | null;
  remaining?: number | null;
  rate_limits?: ApiKeyRateLimit[];
  enabled?: boolean;
}

/** The user `userId` if they belong to `organizationId`. */
export function findOwnerInOrganization(
  db: Kysely<Database>,
  userId: string,
  organizationId: string,
): Promise<ApiKeyOwner | undefined> {
  return db
    .selectFrom('users')
    .select(['id', 'role', 'disabled'])
    .where('id', '=', userId)
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
}

export function insertApiKey(db: Kysely<Database>, values: NewApiKeyValues): Promise<ApiKeyRow> {
  return db
    .insertInto('api_keys')
    .values({ ...values, rate_limits: JSON.stringify(values.rate_limits) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

// The hot reads, compiled once (db/compiled-query.ts): `auth.apiKeys.get` is one of these per call.
const keyInOrganization = prepareQuery(2, (db, id: string, organizationId: string) =>
  db.selectFrom('api_keys').selectAll().where('id', '=', id).where('organization_id', '=', organizationId),
);
const keyInOrganizationForUpdate = prepareQuery(2, (db, id: string, organizationId: string) =>
  db
    .selectFrom('api_keys')
    .selectAll()
    .where('id', '=', id)
    .where('organization_id', '=', organizationId)
    .forUpdate(),
);

/** One key of an organization; `forUpdate` locks its row until the transaction ends. */
export function findApiKeyInOrganization(
  db: Kysely<Database>,
  id: string,
  organizationId: string,
  { forUpdate = false }: { forUpdate?: boolean } = {},
): Promise<ApiKeyRow | undefined> {
  return (forUpdate ? keyInOrganizationForUpdate : keyInOrganization).executeTakeFirst(
    db,
    id,
    organizationId,
  );
}

/**
 * An organization's keys, newest first, `limit` at a time. `after` is the last row of the
 * previous page: its exact creation time and its id, which breaks ties.
 */
export function listApiKeys(
  db: Kysely<Database>,
  organizationId: string,
  { ownerId, limit, after }: { ownerId?: string; limit: number; after?: { createdAt: string; id: string } },
): Promise<ListedApiKey[]> {
  let query = db
    .selectFrom('api_keys')
    .selectAll()
    .select(
      sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as(
        'created_at_exact',
      ),
    )
    .where('organization_id', '=', organizationId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit);
  if (ownerId) query = query.where('owner_id', '=', ownerId);
  if (after)
    query = query.where(
      sql<boolean>`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`,
    );
  return query.execute();
}

/** Applies `changes` to a key that is not revoked; undefined when there is no such key. */
export function updateApiKey(
  db: Kysely<Database>,
  id: string,
  organizationId: string,
  changes: ApiKeyChanges,
): Promise<ApiKeyRow | undefined> {
  const { rate_limits, ...rest } = changes;
  return db
    .updateTable('api_keys')
    .set({
      ...rest,
      ...(rate_limits ? { rate_limits: JSON.stringify(rate_limits) } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', id)
    .where('organization_id', '=', organizationId)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** Revokes a key that is not revoked yet; undefined when there is no such key. */
export function revokeApiKey(
  db: Kysely<Database>,
  id: string,
  organizationId: string,
): Promise<ApiKeyRow | undefined> {
  return db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('organization_id', '=', organizationId)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Marks `id` as replaced by `replacementId` and ends its life at most `graceSeconds` from now
 * (an earlier expiry stays: a rotation never extends a key).
 */
export function markApiKeyReplaced(
  db: Kysely<Database>,
  id: string,
  replacementId: string,
  graceSeconds: number,
): Promise<ApiKeyRow> {
  return db
    .updateTable('api_keys')
    .set({
      replaced_by: replacementId,
      expires_at: sql<Date>`least(expires_at, now() + make_interval(secs => ${graceSeconds}))`,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The key whose hash is `keyHash`, revoked or not, with its owner's role and status. */
export function findApiKeyByHash(
  db: Kysely<Database>,
  keyHash: string,
): Promise<ApiKeyWithOwner | undefined> {
  return keyByHash.executeTakeFirst(db, keyHash);
}

// Every verification that misses the cache (a new key, one expired from it, an unknown one).
const keyByHash = prepareQuery(1, (db, keyHash: string) =>
  db
    .selectFrom('api_keys')
    .innerJoin('users', 'users.id', 'api_keys.owner_id')
    .innerJoin('organizations', 'organizations.id', 'api_keys.organization_id')
    .selectAll('api_keys')
    .select([
      'users.role as owner_role',
      'users.platform_role as owner_platform_role',
      'users.disabled as owner_disabled',
      'organizations.suspended_at as organization_suspended_at',
    ])
    .where('api_keys.key_hash', '=', keyHash),
);

/**
 * Spends one use of a key with limited uses, in one statement: concurrent verifications are
 * applied one after the other on the row lock, so no use is ever spent twice. Returns the uses
 * left after this one, or null when none was left.
 */
export async function consumeApiKeyUse(db: Kysely<Database>, id: string): Promise<number | null> {
  const row = await db
    .updateTable('api_keys')
    .set({ remaining: sql<number>`remaining - 1` })
    .where('id', '=', id)
    .where('remaining', '>', 0)
    .returning('remaining')
    .executeTakeFirst();
  return row?.remaining ?? null;
}

/** Sets last_used_at of many keys in one statement; a later time already stored is kept. */
export async function recordApiKeyUsage(
  db: Kysely<Database>,
  usage: { ids: string[]; usedAt: string[] },
): Promise<void> {
  if (usage.ids.length === 0) return;
  await sql`
    update api_keys as k
    set last_used_at = greatest(k.last_used_at, u.used_at)
    from unnest(${usage.ids}::uuid[], ${usage.usedAt}::timestamptz[]) as u(id, used_at)
    where k.id = u.id
  `.execute(db);
}
