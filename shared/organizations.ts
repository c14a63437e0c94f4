import { z } from 'zod';
import { platformRole, role } from './auth';

// Inputs of organization management: the platform's (organizations, platform roles) and an
// organization admin's (invitations, removing members). See docs/organizations.md.

const id = z.uuid({ message: 'must be an id (a UUID)' });
const email = z
  .email({ message: 'must be an email address' })
  .max(254)
  .transform((value) => value.trim().toLowerCase());
// PostgreSQL text cannot hold NUL (U+0000): refused here with a 400, not by the database with a 500.
const noNul = (value: string) => !value.includes('\u0000');
const NO_NUL = 'must not contain NUL (U+0000) characters';
const name = z.string().trim().min(1).max(200).refine(noNul, NO_NUL);
const userName = z.string().trim().max(200).refine(noNul, NO_NUL);
const limit = z.number().int().min(1).max(100).default(50);
const cursor = z.string().max(200).optional();
/** As for every new password (shared/auth.ts): NIST SP 800-63B's floor rounded up. */
const newPassword = z.string().min(12, 'must be at least 12 characters').max(1024);

/** How long an invitation can be accepted: 72 hours unless said otherwise, 30 days at most. */
export const INVITATION_DEFAULT_HOURS = 72;
export const INVITATION_MAX_HOURS = 30 * 24;
const expiresInHours = z.number().int().min(1).max(INVITATION_MAX_HOURS).default(INVITATION_DEFAULT_HOURS);

/** A page request: `cursor` is the `nextCursor` of the previous page. */
export const pageInput = z.object({ limit, cursor }).default({ limit: 50 });

// --- Platform scope -----------------------------------------------------------------------------

/** A new organization and the invitation of its first admin. */
export const organizationCreateInput = z.object({
  name,
  admin: z.object({
    email,
    /** The first member is its admin: nobody else could invite the others. */
    role: z.literal('admin').default('admin'),
    expiresInHours,
  }),
});
export const organizationListInput = pageInput;
export const organizationIdInput = z.object({ id });
export const organizationRenameInput = z.object({ id, name });
export const organizationSuspendInput = z.object({
  id,
  /** Kept with the organization and in the platform's audit log; shown to platform roles only. */
  reason: z.string().trim().min(1).max(500).refine(noNul, NO_NUL),
});

/** Gives a user a platform role, changes it, or takes it away (null). */
export const platformRoleSetInput = z.object({ userId: id, platformRole: platformRole.nullable() });

// --- Organization scope -------------------------------------------------------------------------

export const INVITATION_STATUSES = ['pending', 'accepted', 'revoked', 'expired'] as const;
export type InvitationStatus = (typeof INVITATION_STATUSES)[number];

export const invitationCreateInput = z.object({ email, role, expiresInHours });
export const invitationListInput = pageInput;
export const invitationIdInput = z.object({ id });
export const invitationAcceptInput = z.object({
  /** `bc_inv_` and 43 base64url characters; anything else is refused like an unknown token. */
  token: z.string().max(128),
  password: newPassword,
  name: userName.optional(),
});
