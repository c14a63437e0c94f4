import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app';
import { createApiKey, createOrganization, createUser, login, type TestUser } from '../helpers/auth';
import { callProcedure } from '../helpers/http';

/**
 * The audit log as its readers see it: events named by who did them and what they were done to,
 * filtered by actor, type and time on the server, and never a name or an event of another
 * organization, even when an id of theirs is recorded in this organization's log.
 */

let t: TestApp;
/** Organization A (the test app's own) and organization B, a tenant. */
let adminA: TestUser;
let adminB: TestUser;
let headersA: Record<string, string>;
let headersB: Record<string, string>;
let memberA: TestUser;
let memberB: TestUser;
let keyB: { id: string; headers: { authorization: string } };

type Event = {
  id: string;
  type: string;
  actorUserId: string | null;
  actorApiKeyId: string | null;
  actorName: string | null;
  actorEmail: string | null;
  actorApiKeyName: string | null;
  targetType: string | null;
  targetId: string | null;
  targetName: string | null;
  createdAt: string;
};

async function list(input: Record<string, unknown>, headers: Record<string, string>) {
  const answer = await callProcedure(t.app, 'auth.audit.list', 'query', input, headers);
  expect(answer.status, answer.text).toBe(200);
  return answer.data as { items: Event[]; nextCursor: string | null };
}

beforeAll(async () => {
  t = await startTestApp();
  adminB = await createOrganization(t);
  headersB = (await login(t, adminB)).headers;
  const userA = await t.deps.database.db
    .selectFrom('users')
    .select(['id', 'email'])
    .where('id', '=', t.adminUser.id)
    .executeTakeFirstOrThrow();
  adminA = {
    id: userA.id,
    organizationId: t.adminUser.organizationId,
    email: userA.email,
    password: '',
    role: 'admin',
  };
  headersA = t.admin;
  // Events in both: each admin adds a member (user_created, a user target) and an environment.
  memberA = await createUser(t, 'viewer');
  memberB = await createUser(t, 'admin', adminB);
  keyB = await createApiKey(t, memberB);
  for (const headers of [headersA, headersB]) {
    const made = await callProcedure(
      t.app,
      'devops.environments.create',
      'mutation',
      { name: 'web' },
      headers,
    );
    expect(made.status, made.text).toBe(200);
  }
  // An event done with B's key (an API key actor).
  const byKey = await callProcedure(
    t.app,
    'devops.environments.create',
    'mutation',
    { name: 'preview' },
    { authorization: keyB.headers.authorization },
  );
  expect(byKey.status, byKey.text).toBe(200);
}, 120_000);

afterAll(async () => {
  await t?.close();
});

describe('auth.audit.list names', () => {
  it("names the actor and the target of an organization's events", async () => {
    const { items } = await list({ limit: 100 }, headersB);
    const created = items.find((e) => e.type === 'user_created' && e.targetId === memberB.id);
    expect(created).toMatchObject({
      actorUserId: adminB.id,
      actorEmail: adminB.email,
      targetType: 'user',
      targetName: memberB.email,
    });
    const keyCreated = items.find((e) => e.type === 'api_key_created' && e.targetId === keyB.id);
    expect(keyCreated?.targetName).toBe(`key of ${memberB.email}`);
    const environment = items.find((e) => e.targetType === 'environment' && e.actorApiKeyId === keyB.id);
    expect(environment).toMatchObject({ actorApiKeyName: `key of ${memberB.email}`, targetName: 'preview' });
  });

  it("never shows another organization's names, even for its ids recorded in this log", async () => {
    // Ids of A in B's log (as a bug or a forged row might put them): they name nothing.
    await t.deps.database.transaction((db) =>
      t.deps.auth.audit.record(db, {
        type: 'user_updated',
        result: 'success',
        actor: { organizationId: adminB.organizationId, userId: adminA.id },
        target: { type: 'user', id: memberA.id },
      }),
    );
    const { items } = await list({ limit: 100 }, headersB);
    const forged = items.find((e) => e.type === 'user_updated' && e.targetId === memberA.id);
    expect(forged).toMatchObject({ actorName: null, actorEmail: null, targetName: null });
    const text = JSON.stringify(items);
    expect(text).not.toContain(adminA.email);
    expect(text).not.toContain(memberA.email);
  });

  it("lists none of another organization's events", async () => {
    const a = await list({ limit: 100 }, headersA);
    const b = await list({ limit: 100 }, headersB);
    const idsA = new Set(a.items.map((e) => e.id));
    expect(b.items.length).toBeGreaterThan(0);
    expect(b.items.some((e) => idsA.has(e.id))).toBe(false);
    expect(a.items.some((e) => e.targetId === memberB.id || e.actorUserId === adminB.id)).toBe(false);
  });
});

