import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_SCOPES } from '../../shared/auth';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import {
  adminHeaders,
  mustRun,
  type Runtime,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process';

/**
 * Authority changes bite at once, across processes (issue 11, item 5): two real server processes
 * on one database; a change made through the first must be enforced by the second within a
 * second, for access tokens issued before the change and for API keys of the same owner.
 */

/** Generous bound for the test (never a timing assertion on the figure itself: it is printed). */
const DEADLINE_MS = 10_000;

let database: TestDatabase;
let first: ServerProcess;
let second: ServerProcess;
let admin: Record<string, string>;

const runtime: Runtime = mustRun('bun') ? 'bun' : 'node';

beforeAll(async () => {
  database = await createTestDatabase();
  first = await startServer({ runtime, env: { DATABASE_URL: database.url } });
  second = await startServer({ runtime, env: { DATABASE_URL: database.url } });
  admin = await adminHeaders(first);
}, 120_000);

afterAll(async () => {
  await stopAllServers();
  await database?.drop();
});

interface Answer {
  status: number;
  code: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: answers are inspected field by field
  data: any;
}

async function call(
  server: ServerProcess,
  path: string,
  input: unknown,
  headers: Record<string, string>,
  type: 'query' | 'mutation' = 'mutation',
): Promise<Answer> {
  const response =
    type === 'query'
      ? await fetch(
          `${server.url}/api/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
          { headers },
        )
      : await fetch(`${server.url}/api/trpc/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: input === undefined ? undefined : JSON.stringify(input),
        });
  const body = (await response.json()) as {
    result?: { data?: unknown };
    error?: { data?: { code?: string } };
  };
  return { status: response.status, code: body.error?.data?.code ?? null, data: body.result?.data };
}

async function signIn(
  server: ServerProcess,
  email: string,
  password: string,
): Promise<Record<string, string>> {
  const answer = await call(server, 'auth.login', { email, password }, {});
  expect(answer.status, JSON.stringify(answer)).toBe(200);
  return { authorization: `Bearer ${answer.data.accessToken}` };
}

/** Polls `probe` until it returns true; the milliseconds it took, or a failure after the deadline. */
async function msUntil(probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < DEADLINE_MS) {
    if (await probe()) return Math.round(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`not enforced within ${DEADLINE_MS} ms`);
}

let sequence = 0;
async function newAdmin(): Promise<{ id: string; email: string; password: string }> {
  const email = `deputy-${++sequence}-${Date.now()}@authority.test`;
  const password = `deputy-password-${sequence}-0123`;
  const created = await call(first, 'auth.users.create', { email, password, role: 'admin' }, admin);
  expect(created.status, JSON.stringify(created)).toBe(200);
  return { id: created.data.id, email, password };
}

