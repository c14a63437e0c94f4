import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PeerApp, startPeerApp, startTestApp, TEST_ADMIN, type TestApp } from '../helpers/app';
import { createApiKey, createOrganization, createUser, login, type TestUser } from '../helpers/auth';
import { type Answer, send } from '../helpers/http';
import { dumpTables, SecretScan } from '../helpers/secret-scan';

// Organization management over HTTP through the whole app on real PostgreSQL: the platform admin
// creates, lists, renames, suspends, resumes and deletes organizations and grants platform roles;
// an organization's admin invites and removes members. Suspension and removal are checked on a
// second instance of the app on the same database, as a deployment with two replicas has them.

/**
 * How long a test waits for an authority change to reach the second instance. The design promises
 * a second (DESIGN.md, "Authority"); the delays measured are printed, and are milliseconds. The
 * wait is longer than the promise so that a machine busy with the rest of the suite does not fail
 * a test on timing alone (tests never assert on wall-clock time).
 */
const DEADLINE_MS = 5_000;
const TOKEN = /^bc_inv_[A-Za-z0-9_-]{43}$/;

let t: TestApp;
/** A second instance on t's database. */
let peer: PeerApp;
/** The same app with a sign-in limit of 3 a minute from one address. */
let limited: TestApp;
/** The installation's first admin: platform admin, and admin of the platform's organization. */
let platformAdmin: TestUser;
let platformHeaders: { authorization: string };

const secrets = new SecretScan();

beforeAll(async () => {
  [t, limited] = await Promise.all([
    startTestApp({ LOG_LEVEL: 'info' }),
    startTestApp({ LOG_LEVEL: 'warn', RATE_LIMIT_LOGIN_PER_MINUTE: '3' }),
  ]);
  peer = await startPeerApp(t);
  platformAdmin = {
    id: t.adminUser.id,
    organizationId: t.adminUser.organizationId,
    email: TEST_ADMIN.email,
    password: TEST_ADMIN.password,
    role: 'admin',
  };
  const signedIn = await login(t, platformAdmin);
  platformHeaders = signedIn.headers;
  secrets.remember(TEST_ADMIN.password, signedIn.accessToken, signedIn.refreshToken, bearer(t.admin));
});
afterAll(async () => {
  await peer?.close();
  await Promise.all([t?.close(), limited?.close()]);
});

type Headers = Record<string, string>;
type AppLike = Pick<TestApp['app'], 'request'>;

const bearer = (headers: { authorization: string }) => headers.authorization.slice('Bearer '.length);
const input = (value: unknown) => `input=${encodeURIComponent(JSON.stringify(value))}`;
const query = (procedure: string, value: unknown, headers: Headers = {}, app: AppLike = t.app) =>
  send(app, `/api/trpc/${procedure}${value === undefined ? '' : `?${input(value)}`}`, { headers });
const mutate = (procedure: string, value: unknown, headers: Headers = {}, app: AppLike = t.app) =>
  send(app, `/api/trpc/${procedure}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value ?? {}),
  });
const data = (answer: Answer) => answer.body.result.data;

function expectOk(answer: Answer): void {
  expect(answer.res.status, answer.text).toBe(200);
}

function expectError(answer: Answer, status: number, code: string): void {
  expect(answer.res.status, answer.text).toBe(status);
  expect(answer.body.error.data.code).toBe(code);
  expect(answer.body.error.data.requestId).toBe(answer.res.headers.get('x-request-id'));
}

/** An error body without its request id: what two refusals must share to be indistinguishable. */
function withoutRequestId(answer: Answer): unknown {
  const copy = structuredClone(answer.body);
  if (copy?.error?.data) delete copy.error.data.requestId;
  return copy;
}

/** Polls `probe` until it holds; the milliseconds it took, or a failure after the deadline. */
async function msUntil(probe: () => Promise<boolean>, what: string): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < DEADLINE_MS) {
    if (await probe()) return Math.round(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${what}: not within ${DEADLINE_MS} ms`);
}

const uniqueEmail = (label: string) => `${label}-${randomBytes(4).toString('hex')}@org.test`;
const newPassword = () => `pw-${randomBytes(12).toString('hex')}`;

/** A tenant: an organization of its own whose admin holds no platform role, signed in, with a key. */
async function tenant() {
  const admin = await createOrganization(t);
  const session = await login(t, admin);
  const key = await createApiKey(t, admin);
  secrets.remember(admin.password, session.accessToken, session.refreshToken, key.key);
  return { admin, session, key };
}

/** An organization made through the API and its first admin, who joined with the invitation. */
async function organizationThroughApi(name = `Org ${randomBytes(3).toString('hex')}`) {
  const email = uniqueEmail('first-admin');
  const created = await mutate('auth.organizations.create', { name, admin: { email } }, platformHeaders);
  expectOk(created);
  const { organization, invitation, token } = data(created);
  const password = newPassword();
  secrets.remember(token, password);
  const accepted = await mutate('auth.invitations.accept', { token, password, name: 'First Admin' });
  expectOk(accepted);
  const admin: TestUser = {
    id: data(accepted).user.id,
    organizationId: organization.id,
    email,
    password,
    role: 'admin',
  };
  return { organization, invitation, token, admin };
}

