import { type Kysely, sql } from 'kysely';
import type { PlatformRole, Role } from '../../shared/auth';
import type { Database } from '../database';
import type { OrganizationRow } from './organizations.table';

/** An organization with how many users it has, and its creation time exact to the microsecond. */
export interface ListedOrganization extends OrganizationRow {
  member_count: number;
  /** `created_at` as text with microseconds: JS dates drop the precision a cursor needs. */
  created_at_exact: string;
}

const EXACT_CREATED_AT = sql<string>`to_char(organizations.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

function withMembers(db: Kysely<Database>) {
  return db
    .selectFrom('organizations')
    .selectAll('organizations')
    .select((eb) => [
      eb
        .selectFrom('users')
        .select(eb.fn.countAll<string>().as('count'))
        .whereRef('users.organization_id', '=', 'organizations.id')
        .as('member_count'),
      EXACT_CREATED_AT.as('created_at_exact'),
    ]);
}

function counted(row: Omit<ListedOrganization, 'member_count'> & { member_count: string | null }) {
  return { ...row, member_count: Number(row.member_count ?? 0) };
}

/** One page of every organization, oldest first; `after` is the last row of the previous page. */
export async function listOrganizations(
  db: Kysely<Database>,
  { limit, after }: { limit: number; after?: { createdAt: string; id: string } },
): Promise<ListedOrganization[]> {
  let query = withMembers(db).orderBy('organizations.created_at').orderBy('organizations.id').limit(limit);
  if (after) {
    query = query.where(
      sql<boolean>`(organizations.created_at, organizations.id) > (${after.createdAt}::timestamptz, ${after.id}::uuid)`,
    );
  }
  return (await query.execute()).map(counted);
}

export async function findOrganization(
  db: Kysely<Database>,
  organizationId: string,
): Promise<ListedOrganization | undefined> {
  const row = await withMembers(db).where('organizations.id', '=', organizationId).executeTakeFirst();
  return row ? counted(row) : undefined;
}

/** The organization's row, locked until the transaction ends (suspend, resume, delete queue here). */
export async function lockOrganizationRow(
  db: Kysely<Database>,
  organizationId: string,
): Promise<OrganizationRow | undefined> {
  return db
    .selectFrom('organizations')
    .selectAll()
    .where('id', '=', organizationId)
    .forUpdate()
    .executeTakeFirst();
}

export async function renameOrganization(
  db: Kysely<Database>,
  organizationId: string,
  name: string,
): Promise<OrganizationRow | undefined> {
  return db
    .updateTable('organizations')
    .set({ name })
    .where('id', '=', organizationId)
    .returningAll()
    .executeTakeFirst();
}

/** Sets (a reason) or clears (null) the organization's suspension. */
export async function setOrganizationSuspension(
  db: Kysely<Database>,
  organizationId: string,
  reason: string | null,
): Promise<OrganizationRow> {
  return db
    .updateTable('organizations')
    .set(
      reason === null
        ? { suspended_at: null, suspended_reason: null }
        : { suspended_at: sql<Date>`now()`, suspended_reason: reason },
    )
    .where('id', '=', organizationId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Whether the organization's members must sign in with a second factor. */
export async function setSecondFactorRequirement(
  db: Kysely<Database>,
  organizationId: string,
  required: boolean,
): Promise<OrganizationRow | undefined> {
  return db
    .updateTable('organizations')
    .set({ require_second_factor: required })
    .where('id', '=', organizationId)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Deletes the organization; its users, sessions, keys, invitations, audit events, annotations,
 * alerts, environments and deployments go with it (the foreign keys cascade). Returns whether
 * a row was deleted.
 */
export async function deleteOrganization(db: Kysely<Database>, organizationId: string): Promise<boolean> {
  const result = await db.deleteFrom('organizations').where('id', '=', organizationId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** How many of the organization's users hold a platform role (such an organization is the platform's). */
export async function countPlatformMembers(db: Kysely<Database>, organizationId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('organization_id', '=', organizationId)
    .where('platform_role', 'is not', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** A user holding a platform role, with their organization's name. */
export interface PlatformMember {
  id: string;
  email: string;
  name: string;
  organization_id: string;
  organization_name: string;
  role: Role;
  platform_role: PlatformRole;
  disabled: boolean;
}

/** Every user holding a platform role, by email (few: the installation's own operators). */
export async function listPlatformMembers(db: Kysely<Database>): Promise<PlatformMember[]> {
  const rows = await db
    .selectFrom('users')
    .innerJoin('organizations', 'organizations.id', 'users.organization_id')
    .select([
      'users.id',
      'users.email',
      'users.name',
      'users.organization_id',
      'organizations.name as organization_name',
      'users.role',
      'users.platform_role',
      'users.disabled',
    ])
    .where('users.platform_role', 'is not', null)
    .orderBy('users.email')
    .execute();
  return rows.flatMap((row) => (row.platform_role ? [{ ...row, platform_role: row.platform_role }] : []));
}

/** Enabled users holding the platform admin role. */
export async function countEnabledPlatformAdmins(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('platform_role', '=', 'admin')
    .where('disabled', '=', false)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Sets a user's platform role (null: none); undefined when there is no such user. */
export async function setPlatformRole(
  db: Kysely<Database>,
  userId: string,
  platformRole: PlatformRole | null,
) {
  return db
    .updateTable('users')
    .set({ platform_role: platformRole, updated_at: sql<Date>`now()` })
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}
