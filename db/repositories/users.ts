import { type Kysely, sql } from 'kysely';
import type { PlatformRole, Role } from '../../shared/auth';
import type { Database } from '../database';
import type { OrganizationRow } from './organizations.table';
import type { UserRow } from './users.table';

export type { OrganizationRow };

export async function insertOrganization(db: Kysely<Database>, name: string): Promise<OrganizationRow> {
  return db.insertInto('organizations').values({ name }).returningAll().executeTakeFirstOrThrow();
}

/** Takes the organization's row lock: the one mutex for changes to its set of enabled admins. */
export async function lockOrganization(db: Kysely<Database>, organizationId: string): Promise<void> {
  await db
    .selectFrom('organizations')
    .select('id')
    .where('id', '=', organizationId)
    .forUpdate()
    .executeTakeFirst();
}

/** Whether the organization is suspended (a missing one counts as suspended: nobody acts in it). */
export async function isOrganizationSuspended(
  db: Kysely<Database>,
  organizationId: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('organizations')
    .select('suspended_at')
    .where('id', '=', organizationId)
    .executeTakeFirst();
  return !row || row.suspended_at !== null;
}

/** `email` must already be normalised (lower-case, trimmed): the unique index is on the stored form. */
export async function findUserByEmail(db: Kysely<Database>, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findUserInOrganization(
  db: Kysely<Database>,
  organizationId: string,
  userId: string,
): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('id', '=', userId)
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
}

export async function findUserById(db: Kysely<Database>, userId: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
}

/** One page of an organization's users ordered by email (unique, so it doubles as the cursor). */
export async function listUsersInOrganization(
  db: Kysely<Database>,
  organizationId: string,
  { limit, afterEmail }: { limit: number; afterEmail?: string },
): Promise<UserRow[]> {
  let query = db
    .selectFrom('users')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .orderBy('email')
    .limit(limit);
  if (afterEmail !== undefined) query = query.where('email', '>', afterEmail);
  return query.execute();
}

export interface NewUser {
  organizationId: string;
  email: string;
  name: string;
  passwordHash: string;
  role: Role;
  /** Absent: none. */
  platformRole?: PlatformRole | null;
}

/** Inserts a user; undefined when the email is taken (by any organization: emails are global). */
export async function insertUser(db: Kysely<Database>, user: NewUser): Promise<UserRow | undefined> {
  return db
    .insertInto('users')
    .values({
      organization_id: user.organizationId,
      email: user.email,
      name: user.name,
      password_hash: user.passwordHash,
      role: user.role,
      platform_role: user.platformRole ?? null,
    })
    .onConflict((oc) => oc.column('email').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function updateUser(
  db: Kysely<Database>,
  userId: string,
  changes: { name?: string; role?: Role; disabled?: boolean },
): Promise<UserRow> {
  return db
    .updateTable('users')
    .set({ ...changes, updated_at: sql<Date>`now()` })
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Deletes a user of the organization who holds no platform role (their sessions and keys
 * cascade). Returns whether a row was deleted: false also when a platform role was granted
 * meanwhile, which the caller then refuses.
 */
export async function deleteUserWithoutPlatformRole(
  db: Kysely<Database>,
  organizationId: string,
  userId: string,
): Promise<boolean> {
  const result = await db
    .deleteFrom('users')
    .where('id', '=', userId)
    .where('organization_id', '=', organizationId)
    .where('platform_role', 'is', null)
    .executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/**
 * Replaces a password hash only if it is still `previousHash`, so a rehash on login can never
 * overwrite a password changed meanwhile. `passwordChanged` distinguishes a new password (which
 * moves password_changed_at) from the same password stored at stronger parameters.
 * Returns whether the row was updated.
 */
export async function replacePasswordHash(
  db: Kysely<Database>,
  userId: string,
  { hash, previousHash, passwordChanged }: { hash: string; previousHash: string; passwordChanged: boolean },
): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set(
      passwordChanged
        ? { password_hash: hash, password_changed_at: sql<Date>`now()`, updated_at: sql<Date>`now()` }
        : { password_hash: hash },
    )
    .where('id', '=', userId)
    .where('password_hash', '=', previousHash)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countEnabledAdmins(db: Kysely<Database>, organizationId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('organization_id', '=', organizationId)
    .where('role', '=', 'admin')
    .where('disabled', '=', false)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/**
 * Whether anyone holds a platform role. Taken under the advisory lock of `lockPlatformBootstrap`,
 * so that of instances bootstrapping at once only the first makes a platform admin.
 */
export async function hasPlatformAdmin(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('platform_role', '=', 'admin')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** A transaction-scoped lock serialising the bootstrap of the first platform admin. */
export async function lockPlatformBootstrap(db: Kysely<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('beauty-crafter/platform-bootstrap'))`.execute(db);
}

/** Whether any user exists at all (a fresh installation has none until the first admin). */
export async function hasAnyUser(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  return row !== undefined;
}