async function platformEvents(
  type: string,
): Promise<{ targetId: string; details: Record<string, unknown> }[]> {
  const answer = await query('auth.audit.platform', { limit: 100, type }, platformHeaders);
  expectOk(answer);
  return data(answer).items;
}

describe('organizations (platform admins)', () => {
  it('creates an organization with its first admin invitation, which the invitee accepts once', async () => {
    const email = uniqueEmail('Founder').toUpperCase();
    const created = await mutate(
      'auth.organizations.create',
      { name: '  Acme Beauty  ', admin: { email } },
      platformHeaders,
    );
    expectOk(created);
    const { organization, invitation, token } = data(created);
    secrets.remember(token);
    expect(organization).toMatchObject({ name: 'Acme Beauty', suspendedAt: null, memberCount: 0 });
    expect(invitation).toMatchObject({
      organizationId: organization.id,
      email: email.toLowerCase(),
      role: 'admin',
      status: 'pending',
      invitedBy: platformAdmin.id,
    });
    expect(token).toMatch(TOKEN);
    // 72 hours by default.
    const hours = (Date.parse(invitation.expiresAt) - Date.parse(invitation.createdAt)) / 3_600_000;
    expect(hours).toBeCloseTo(72, 3);

    const password = newPassword();
    secrets.remember(password);
    const accepted = await mutate('auth.invitations.accept', { token, password, name: 'Ada' });
    expectOk(accepted);
    expect(data(accepted).user).toMatchObject({
      organizationId: organization.id,
      email: email.toLowerCase(),
      name: 'Ada',
      role: 'admin',
      platformRole: null,
    });
    const founder: TestUser = {
      id: data(accepted).user.id,
      organizationId: organization.id,
      email: email.toLowerCase(),
      password,
      role: 'admin',
    };
    // They sign in and act as the admin of their organization, and of nothing else.
    const session = await login(t, founder);
    secrets.remember(session.accessToken, session.refreshToken);
    const users = await query('auth.users.list', { limit: 10 }, session.headers);
    expectOk(users);
    expect(data(users).items.map((u: { id: string }) => u.id)).toEqual([founder.id]);
    expectError(await query('auth.organizations.list', {}, session.headers), 403, 'FORBIDDEN');

    // The token worked once.
    const again = await mutate('auth.invitations.accept', { token, password: newPassword() });
    expectError(again, 401, 'UNAUTHORIZED');

    const got = await query('auth.organizations.get', { id: organization.id }, platformHeaders);
    expectOk(got);
    expect(data(got)).toMatchObject({ id: organization.id, memberCount: 1 });
    const events = await platformEvents('organization_created');
    expect(events.find((event) => event.targetId === organization.id)?.details).toMatchObject({
      name: 'Acme Beauty',
      adminEmail: email.toLowerCase(),
      actorOrganizationId: platformAdmin.organizationId,
    });
    // The acceptance is in the organization's own log, which its admin reads.
    const log = await query('auth.audit.list', { limit: 20, type: 'invitation_accepted' }, session.headers);
    expectOk(log);
    expect(data(log).items.map((e: { result: string }) => e.result)).toContain('success');
  });

  it('refuses an organization whose first admin email already has an account', async () => {
    const answer = await mutate(
      'auth.organizations.create',
      { name: 'Duplicate', admin: { email: TEST_ADMIN.email } },
      platformHeaders,
    );
    expectError(answer, 409, 'CONFLICT');
    // Nothing was left behind: the organization went with the refused invitation.
    const count = await t.deps.database.db
      .selectFrom('organizations')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('name', '=', 'Duplicate')
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });

  it('lists every organization a page at a time, and refuses a cursor it did not issue', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await organizationThroughApi()).organization.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const answer = await query('auth.organizations.list', { limit: 2, cursor }, platformHeaders);
      expectOk(answer);
      const page = data(answer);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((item: { id: string }) => item.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 100);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining([platformAdmin.organizationId, ...made]));
    // Oldest first: the platform's own organization leads.
    expect(seen[0]).toBe(platformAdmin.organizationId);

    for (const bad of ['not-a-cursor', Buffer.from('["x","y"]').toString('base64url')]) {
      expectError(
        await query('auth.organizations.list', { cursor: bad }, platformHeaders),
        400,
        'BAD_REQUEST',
      );
    }
    expectError(
      await query('auth.organizations.get', { id: randomUUID() }, platformHeaders),
      404,
      'NOT_FOUND',
    );
  });

  it('renames an organization, in the platform log', async () => {
    const { organization } = await organizationThroughApi('Old Name');
    const renamed = await mutate(
      'auth.organizations.rename',
      { id: organization.id, name: 'New Name' },
      t.admin,
    );
    expectOk(renamed);
    expect(data(renamed)).toMatchObject({ id: organization.id, name: 'New Name' });
    const events = await platformEvents('organization_renamed');
    expect(events.find((e) => e.targetId === organization.id)?.details).toMatchObject({
      oldName: 'Old Name',
      name: 'New Name',
    });
  });

  it("refuses to suspend or delete the caller's own organization or one with a platform role holder", async () => {
    for (const procedure of ['auth.organizations.suspend', 'auth.organizations.delete']) {
      const own = await mutate(
        procedure,
        { id: platformAdmin.organizationId, reason: 'oops' },
        platformHeaders,
      );
      expectError(own, 400, 'BAD_REQUEST');
      expect(own.body.error.message).toMatch(/organization you belong to/);
    }
    const { admin } = await tenant();
    const operator = await createUser(t, 'viewer', admin);
    const granted = await mutate(
      'auth.platformRoles.set',
      { userId: operator.id, platformRole: 'operator' },
      platformHeaders,
    );
    expectOk(granted);
    for (const procedure of ['auth.organizations.suspend', 'auth.organizations.delete']) {
      const answer = await mutate(procedure, { id: admin.organizationId, reason: 'no' }, platformHeaders);
      expectError(answer, 409, 'CONFLICT');
      expect(answer.body.error.message).toMatch(/platform roles/);
    }
    const organization = await query('auth.organizations.get', { id: admin.organizationId }, platformHeaders);
    expect(data(organization)).toMatchObject({ suspendedAt: null, memberCount: 2 });
    expectOk(
      await mutate('auth.platformRoles.set', { userId: operator.id, platformRole: null }, platformHeaders),
    );
  });
});

