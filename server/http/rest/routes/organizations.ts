import { z } from 'zod';
import { userView } from '../../../../shared/auth';
import {
  invitationAccepted,
  invitationPage,
  invitationView,
  issuedInvitation,
  organizationCreated,
  organizationDeleted,
  organizationPage,
  organizationSummary,
  platformMember,
} from '../../../../shared/organizations';
import { restRoutes } from '../route';

const PAGING =
  'Paged: pass `limit` and, for the next page, the previous answer’s `nextCursor` as `cursor`; ' +
  'the answer is `{ items, nextCursor }`, and a null `nextCursor` means the last page.';

/** REST routes of `auth.organizations.*`, `auth.platformRoles.*` and `auth.invitations.*` (docs/api.md, "REST"). */
export const organizationsRoutes = restRoutes({
  'auth.organizations.create': {
    method: 'POST',
    path: '/organizations',
    summary: 'Create an organization and invite its first admin',
    description:
      'The answer holds the invitation’s `token`, shown this once: hand it to the admin, who joins ' +
      'with POST /invitations/accept. An email that is already a user is refused (409).',
    output: organizationCreated,
    status: 201,
  },
  'auth.organizations.list': {
    method: 'GET',
    path: '/organizations',
    summary: 'Every organization of the installation, oldest first',
    description: PAGING,
    output: organizationPage,
  },
  'auth.organizations.get': {
    method: 'GET',
    path: '/organizations/{id}',
    summary: 'One organization, with its member count',
    output: organizationSummary,
  },
  'auth.organizations.rename': {
    method: 'PATCH',
    path: '/organizations/{id}',
    summary: 'Rename an organization',
    output: organizationSummary,
  },
  'auth.organizations.suspend': {
    method: 'POST',
    path: '/organizations/{id}/suspend',
    summary: 'Suspend an organization: its sign-ins, sessions and API keys are refused everywhere',
    description:
      'Suspending a suspended organization changes nothing. Your own organization is refused (400); ' +
      'one whose members hold platform roles too (409).',
    output: organizationSummary,
  },
  'auth.organizations.resume': {
    method: 'POST',
    path: '/organizations/{id}/resume',
    summary: 'Lift an organization’s suspension',
    output: organizationSummary,
  },
  'auth.organizations.delete': {
    method: 'DELETE',
    path: '/organizations/{id}',
    summary: 'Delete an organization and everything it owns (backups stay)',
    description:
      'Its sessions are revoked in the same transaction. Your own organization is refused (400); one ' +
      'whose members hold platform roles too (409).',
    output: organizationDeleted,
  },
  'auth.platformRoles.list': {
    method: 'GET',
    path: '/platform/roles',
    summary: 'Every holder of a platform role, with their organization',
    output: z.array(platformMember),
  },
  'auth.platformRoles.set': {
    method: 'PUT',
    path: '/platform/roles/{userId}',
    summary: 'Give a user a platform role, change it, or take it away (null)',
    description:
      'Ends the user’s sessions. Taking the role from the last enabled platform admin is refused (409).',
    output: userView,
  },
  'auth.invitations.create': {
    method: 'POST',
    path: '/invitations',
    summary: 'Invite an email into your organization with a role',
    description:
      'The answer holds the invitation’s `token`, shown this once. An email that is already a user, ' +
      'or has a pending invitation, is refused (409).',
    output: issuedInvitation,
    status: 201,
  },
  'auth.invitations.list': {
    method: 'GET',
    path: '/invitations',
    summary: 'Your organization’s invitations, newest first, whatever their status',
    description: PAGING,
    output: invitationPage,
  },
  'auth.invitations.revoke': {
    method: 'POST',
    path: '/invitations/{id}/revoke',
    summary: 'Revoke a pending invitation; revoking twice changes nothing',
    description: 'An accepted invitation is refused (409).',
    output: invitationView,
  },
  'auth.invitations.accept': {
    method: 'POST',
    path: '/invitations/accept',
    summary: 'Join an organization with an invitation’s token and a new password',
    description:
      'No credential needed: the token is one. Every unusable token (unknown, expired, revoked, used) ' +
      'gets the same 401; a suspended organization 403; an email taken meanwhile 409.',
    output: invitationAccepted,
    refusals: ['UNAUTHORIZED', 'FORBIDDEN'],
  },
});
