import { apiKeyUsage } from '../../../../shared/api-key-usage';
import {
  apiKeyPage,
  apiKeyVerification,
  apiKeyView,
  auditEventPage,
  issuedApiKey,
  issuedTokens,
  loginResult,
  rotatedApiKey,
  signingKeyRotation,
  userPage,
  userRemoved,
  userView,
  whoAmI,
} from '../../../../shared/auth';
import { restRoutes } from '../route';

const PAGED =
  'Paged: ask with `limit` (1-100, default 50) and, for the next page, the previous answer’s ' +
  '`nextCursor` as `cursor`; the answer is `{ items, nextCursor }`, `nextCursor` null on the last page.';

const AUDIT_FILTERS =
  'Filter by `type`, by actor (`actorUserId` or `actorApiKeyId`) and by time (`since` included, ' +
  '`until` not; ISO 8601). Each event names its actor (`actorName`, `actorEmail`, ' +
  '`actorApiKeyName`) and target (`targetName`) as they are now; null once deleted.';

/** REST routes of `auth.*` (docs/api.md, "REST"). */
export const authRoutes = restRoutes({
  'auth.login': {
    method: 'POST',
    path: '/auth/login',
    summary: 'Sign in with email and password: an access token, a refresh token and who you are',
    description:
      'Opens a session. Send the access token as `Authorization: Bearer …`; exchange the refresh ' +
      'token at `POST /auth/refresh` before the access token expires. Rate limited per address; ' +
      'a wrong email or password answers 401.',
    output: loginResult,
    refusals: ['UNAUTHORIZED'],
  },
  'auth.refresh': {
    method: 'POST',
    path: '/auth/refresh',
    summary: 'A refresh token for a new access token and the next refresh token',
    description:
      'Each refresh token works once: keep the one this answers for next time. Presenting a used ' +
      'one again ends the session. An unknown or expired token answers 401.',
    output: issuedTokens,
    refusals: ['UNAUTHORIZED'],
  },
  'auth.me': {
    method: 'GET',
    path: '/me',
    summary: 'Who the caller is: user or API key, organization, roles, key scopes',
    output: whoAmI,
  },
  'auth.users.create': {
    method: 'POST',
    path: '/users',
    summary: 'Create a user in your organization with an email, a password and a role',
    description: 'An email already taken (in any organization) answers 409.',
    output: userView,
    status: 201,
  },
  'auth.users.list': {
    method: 'GET',
    path: '/users',
    summary: 'The users of your organization, by email',
    description: PAGED,
    output: userPage,
  },
  'auth.users.update': {
    method: 'PATCH',
    path: '/users/{id}',
    summary: 'Rename a user or change their role (a role change ends their sessions)',
    description: 'Demoting the last enabled admin answers 409.',
    output: userView,
  },
  'auth.users.disable': {
    method: 'POST',
    path: '/users/{id}/disable',
    summary: 'Disable a user: their sessions end and their API keys stop working',
    description:
      'Nobody disables themselves (400); the last enabled admin or platform admin answers 409. ' +
      'Disabling a disabled user changes nothing.',
    output: userView,
  },
  'auth.users.remove': {
    method: 'DELETE',
    path: '/users/{id}',
    summary: 'Delete a user of your organization, with their sessions and API keys',
    description:
      'Nobody removes themselves (400); the last enabled admin, or a holder of a platform role, answers 409.',
    output: userRemoved,
  },
  'auth.apiKeys.create': {
    method: 'POST',
    path: '/api-keys',
    summary: 'Create an API key; the key itself is in this answer only',
    description:
      'Another owner than yourself needs the admin role; a key calling this may grant only scopes it holds.',
    output: issuedApiKey,
    status: 201,
  },
  'auth.apiKeys.list': {
    method: 'GET',
    path: '/api-keys',
    summary: 'The API keys of your organization, newest first (operators: their own)',
    description: `${PAGED} Admins may filter by \`ownerId\`.`,
    output: apiKeyPage,
  },
  'auth.apiKeys.get': {
    method: 'GET',
    path: '/api-keys/{id}',
    summary: 'One API key of your organization (operators: their own)',
    output: apiKeyView,
  },
  'auth.apiKeys.update': {
    method: 'PATCH',
    path: '/api-keys/{id}',
    summary: 'Change an API key’s name, scopes, expiry, uses, rate limits or enabled flag',
    description: 'A revoked key answers 409.',
    output: apiKeyView,
  },
  'auth.apiKeys.revoke': {
    method: 'POST',
    path: '/api-keys/{id}/revoke',
    summary: 'Revoke an API key for good (revoking a revoked key changes nothing)',
    output: apiKeyView,
  },
  'auth.apiKeys.rotate': {
    method: 'POST',
    path: '/api-keys/{id}/rotate',
    summary: 'Replace an API key by a new one with its settings; the old one works for a grace period',
    description: 'The new key is in this answer only. A revoked key, or one already rotated, answers 409.',
    output: rotatedApiKey,
  },
  'auth.apiKeys.usage': {
    method: 'GET',
    path: '/api-keys/{id}/usage',
    summary: 'Verifications of an API key over time by outcome, its last use and uses left',
    description:
      '`range` is `24h` (hourly buckets, the default), `7d` (6-hour buckets) or `30d` (daily buckets). ' +
      'Outcomes: `valid`, `rate_limited`, `usage_exceeded`, `insufficient_scope`, `expired`, ' +
      '`disabled` (the key, its owner or its organization) and `revoked`. Counts reach the database ' +
      'every few seconds from each instance. Operators: their own keys.',
    output: apiKeyUsage,
  },
  'auth.apiKeys.verify': {
    method: 'POST',
    path: '/api-keys/verify',
    summary: 'Check a key as a call would (spending its rate limits and uses): the code it gets',
    description:
      'Codes as Unkey’s: `VALID`, `NOT_FOUND`, `EXPIRED`, `DISABLED`, `RATE_LIMITED`, ' +
      '`USAGE_EXCEEDED`, `INSUFFICIENT_SCOPE` (with `scope`). A key of another organization is `NOT_FOUND`.',
    output: apiKeyVerification,
  },
  'auth.audit.list': {
    method: 'GET',
    path: '/audit-events',
    summary: 'Your organization’s audit log (security events), newest first, named and filtered',
    description: `${AUDIT_FILTERS} ${PAGED}`,
    output: auditEventPage,
  },
  'auth.audit.platform': {
    method: 'GET',
    path: '/platform/audit-events',
    summary: 'The platform’s audit log: actions on the installation and its organizations, newest first',
    description: `${AUDIT_FILTERS} ${PAGED}`,
    output: auditEventPage,
  },
  'auth.keys.rotate': {
    method: 'POST',
    path: '/platform/signing-keys/rotate',
    summary: 'Make a new JWT signing key sign from now on; the old one verifies until its tokens expire',
    output: signingKeyRotation,
  },
});
