import { z } from 'zod';
import { platformRole, role, userView } from './auth';
import { pageSchema } from './pagination';

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

// What the organization procedures answer (the REST reference's response schemas,
// server/http/rest/). Dates travel as ISO 8601 strings.
const dateTime = z.string().describe('ISO 8601 date-time');

/** An organization as the platform's roles see it. */
export const organizationSummary = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: dateTime,
  suspendedAt: dateTime.nullable(),
  /** Shown to platform roles only. */
  suspendedReason: z.string().nullable(),
  memberCount: z.number().int(),
});

/** `auth.organizations.list`: one page, oldest first. */
export const organizationPage = pageSchema(organizationSummary);

/** An invitation as the API shows it: never its token, nor the token's hash. */
export const invitationView = z.object({
  id: z.string(),
  organizationId: z.string(),
  email: z.string(),
  role,
  status: z.enum(INVITATION_STATUSES),
  expiresAt: dateTime,
  createdAt: dateTime,
  /** The inviting user; null when they were removed since. */
  invitedBy: z.string().nullable(),
  acceptedAt: dateTime.nullable(),
  acceptedUserId: z.string().nullable(),
  revokedAt: dateTime.nullable(),
});

/** A new invitation with its token (`bc_inv_…`): shown this once, only its SHA-256 is kept. */
export const issuedInvitation = z.object({ invitation: invitationView, token: z.string() });

/** `auth.invitations.list`: one page, newest first. */
export const invitationPage = pageSchema(invitationView);

/** `auth.organizations.create`: the organization and its first admin's invitation. */
export const organizationCreated = issuedInvitation.extend({ organization: organizationSummary });

/** `auth.organizations.delete`: what went with it. */
export const organizationDeleted = z.object({
  id: z.string(),
  deleted: z.literal(true),
  members: z.number().int(),
  revokedSessions: z.number().int(),
});

/** A holder of a platform role, with the organization they belong to. */
export const platformMember = z.object({
  userId: z.string(),
  email: z.string(),
  name: z.string(),
  organizationId: z.string(),
  organizationName: z.string(),
  platformRole,
  disabled: z.boolean(),
});

/** `auth.invitations.accept`: the new user and the organization they joined. */
export const invitationAccepted = z.object({ user: userView, organizationId: z.string() });
