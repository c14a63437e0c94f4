import { randomBytes } from 'node:crypto';
import { API_KEY_SCOPES, type ApiKeyScope, type Role } from '../../shared/auth';
import type { TestApp } from './app';

/** A user made for a test, with what it takes to call as them. */
export interface TestUser {
  id: string;
  organizationId: string;
  email: string;
  password: string;
  role: Role;
}

/** Headers of a signed-in user: an access token from a real login. */
export interface SignedIn {
  user: TestUser;
  headers: { authorization: string };
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

/**
 * Creates an organization with its own first admin, through the real service. Returns that admin;
 * make more users of the organization with `createUser`.
 */
export async function createOrganization(t: TestApp): Promise<TestUser> {
  const email = `admin-${randomBytes(4).toString('hex')}@org.test`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const { userId } = await t.deps.auth.users.ensureAdmin({
    email,
    password,
    organizationName: `Org ${email}`,
  });
  const row = await t.deps.database.db
    .selectFrom('users')
    .select('organization_id')
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  return { id: userId, organizationId: row.organization_id, email, password, role: 'admin' };
}

/** Creates a user with `role` in the organization of `admin` (the test app's first admin by default). */
export async function createUser(t: TestApp, role: Role, admin?: TestUser): Promise<TestUser> {
  const actor = admin
    ? {
        kind: 'user' as const,
        userId: admin.id,
        organizationId: admin.organizationId,
        role: admin.role,
        platformRole: null,
        sessionId: 'test',
      }
    : {
        kind: 'user' as const,
        userId: t.adminUser.id,
        organizationId: t.adminUser.organizationId,
        role: 'admin' as const,
        platformRole: 'admin' as const,
        sessionId: 'test',
      };
  const email = `${role}-${randomBytes(4).toString('hex')}@org.test`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const view = await t.deps.auth.users.create(actor, { email, password, role });
  return { id: view.id, organizationId: actor.organizationId, email, password, role };
}

/**
 * A user of the platform's own organization holding `platformRole` (and the organization role
 * `role`, viewer by default), granted through the real service as the first admin would.
 */
export async function createPlatformUser(
  t: TestApp,
  platformRole: 'operator' | 'admin',
  role: Role = 'viewer',
): Promise<TestUser> {
  const user = await createUser(t, role);
  await t.deps.auth.organizations.setPlatformRole(platformAdminActor(t), user.id, platformRole);
  return user;
}

/** The test app's first admin (the platform admin) acting in process, as the services take it. */
export function platformAdminActor(t: TestApp) {
  return {
    kind: 'user' as const,
    userId: t.adminUser.id,
    organizationId: t.adminUser.organizationId,
    role: 'admin' as const,
    platformRole: 'admin' as const,
    sessionId: 'test',
  };
}

/** Signs in over HTTP as a non-browser client (the refresh token comes in the body). */
export async function login(t: TestApp, user: TestUser): Promise<SignedIn> {
  const response = await t.app.request('/api/trpc/auth.login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: user.email, password: user.password }),
  });
  const body = (await response.json()) as {
    result?: { data?: { accessToken: string; refreshToken: string; session: { id: string } } };
  };
  const data = body.result?.data;
  if (!data) throw new Error(`login failed: ${response.status} ${JSON.stringify(body)}`);
  return {
    user,
    headers: { authorization: `Bearer ${data.accessToken}` },
    accessToken: data.accessToken,
    refreshToken: data.refreshToken,
    sessionId: data.session.id,
  };
}

/** An API key of `user` with `scopes` (every scope by default), made through the real service. */
export async function createApiKey(
  t: TestApp,
  user: TestUser,
  scopes: readonly ApiKeyScope[] = API_KEY_SCOPES,
): Promise<{ key: string; id: string; headers: { authorization: string } }> {
  const { key, apiKey } = await t.deps.auth.apiKeys.create(
    { organizationId: user.organizationId, userId: user.id, role: user.role },
    { name: `key of ${user.email}`, scopes: [...scopes] },
  );
  return { key, id: apiKey.id, headers: { authorization: `Bearer ${key}` } };
}