describe('auth.audit.list filters', () => {
  it('filters by actor: a user, or an API key', async () => {
    const byAdmin = await list({ limit: 100, actorUserId: adminB.id }, headersB);
    expect(byAdmin.items.length).toBeGreaterThan(0);
    expect(byAdmin.items.every((e) => e.actorUserId === adminB.id)).toBe(true);
    const byKey = await list({ limit: 100, actorApiKeyId: keyB.id }, headersB);
    expect(byKey.items.map((e) => e.targetName)).toEqual(['preview']);
  });

  it("finds nothing for another organization's actor", async () => {
    const { items } = await list({ limit: 100, actorUserId: adminA.id }, headersB);
    expect(items.filter((e) => e.actorName !== null)).toEqual([]);
    const ofMember = await list({ limit: 100, actorUserId: memberA.id }, headersB);
    expect(ofMember.items).toEqual([]);
  });

  it('filters by type and time, and pages through what the filter keeps', async () => {
    const { items } = await list({ limit: 100, type: 'user_created' }, headersB);
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((e) => e.type === 'user_created')).toBe(true);

    const all = await list({ limit: 100 }, headersB);
    const oldest = all.items.at(-1)!;
    const newest = all.items[0]!;
    const future = new Date(Date.parse(newest.createdAt) + 60_000).toISOString();
    expect((await list({ since: future }, headersB)).items).toEqual([]);
    expect((await list({ until: oldest.createdAt }, headersB)).items).toEqual([]);
    const inRange = await list({ limit: 100, since: oldest.createdAt, until: future }, headersB);
    expect(inRange.items.map((e) => e.id)).toEqual(all.items.map((e) => e.id));

    // Pages of one, through the filter: every event of the actor once, newest first.
    const seen: string[] = [];
    let cursor: string | null | undefined;
    do {
      const page = await list({ limit: 1, actorUserId: adminB.id, ...(cursor ? { cursor } : {}) }, headersB);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    const byAdmin = await list({ limit: 100, actorUserId: adminB.id }, headersB);
    expect(seen).toEqual(byAdmin.items.map((e) => e.id));
  });

  it('refuses malformed filters with 400 and a message', async () => {
    for (const input of [
      { actorUserId: 'not-a-uuid' },
      { actorApiKeyId: '1' },
      { since: 'yesterday' },
      { until: '2026-13-01T00:00:00Z' },
      { since: '2026-12-02T00:00:00Z', until: '2026-12-01T00:00:00Z' },
      { type: 'no_such_type' },
    ]) {
      const answer = await callProcedure(t.app, 'auth.audit.list', 'query', input, headersB);
      expect(answer.status, JSON.stringify(input)).toBe(400);
      expect(answer.message).toBeTruthy();
    }
  });

  it('takes the same filters over REST', async () => {
    const query = new URLSearchParams({ actorUserId: adminB.id, type: 'user_created', limit: '10' });
    const response = await t.app.request(`/api/v1/audit-events?${query}`, { headers: headersB });
    expect(response.status).toBe(200);
    const page = (await response.json()) as { items: Event[] };
    expect(page.items.map((e) => e.targetName)).toContain(memberB.email);
    expect(page.items.every((e) => e.type === 'user_created' && e.actorEmail === adminB.email)).toBe(true);
    const bad = await t.app.request(
      '/api/v1/audit-events?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z',
      {
        headers: headersB,
      },
    );
    expect(bad.status).toBe(400);
  });
});

describe('auth.audit.platform names', () => {
  it("names an organization target in the platform's log", async () => {
    await t.deps.database.transaction((db) =>
      t.deps.auth.audit.record(db, {
        scope: 'platform',
        type: 'organization_suspended',
        result: 'success',
        actor: { organizationId: adminA.organizationId, userId: adminA.id },
        target: { type: 'organization', id: adminB.organizationId },
      }),
    );
    const answer = await callProcedure(t.app, 'auth.audit.platform', 'query', { limit: 10 }, headersA);
    expect(answer.status, answer.text).toBe(200);
    const event = (answer.data.items as Event[]).find((e) => e.targetId === adminB.organizationId);
    expect(event).toMatchObject({ actorEmail: adminA.email, targetName: `Org ${adminB.email}` });
    // The platform's log takes the same filters.
    const byAdmin = await callProcedure(
      t.app,
      'auth.audit.platform',
      'query',
      { limit: 100, actorUserId: adminA.id, type: 'organization_suspended' },
      headersA,
    );
    expect((byAdmin.data.items as Event[]).map((e) => e.targetId)).toContain(adminB.organizationId);
    const byOther = await callProcedure(
      t.app,
      'auth.audit.platform',
      'query',
      { actorUserId: memberB.id },
      headersA,
    );
    expect(byOther.data.items).toEqual([]);
  });
});
