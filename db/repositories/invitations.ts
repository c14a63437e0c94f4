import { type Kysely, sql } from 'kysely';
import type { Role } from '../../shared/auth';
import type { Database } from '../database';
import type { InvitationRow } from './invitations.table';

/** An invitation as listings show it: its creation time exact to the microsecond, and its state. */
export interface ListedInvitation extends InvitationRow {
  /** `created_at` as text with microseconds: JS dates drop the precision a cursor needs. */
  created_at_exact: string;
  /** Whether it has expired, by the database's clock (instances' clocks may disagree). */
  expired: boolean;
}

export interface NewInvitation {
  organizationId: string;
  email: string;
  role: Role;
  tokenHash: string;
  expiresInHours: number;
  invitedBy: string | null;
}

export async function insertInvitation(
  db: Kysely<Database>,
  invitation: NewInvitation,
): Promise<ListedInvitation> {
  const row = await db
    .insertInto('invitations')
    .values({
      organization_id: invitation.organizationId,
      email: invitation.email,
      role: invitation.role,
      token_hash: invitation.tokenHash,
      expires_at: sql<Date>`now() + make_interval(hours => ${invitation.expiresInHours}::int)`,
      invited_by: invitation.invitedBy,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const inserted = await findInvitation(db, invitation.organizationId, row.id);
  if (!inserted) throw new Error('an invitation vanished as it was inserted');
  return inserted;
}

function listed(db: Kysely<Database>) {
  return db
    .selectFrom('invitations')
    .selectAll()
    .select([
      sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as(
        'created_at_exact',
      ),
      sql<boolean>`expires_at <= now()`.as('expired'),
    ]);
}

/** One invitation of the organization; undefined for another organization's, as for an unknown id. */
export async function findInvitation(
  db: Kysely<Database>,
  organizationId: string,
  invitationId: string,
): Promise<ListedInvitation | undefined> {
  return listed(db)
    .where('id', '=', invitationId)
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
}

/** One page of the organization's invitations, newest first; `after` is the previous page's last. */
export async function listInvitations(
  db: Kysely<Database>,
  organizationId: string,
  { limit, after }: { limit: number; after?: { createdAt: string; id: string } },
): Promise<ListedInvitation[]> {
  let query = listed(db)
    .where('organization_id', '=', organizationId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit);
  if (after) {
    query = query.where(
      sql<boolean>`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`,
    );
  }
  return query.execute();
}

/** Whether the organization has an invitation for `email` that could still be accepted. */
export async function hasPendingInvitation(
  db: Kysely<Database>,
  organizationId: string,
  email: string,
): Promise<boolean> {
  const row = await db
    .selectFrom('invitations')
    .select('id')
    .where('organization_id', '=', organizationId)
    .where('email', '=', email)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Revokes an invitation not yet accepted nor revoked; undefined when there was none such. */
export async function revokeInvitation(
  db: Kysely<Database>,
  organizationId: string,
  invitationId: string,
): Promise<InvitationRow | undefined> {
  return db
    .updateTable('invitations')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', invitationId)
    .where('organization_id', '=', organizationId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** An invitation found by its token, with its organization's state, as acceptance needs it. */
export interface InvitationToAccept extends InvitationRow {
  expired: boolean;
  organization_suspended_at: Date | null;
}

/**
 * Finds an invitation by the hash of its token; with `forUpdate`, locks its row until the
 * transaction ends, so two acceptances of one token are decided one after the other.
 */
export async function findInvitationByTokenHash(
  db: Kysely<Database>,
  tokenHash: string,
  { forUpdate = false }: { forUpdate?: boolean } = {},
): Promise<InvitationToAccept | undefined> {
  const query = db
    .selectFrom('invitations')
    .innerJoin('organizations', 'organizations.id', 'invitations.organization_id')
    .selectAll('invitations')
    .select([
      sql<boolean>`invitations.expires_at <= now()`.as('expired'),
      'organizations.suspended_at as organization_suspended_at',
    ])
    .where('invitations.token_hash', '=', tokenHash);
  return (forUpdate ? query.forUpdate('invitations') : query).executeTakeFirst();
}

/** Marks an invitation accepted by `userId`. */
export async function markInvitationAccepted(
  db: Kysely<Database>,
  invitationId: string,
  userId: string,
): Promise<InvitationRow> {
  return db
    .updateTable('invitations')
    .set({ accepted_at: sql<Date>`now()`, accepted_user_id: userId })
    .where('id', '=', invitationId)
    .returningAll()
    .executeTakeFirstOrThrow();
}
