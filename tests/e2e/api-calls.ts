import { type APIRequestContext, expect } from '@playwright/test';
import { E2E_ADMIN } from './platform';

/**
 * Setting the scene through the API, as a client would (no Sec-Fetch-Site header, so tokens come
 * in the body): the controls specs make users and events this way, then drive the dashboard.
 */

/** Signs in and answers an access token. */
export async function accessToken(
  request: APIRequestContext,
  who: { email: string; password: string } = E2E_ADMIN,
): Promise<string> {
  const login = await request.post('/api/trpc/auth.login', { data: who });
  expect(login.ok(), await login.text()).toBe(true);
  return ((await login.json()) as { result: { data: { accessToken: string } } }).result.data.accessToken;
}

/** Calls a mutation (POST) or a query (GET) with `token`; fails the test unless it answers 200. */
export async function call<T = unknown>(
  request: APIRequestContext,
  token: string,
  path: string,
  input: unknown,
  kind: 'mutation' | 'query' = 'mutation',
): Promise<T> {
  const headers = { authorization: `Bearer ${token}` };
  const response =
    kind === 'mutation'
      ? await request.post(`/api/trpc/${path}`, { headers, data: input })
      : await request.get(`/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, {
          headers,
        });
  expect(response.ok(), `${path}: ${await response.text()}`).toBe(true);
  return ((await response.json()) as { result: { data: T } }).result.data;
}

/** A new user of the e2e admin's organization with `role` (and a platform role, if given). */
export async function createMember(
  request: APIRequestContext,
  token: string,
  role: 'admin' | 'operator' | 'viewer',
  platformRole: 'operator' | 'admin' | null = null,
): Promise<{ id: string; email: string; password: string; name: string }> {
  const tag = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const member = {
    email: `e2e-${role}-${tag}@example.com`,
    password: 'e2e-member-password-1',
    name: `Member ${role} ${tag}`,
  };
  const created = await call<{ id: string }>(request, token, 'auth.users.create', { ...member, role });
  if (platformRole)
    await call(request, token, 'auth.platformRoles.set', { userId: created.id, platformRole });
  return { id: created.id, ...member };
}