describe('what a tenant admin may not do', () => {
  it('answers FORBIDDEN on every platform procedure, to a session and to a key with every scope', async () => {
    const { admin, session, key } = await tenant();
    const other = await tenant();
    const calls: [string, 'query' | 'mutation', unknown][] = [
      ['auth.organizations.create', 'mutation', { name: 'Mine', admin: { email: uniqueEmail('x') } }],
      ['auth.organizations.list', 'query', {}],
      ['auth.organizations.get', 'query', { id: other.admin.organizationId }],
      ['auth.organizations.rename', 'mutation', { id: other.admin.organizationId, name: 'Taken over' }],
      ['auth.organizations.suspend', 'mutation', { id: other.admin.organizationId, reason: 'rival' }],
      ['auth.organizations.resume', 'mutation', { id: other.admin.organizationId }],
      ['auth.organizations.delete', 'mutation', { id: other.admin.organizationId }],
      ['auth.platformRoles.list', 'query', undefined],
      ['auth.platformRoles.set', 'mutation', { userId: admin.id, platformRole: 'admin' }],
      ['auth.audit.platform', 'query', { limit: 10 }],
    ];
    for (const headers of [session.headers, key.headers]) {
      for (const [procedure, type, value] of calls) {
        const answer =
          type === 'query' ? await query(procedure, value, headers) : await mutate(procedure, value, headers);
        expectError(answer, 403, 'FORBIDDEN');
      }
    }
    const rival = await query('auth.organizations.get', { id: other.admin.organizationId }, platformHeaders);
    expect(data(rival)).toMatchObject({ name: `Org ${other.admin.email}`, suspendedAt: null });
    const self = await t.deps.database.db
      .selectFrom('users')
      .select('platform_role')
      .where('id', '=', admin.id)
      .executeTakeFirstOrThrow();
    expect(self.platform_role).toBeNull();
  });
});