describe(`authority changes across two ${runtime} processes`, () => {
  it("refuses a demoted admin's old access token on the other process, before he can promote himself back", async () => {
    const deputy = await newAdmin();
    const token = await signIn(first, deputy.email, deputy.password);
    // The token works on the second process: it is an admin there too.
    expect((await call(second, 'auth.users.list', { limit: 5 }, token, 'query')).status).toBe(200);

    const demoted = await call(first, 'auth.users.update', { id: deputy.id, role: 'viewer' }, admin);
    expect(demoted.status, JSON.stringify(demoted)).toBe(200);
    const ms = await msUntil(
      async () => (await call(second, 'auth.users.list', { limit: 5 }, token, 'query')).status === 401,
    );
    console.log(`demotion: the old access token refused on the second process after ${ms} ms`);

    // The self-promotion the old token would have attempted fails on both processes.
    for (const server of [first, second]) {
      const back = await call(server, 'auth.users.update', { id: deputy.id, role: 'admin' }, token);
      expect(back.code).toBe('UNAUTHORIZED');
    }
    // Signing in again gives a viewer's token, which may not promote anyone.
    const fresh = await signIn(second, deputy.email, deputy.password);
    const me = await call(second, 'auth.me', undefined, fresh, 'query');
    expect(me.data.role).toBe('viewer');
    expect((await call(second, 'auth.users.update', { id: deputy.id, role: 'admin' }, fresh)).code).toBe(
      'FORBIDDEN',
    );
  });

  it("refuses a demoted admin's API key the admin procedures on the other process", async () => {
    const deputy = await newAdmin();
    const token = await signIn(first, deputy.email, deputy.password);
    const minted = await call(
      first,
      'auth.apiKeys.create',
      { name: 'deputy key', scopes: ['auth:read'] },
      token,
    );
    expect(minted.status, JSON.stringify(minted)).toBe(200);
    const key = { authorization: `Bearer ${minted.data.key}` };
    // Cached as valid on the second process.
    expect((await call(second, 'auth.users.list', { limit: 5 }, key, 'query')).status).toBe(200);

    expect((await call(first, 'auth.users.update', { id: deputy.id, role: 'viewer' }, admin)).status).toBe(
      200,
    );
    const ms = await msUntil(
      async () => (await call(second, 'auth.users.list', { limit: 5 }, key, 'query')).code === 'FORBIDDEN',
    );
    console.log(
      `demotion: the owner's API key refused admin procedures on the second process after ${ms} ms`,
    );
  });

  it('refuses a disabled user on the other process', async () => {
    const deputy = await newAdmin();
    const token = await signIn(first, deputy.email, deputy.password);
    expect((await call(second, 'auth.me', undefined, token, 'query')).status).toBe(200);
    expect((await call(first, 'auth.users.disable', { id: deputy.id }, admin)).status).toBe(200);
    const ms = await msUntil(
      async () => (await call(second, 'auth.me', undefined, token, 'query')).status === 401,
    );
    console.log(`disable: the access token refused on the second process after ${ms} ms`);
  });

  it("refuses a suspended organization's tokens and keys on the other process, and lets it back in on resume", async () => {
    const email = `tenant-${Date.now()}@authority.test`;
    const password = 'tenant-admin-password-0123';
    const created = await call(
      first,
      'auth.organizations.create',
      { name: `Tenant ${Date.now()}`, admin: { email } },
      admin,
    );
    expect(created.status, JSON.stringify(created)).toBe(200);
    const accepted = await call(
      second,
      'auth.invitations.accept',
      { token: created.data.token, password },
      {},
    );
    expect(accepted.status, JSON.stringify(accepted)).toBe(200);
    const token = await signIn(second, email, password);
    const minted = await call(
      second,
      'auth.apiKeys.create',
      { name: 'tenant key', scopes: ['auth:read'] },
      token,
    );
    const key = { authorization: `Bearer ${minted.data.key}` };
    expect((await call(second, 'auth.users.list', { limit: 5 }, key, 'query')).status).toBe(200);

    const organizationId = created.data.organization.id;
    expect(
      (await call(first, 'auth.organizations.suspend', { id: organizationId, reason: 'unpaid' }, admin))
        .status,
    ).toBe(200);
    const tokenMs = await msUntil(
      async () => (await call(second, 'auth.me', undefined, token, 'query')).status === 401,
    );
    const keyMs = await msUntil(
      async () => (await call(second, 'auth.users.list', { limit: 5 }, key, 'query')).status === 401,
    );
    console.log(
      `suspension: the access token refused on the second process after ${tokenMs} ms, the API key after ${keyMs} ms`,
    );
    expect((await call(second, 'auth.login', { email, password }, {})).code).toBe('UNAUTHORIZED');

    expect((await call(first, 'auth.organizations.resume', { id: organizationId }, admin)).status).toBe(200);
    await msUntil(
      async () => (await call(second, 'auth.users.list', { limit: 5 }, key, 'query')).status === 200,
    );
    expect(
      (await call(second, 'auth.me', undefined, await signIn(second, email, password), 'query')).status,
    ).toBe(200);
  });

  it('lets an API key mint and change keys only within the scopes it holds', async () => {
    const authOnly = await call(
      first,
      'auth.apiKeys.create',
      { name: 'auth only', scopes: ['auth:read', 'auth:write'] },
      admin,
    );
    expect(authOnly.status).toBe(200);
    const key = { authorization: `Bearer ${authOnly.data.key}` };

    const everything = await call(
      second,
      'auth.apiKeys.create',
      { name: 'escalated', scopes: [...API_KEY_SCOPES] },
      key,
    );
    expect(everything.code).toBe('FORBIDDEN');
    const within = await call(
      second,
      'auth.apiKeys.create',
      { name: 'narrower', scopes: ['auth:read'] },
      key,
    );
    expect(within.status).toBe(200);

    // Widening a key, or re-issuing a stronger key by rotation, is minting too.
    const widened = await call(
      second,
      'auth.apiKeys.update',
      { id: within.data.apiKey.id, scopes: ['auth:read', 'devops:write'] },
      key,
    );
    expect(widened.code).toBe('FORBIDDEN');
    const strong = await call(
      first,
      'auth.apiKeys.create',
      { name: 'strong', scopes: [...API_KEY_SCOPES] },
      admin,
    );
    expect((await call(second, 'auth.apiKeys.rotate', { id: strong.data.apiKey.id }, key)).code).toBe(
      'FORBIDDEN',
    );
    expect(
      (await call(second, 'auth.apiKeys.update', { id: strong.data.apiKey.id, enabled: false }, key)).code,
    ).toBe('FORBIDDEN');
  });
});