describe('invitations (organization admins)', () => {
  it('invites, lists with statuses, revokes; every unusable token gets one identical answer', async () => {
    const { admin, session } = await tenant();
    const invite = async (role: string, expiresInHours?: number) => {
      const answer = await mutate(
        'auth.invitations.create',
        { email: uniqueEmail(role), role, expiresInHours },
        session.headers,
      );
      expectOk(answer);
      secrets.remember(data(answer).token);
      return data(answer) as { invitation: { id: string; email: string; expiresAt: string }; token: string };
    };
    const accepted = await invite('operator', 1);
    const revoked = await invite('viewer');
    const expired = await invite('viewer');
    const pending = await invite('admin', 30 * 24);
    expect((Date.parse(pending.invitation.expiresAt) - Date.now()) / 3_600_000).toBeGreaterThan(30 * 24 - 1);
    expectError(
      await mutate(
        'auth.invitations.create',
        { email: uniqueEmail('long'), role: 'viewer', expiresInHours: 30 * 24 + 1 },
        session.headers,
      ),
      400,
      'BAD_REQUEST',
    );
    // One pending invitation per email and organization.
    expectError(
      await mutate(
        'auth.invitations.create',
        { email: pending.invitation.email, role: 'viewer' },
        session.headers,
      ),
      409,
      'CONFLICT',
    );

    const password = newPassword();
    secrets.remember(password);
    const joined = await mutate('auth.invitations.accept', { token: accepted.token, password });
    expectOk(joined);
    expect(data(joined).user).toMatchObject({ organizationId: admin.organizationId, role: 'operator' });
    expectOk(await mutate('auth.invitations.revoke', { id: revoked.invitation.id }, session.headers));
    // Revoking twice changes nothing; an accepted invitation cannot be revoked.
    expectOk(await mutate('auth.invitations.revoke', { id: revoked.invitation.id }, session.headers));
    expectError(
      await mutate('auth.invitations.revoke', { id: accepted.invitation.id }, session.headers),
      409,
      'CONFLICT',
    );
    // Time passes for one of them.
    await t.deps.database.db
      .updateTable('invitations')
      .set({ expires_at: sql<Date>`now() - interval '1 minute'` })
      .where('id', '=', expired.invitation.id)
      .execute();

    const statuses = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await query('auth.invitations.list', { limit: 3, cursor }, session.headers);
      expectOk(page);
      for (const item of data(page).items) statuses.set(item.id, item.status);
      cursor = data(page).nextCursor ?? undefined;
    } while (cursor);
    expect(Object.fromEntries(statuses)).toEqual({
      [accepted.invitation.id]: 'accepted',
      [revoked.invitation.id]: 'revoked',
      [expired.invitation.id]: 'expired',
      [pending.invitation.id]: 'pending',
    });
    expectError(
      await query('auth.invitations.list', { cursor: 'nope' }, session.headers),
      400,
      'BAD_REQUEST',
    );

    const unknown = `bc_inv_${randomBytes(32).toString('base64url')}`;
    const refusals = [];
    for (const token of [accepted.token, revoked.token, expired.token, unknown, 'not-even-a-token']) {
      const answer = await mutate('auth.invitations.accept', { token, password: newPassword() });
      expectError(answer, 401, 'UNAUTHORIZED');
      refusals.push(withoutRequestId(answer));
    }
    for (const refusal of refusals) expect(refusal).toEqual(refusals[0]);
    // None of them made a user.
    const members = await query('auth.users.list', { limit: 100 }, session.headers);
    expect(data(members).items).toHaveLength(2);
    // The organization sees the attempts on its invitations, with the reason the caller was not told.
    const failures = await query(
      'auth.audit.list',
      { limit: 50, type: 'invitation_accepted' },
      session.headers,
    );
    const reasons = data(failures)
      .items.filter((e: { result: string }) => e.result === 'failure')
      .map((e: { details: { reason: string } }) => e.details.reason)
      .sort();
    expect(reasons).toEqual(['already_accepted', 'expired', 'revoked']);
  });

  it("answers another organization's invitation like an unknown one", async () => {
    const a = await tenant();
    const b = await tenant();
    const created = await mutate(
      'auth.invitations.create',
      { email: uniqueEmail('b'), role: 'viewer' },
      b.session.headers,
    );
    expectOk(created);
    secrets.remember(data(created).token);
    const foreign = await mutate(
      'auth.invitations.revoke',
      { id: data(created).invitation.id },
      a.session.headers,
    );
    const unknown = await mutate('auth.invitations.revoke', { id: randomUUID() }, a.session.headers);
    expectError(foreign, 404, 'NOT_FOUND');
    expect(withoutRequestId(foreign)).toEqual(withoutRequestId(unknown));
    const listed = await query('auth.invitations.list', {}, a.session.headers);
    expect(data(listed).items).toEqual([]);
    // An operator is no admin.
    const operator = await createUser(t, 'operator', a.admin);
    const operatorSession = await login(t, operator);
    secrets.remember(operator.password, operatorSession.accessToken, operatorSession.refreshToken);
    expectError(
      await mutate(
        'auth.invitations.create',
        { email: uniqueEmail('o'), role: 'viewer' },
        operatorSession.headers,
      ),
      403,
      'FORBIDDEN',
    );
  });

  it('refuses an email that became a user between invitation and acceptance', async () => {
    const { admin, session } = await tenant();
    const email = uniqueEmail('racer');
    expectError(
      await mutate('auth.invitations.create', { email: admin.email, role: 'viewer' }, session.headers),
      409,
      'CONFLICT',
    );
    const created = await mutate('auth.invitations.create', { email, role: 'viewer' }, session.headers);
    expectOk(created);
    secrets.remember(data(created).token);
    const password = newPassword();
    secrets.remember(password);
    expectOk(await mutate('auth.users.create', { email, password, role: 'viewer' }, platformHeaders));
    const answer = await mutate('auth.invitations.accept', {
      token: data(created).token,
      password: newPassword(),
    });
    expectError(answer, 409, 'CONFLICT');
    const listed = await query('auth.invitations.list', {}, session.headers);
    expect(data(listed).items[0]).toMatchObject({ status: 'pending' });
  });

  it('limits acceptance attempts per address like sign-in', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const answer = await mutate(
        'auth.invitations.accept',
        { token: `bc_inv_${randomBytes(32).toString('base64url')}`, password: newPassword() },
        {},
        limited.app,
      );
      statuses.push(answer.res.status);
      if (answer.res.status === 429)
        expect(Number(answer.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});

describe('suspension', () => {
  it("refuses the organization's tokens and keys on a second instance within a second; resume lets it back", async () => {
    const { admin, session, key } = await tenant();
    const member = await createUser(t, 'operator', admin);
    secrets.remember(member.password);
    const pendingInvitation = await mutate(
      'auth.invitations.create',
      { email: uniqueEmail('later'), role: 'viewer' },
      session.headers,
    );
    expectOk(pendingInvitation);
    secrets.remember(data(pendingInvitation).token);
    // Both work on the peer, and its key cache holds the key.
    for (let i = 0; i < 2; i++) {
      expectOk(await query('auth.me', undefined, session.headers, peer.app));
      expectOk(await query('auth.users.list', { limit: 5 }, key.headers, peer.app));
    }

    const suspended = await mutate(
      'auth.organizations.suspend',
      { id: admin.organizationId, reason: 'unpaid invoices' },
      platformHeaders,
    );
    expectOk(suspended);
    expect(data(suspended)).toMatchObject({ suspendedReason: 'unpaid invoices' });
    expect(data(suspended).suspendedAt).not.toBeNull();
    const tokenMs = await msUntil(
      async () => (await query('auth.me', undefined, session.headers, peer.app)).res.status === 401,
      'the access token on the peer',
    );
    console.log(`suspension: the access token refused on the peer after ${tokenMs} ms`);
    const keyMs = await msUntil(
      async () => (await query('auth.users.list', { limit: 5 }, key.headers, peer.app)).res.status === 401,
      'the API key on the peer',
    );
    console.log(`suspension: the API key refused on the peer after ${keyMs} ms`);

    // And on this instance; nobody signs in, refreshes or joins.
    expectError(await query('auth.me', undefined, session.headers), 401, 'UNAUTHORIZED');
    expectError(await query('auth.users.list', { limit: 5 }, key.headers), 401, 'UNAUTHORIZED');
    for (const user of [admin, member]) {
      const refused = await mutate(
        'auth.login',
        { email: user.email, password: user.password },
        {},
        peer.app,
      );
      expectError(refused, 401, 'UNAUTHORIZED');
    }
    expectError(await mutate('auth.refresh', { refreshToken: session.refreshToken }), 401, 'UNAUTHORIZED');
    expectError(
      await mutate('auth.invitations.accept', {
        token: data(pendingInvitation).token,
        password: newPassword(),
      }),
      403,
      'FORBIDDEN',
    );
    const revoked = await t.deps.database.db
      .selectFrom('sessions')
      .select(['revoked_at', 'revoked_reason'])
      .where('organization_id', '=', admin.organizationId)
      .execute();
    expect(revoked.length).toBeGreaterThan(0);
    for (const row of revoked) expect(row.revoked_reason).toBe('organization_suspended');
    const events = await platformEvents('organization_suspended');
    expect(events.find((e) => e.targetId === admin.organizationId)?.details).toMatchObject({
      reason: 'unpaid invoices',
      revokedSessions: revoked.length,
    });

    const resumed = await mutate('auth.organizations.resume', { id: admin.organizationId }, platformHeaders);
    expectOk(resumed);
    expect(data(resumed)).toMatchObject({ suspendedAt: null, suspendedReason: null });
    const again = await login(t, admin);
    secrets.remember(again.accessToken, again.refreshToken);
    expectOk(await query('auth.me', undefined, again.headers, peer.app));
    const backMs = await msUntil(
      async () => (await query('auth.users.list', { limit: 5 }, key.headers, peer.app)).res.status === 200,
      'the API key back on the peer',
    );
    console.log(`resume: the API key accepted again on the peer after ${backMs} ms`);
    // The old session stays ended: resuming lets users sign in, it does not revive sessions.
    expectError(await query('auth.me', undefined, session.headers), 401, 'UNAUTHORIZED');
  });
});

describe('deletion', () => {
  it("purges the organization's rows in every table with organization_id and leaves the others' alone", async () => {
    const victim = await organizationThroughApi('Doomed');
    const victimId = victim.organization.id;
    const session = await login(t, victim.admin);
    const key = await createApiKey(t, victim.admin);
    secrets.remember(session.accessToken, session.refreshToken, key.key);
    const neighbour = await tenant();
    await populate(victimId, key.headers);
    await populate(neighbour.admin.organizationId, neighbour.key.headers);
    const sessionIds = (
      await t.deps.database.db
        .selectFrom('sessions')
        .select('id')
        .where('organization_id', '=', victimId)
        .execute()
    ).map((row) => row.id);
    expectOk(await query('auth.me', undefined, session.headers, peer.app));
    expectOk(await query('auth.me', undefined, key.headers, peer.app));

    const tables = await tablesWithOrganization();
    const before = await rowCounts(tables, victimId);
    // Non-vacuous: every such table holds rows of the victim (a new table needs a row in populate()).
    for (const table of tables)
      expect(before.victim[table], `rows of the victim in ${table}`).toBeGreaterThan(0);

    const deleted = await mutate('auth.organizations.delete', { id: victimId }, platformHeaders);
    expectOk(deleted);
    expect(data(deleted)).toMatchObject({ id: victimId, deleted: true, members: 1 });

    const tokenMs = await msUntil(
      async () => (await query('auth.me', undefined, session.headers, peer.app)).res.status === 401,
      'the deleted organization access token on the peer',
    );
    console.log(`deletion: the access token refused on the peer after ${tokenMs} ms`);
    expectError(await query('auth.me', undefined, key.headers, peer.app), 401, 'UNAUTHORIZED');

    const after = await rowCounts(tables, victimId);
    // Backups are the platform's bookkeeping of archives on disk: they stay.
    const kept = new Set(['backups', 'backup_schedules']);
    for (const table of tables) {
      expect(after.victim[table], `rows of the deleted organization in ${table}`).toBe(
        kept.has(table) ? before.victim[table] : 0,
      );
      // Background writers (the alert evaluator, the audit log of this very test) only add rows.
      if (table === 'audit_events' || table === 'alert_history') {
        expect(after.others[table], table).toBeGreaterThanOrEqual(before.others[table] ?? 0);
      } else {
        expect(after.others[table], `the other organizations' rows in ${table}`).toBe(before.others[table]);
      }
    }
    const tokens = await t.deps.database.db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('session_id', 'in', sessionIds)
      .execute();
    expect(tokens).toEqual([]);
    expectError(await query('auth.organizations.get', { id: victimId }, platformHeaders), 404, 'NOT_FOUND');
    // The platform's log keeps the record.
    const events = await platformEvents('organization_deleted');
    expect(events.find((e) => e.targetId === victimId)?.details).toMatchObject({
      name: 'Doomed',
      members: 1,
    });
    // The neighbour carries on.
    expectOk(await query('auth.me', undefined, neighbour.session.headers, peer.app));
  });
});

describe('platform roles', () => {
  it('lists holders, grants and takes roles away (sessions end, keys follow), never the last admin', async () => {
    const listed = await query('auth.platformRoles.list', undefined, platformHeaders);
    expectOk(listed);
    expect(data(listed)).toContainEqual(
      expect.objectContaining({ userId: platformAdmin.id, platformRole: 'admin', email: TEST_ADMIN.email }),
    );

    const { admin, session, key } = await tenant();
    expectError(await query('auth.audit.platform', { limit: 5 }, key.headers, peer.app), 403, 'FORBIDDEN');
    const granted = await mutate(
      'auth.platformRoles.set',
      { userId: admin.id, platformRole: 'operator' },
      platformHeaders,
    );
    expectOk(granted);
    expect(data(granted)).toMatchObject({ id: admin.id, platformRole: 'operator' });
    // The old token carried no platform role: it ends, on every instance.
    const tokenMs = await msUntil(
      async () => (await query('auth.me', undefined, session.headers, peer.app)).res.status === 401,
      'the old access token on the peer',
    );
    console.log(`platform role granted: the old access token refused on the peer after ${tokenMs} ms`);
    // The key's owner now holds the role: the peer's key cache was told.
    const keyMs = await msUntil(
      async () =>
        (await query('auth.audit.platform', { limit: 5 }, key.headers, peer.app)).res.status === 200,
      'the key acting as a platform operator on the peer',
    );
    console.log(`platform role granted: the API key reads the platform log on the peer after ${keyMs} ms`);
    const operator = await login(t, admin);
    secrets.remember(operator.accessToken, operator.refreshToken);
    expectOk(await query('auth.audit.platform', { limit: 5 }, operator.headers));
    // Operator is not admin.
    expectError(await query('auth.organizations.list', {}, operator.headers), 403, 'FORBIDDEN');
    expect(
      data(await query('auth.platformRoles.list', undefined, platformHeaders)).map(
        (m: { userId: string }) => m.userId,
      ),
    ).toContain(admin.id);

    const taken = await mutate(
      'auth.platformRoles.set',
      { userId: admin.id, platformRole: null },
      platformHeaders,
    );
    expectOk(taken);
    const goneMs = await msUntil(
      async () =>
        (await query('auth.audit.platform', { limit: 5 }, key.headers, peer.app)).res.status === 403,
      'the key losing the platform role on the peer',
    );
    console.log(`platform role taken away: the API key refused on the peer after ${goneMs} ms`);

    const last = await mutate(
      'auth.platformRoles.set',
      { userId: platformAdmin.id, platformRole: 'operator' },
      platformHeaders,
    );
    expectError(last, 409, 'CONFLICT');
    expect(last.body.error.message).toMatch(/last enabled platform admin/);
    expectError(
      await mutate(
        'auth.platformRoles.set',
        { userId: randomUUID(), platformRole: 'operator' },
        platformHeaders,
      ),
      404,
      'NOT_FOUND',
    );
    const events = (await platformEvents('platform_role_changed')).filter((e) => e.targetId === admin.id);
    expect(events.map((e) => e.details.newPlatformRole)).toEqual([null, 'operator']);
  });
});

describe('removing members', () => {
  it("deletes a member, whose token and key stop working on the peer; another organization's user is NOT_FOUND", async () => {
    const { admin, session } = await tenant();
    const member = await createUser(t, 'operator', admin);
    const memberSession = await login(t, member);
    const memberKey = await createApiKey(t, member, ['auth:read', 'system:read']);
    secrets.remember(member.password, memberSession.accessToken, memberSession.refreshToken, memberKey.key);
    expectOk(await query('auth.me', undefined, memberSession.headers, peer.app));
    expectOk(await query('auth.me', undefined, memberKey.headers, peer.app));

    const stranger = await tenant();
    const foreign = await mutate('auth.users.remove', { id: stranger.admin.id }, session.headers);
    const unknown = await mutate('auth.users.remove', { id: randomUUID() }, session.headers);
    expectError(foreign, 404, 'NOT_FOUND');
    expect(withoutRequestId(foreign)).toEqual(withoutRequestId(unknown));
    expectError(await mutate('auth.users.remove', { id: admin.id }, session.headers), 400, 'BAD_REQUEST');

    const removed = await mutate('auth.users.remove', { id: member.id }, session.headers);
    expectOk(removed);
    expect(data(removed)).toMatchObject({ id: member.id, revokedSessions: 1 });
    const tokenMs = await msUntil(
      async () => (await query('auth.me', undefined, memberSession.headers, peer.app)).res.status === 401,
      "the removed member's access token on the peer",
    );
    console.log(`removal: the access token refused on the peer after ${tokenMs} ms`);
    const keyMs = await msUntil(
      async () => (await query('auth.me', undefined, memberKey.headers, peer.app)).res.status === 401,
      "the removed member's API key on the peer",
    );
    console.log(`removal: the API key refused on the peer after ${keyMs} ms`);
    const rows = await t.deps.database.db
      .selectFrom('users')
      .select('id')
      .where('id', '=', member.id)
      .execute();
    expect(rows).toEqual([]);
    expectError(await mutate('auth.users.remove', { id: member.id }, session.headers), 404, 'NOT_FOUND');
    const log = await query('auth.audit.list', { limit: 10, type: 'user_removed' }, session.headers);
    expect(data(log).items[0]).toMatchObject({
      targetId: member.id,
      details: { email: member.email, role: 'operator' },
    });
    // The stranger is untouched.
    expectOk(await query('auth.me', undefined, stranger.session.headers, peer.app));
  });

  it('refuses to remove a holder of a platform role', async () => {
    const holder = await createUser(t, 'viewer');
    secrets.remember(holder.password);
    expectOk(
      await mutate(
        'auth.platformRoles.set',
        { userId: holder.id, platformRole: 'operator' },
        platformHeaders,
      ),
    );
    const answer = await mutate('auth.users.remove', { id: holder.id }, platformHeaders);
    expectError(answer, 409, 'CONFLICT');
    expectOk(
      await mutate('auth.platformRoles.set', { userId: holder.id, platformRole: null }, platformHeaders),
    );
    expectOk(await mutate('auth.users.remove', { id: holder.id }, platformHeaders));
  });
});

describe('secrets at rest', () => {
  it('keeps invitation tokens only as SHA-256, and no token or password in any table or log line', async () => {
    const { session } = await tenant();
    const created = await mutate(
      'auth.invitations.create',
      { email: uniqueEmail('hashed'), role: 'viewer' },
      session.headers,
    );
    expectOk(created);
    const { token, invitation } = data(created);
    secrets.remember(token);
    const row = await t.deps.database.db
      .selectFrom('invitations')
      .select('token_hash')
      .where('id', '=', invitation.id)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(createHash('sha256').update(token).digest('hex'));

    expect(secrets.size).toBeGreaterThan(20);
    const dump = await dumpTables(t, ['invitations', 'users', 'sessions', 'api_keys', 'audit_events']);
    secrets.expectNoneIn(dump, 'tables');
    secrets.expectNoneIn(JSON.stringify([...t.logs, ...peer.logs]), 'log lines');
  });
});

// --- Deletion helpers -------------------------------------------------------------------------------

/** Tables of the public schema with an organization_id column, from the catalogue. */
async function tablesWithOrganization(): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    select c.table_name from information_schema.columns c
    join information_schema.tables t on t.table_name = c.table_name and t.table_schema = c.table_schema
    where c.table_schema = current_schema() and c.column_name = 'organization_id' and t.table_type = 'BASE TABLE'
    order by c.table_name
  `.execute(t.deps.database.db);
  return rows.map((row) => row.table_name);
}

/** Rows of `organizationId` and of every other organization (null included), by table. */
async function rowCounts(tables: string[], organizationId: string) {
  const victim: Record<string, number> = {};
  const others: Record<string, number> = {};
  for (const table of tables) {
    // Identifiers quoted by sql.table; the names come from the catalogue.
    const { rows } = await sql<{ mine: string; rest: string }>`
      select count(*) filter (where organization_id = ${organizationId}::uuid) as mine,
             count(*) filter (where organization_id is distinct from ${organizationId}::uuid) as rest
      from ${sql.table(table)}
    `.execute(t.deps.database.db);
    victim[table] = Number(rows[0]?.mine ?? 0);
    others[table] = Number(rows[0]?.rest ?? 0);
  }
  return { victim, others };
}

/**
 * Gives an organization a row in every table that has organization_id: through the API where a
 * procedure writes it, directly where only a background process (the alert evaluator, the
 * deployment engine, the backup scheduler) would.
 */
async function populate(organizationId: string, headers: { authorization: string }): Promise<void> {
  const db = t.deps.database.db;
  expectOk(await mutate('system.annotations.create', { text: 'before the end' }, headers));
  // An organization's environments (and their first revisions) appear on its first devops call.
  expectOk(await query('devops.environments.list', undefined, headers));
  const invited = await mutate(
    'auth.invitations.create',
    { email: uniqueEmail('pop'), role: 'viewer' },
    headers,
  );
  expectOk(invited);
  secrets.remember(data(invited).token);
  const rule = await db
    .insertInto('alert_rules')
    .values({
      organization_id: organizationId,
      name: `Rule_${randomBytes(3).toString('hex')}`,
      expression: 'db_up',
      comparator: '==',
      threshold: 0,
      for_seconds: 0,
      severity: 'info',
      enabled: false,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('alert_history')
    .values({
      rule_id: rule.id,
      organization_id: organizationId,
      rule_name: 'Rule',
      from_state: 'inactive',
      to_state: 'pending',
      value: 0,
    })
    .execute();
  await db
    .insertInto('alert_webhooks')
    .values({
      id: randomUUID(),
      organization_id: organizationId,
      name: 'hook',
      url: 'https://hooks.example.com/x',
      secret_sealed: 'not-a-real-sealed-secret',
      enabled: false,
    })
    .execute();
  const deployment = await db
    .insertInto('deployments')
    .values({
      organization_id: organizationId,
      service: 'svc',
      environment: 'staging',
      version: 'v2',
      stable_version: 'v1',
      strategy: 'canary',
      spec: JSON.stringify({ strategy: 'canary', steps: [] }),
      provider: JSON.stringify({ kind: 'webhook', config: {} }),
      status: 'aborted',
      finished_at: sql<Date>`now()`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('bad_versions')
    .values({
      organization_id: organizationId,
      service: 'svc',
      environment: 'staging',
      version: 'v2',
      reason: 'test',
      deployment_id: deployment.id,
    })
    .execute();
  const schedule = await db
    .insertInto('backup_schedules')
    .values({
      organization_id: organizationId,
      cron: '0 3 * * *',
      retention_count: 1,
      enabled: false,
      next_run_at: sql<Date>`now() + interval '1 year'`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('backups')
    .values({
      organization_id: organizationId,
      schedule_id: schedule.id,
      status: 'failed',
      path: '/nonexistent/backup',
      error: 'test row',
      finished_at: sql<Date>`now()`,
    })
    .execute();
  // A second factor waiting for its first code, and a sign-in challenge.
  const member = await db
    .selectFrom('users')
    .select(['id', 'organization_id'])
    .where('organization_id', '=', organizationId)
    .executeTakeFirstOrThrow();
  const totp = await t.deps.auth.factors.beginTotp({ userId: member.id, organizationId });
  const challenge = await t.deps.database.transaction((trx) =>
    t.deps.auth.factors.openChallenge(trx, member, 'verify'),
  );
  secrets.remember(totp.secret, challenge.token);
  // A passkey: the row a registration leaves (its public key is no secret).
  await db
    .insertInto('passkeys')
    .values({
      id: randomBytes(16).toString('base64url'),
      user_id: member.id,
      organization_id: organizationId,
      public_key: new Uint8Array(randomBytes(77)),
      name: 'doomed key',
    })
    .execute();
}
