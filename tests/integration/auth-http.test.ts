import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_HEADERS } from '../../server/http/middleware/security-headers';
import { hashSecret } from '../../server/services/auth/secrets';
import { type PeerApp, startPeerApp, startTestApp, TEST_ADMIN, type TestApp } from '../helpers/app';
import {
  createApiKey,
  createOrganization,
  createUser,
  login,
  type SignedIn,
  type TestUser,
} from '../helpers/auth';
import { type Answer, send } from '../helpers/http';
import { dumpTables, SecretScan } from '../helpers/secret-scan';

// Auth over HTTP through the whole app on real PostgreSQL: logins, refresh-token rotation with
// the browser cookie and its CSRF check, logouts reaching a second instance, sessions, password
// changes and API keys. Every secret handled here is remembered, and the last tests check that
// none of them reached a table or a log line.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REFRESH_COOKIE =
  /^bc_refresh=([A-Za-z0-9_-]{43}); Max-Age=(\d+); Path=\/api\/trpc; HttpOnly; Secure; SameSite=Strict$/;
/** What app.request() is: http://localhost, so this Origin is the app's own. */
const SAME_ORIGIN = 'http://localhost';

let t: TestApp;
/** The same app with AUTH_REFRESH_GRACE_SECONDS=0: any second use of a refresh token is reuse. */
let noGrace: TestApp;
/** A second instance on t's database, as a deployment with two replicas has. */
let peer: PeerApp;

/** Every password, refresh token, access token and API key this file used. */
const secrets = new SecretScan();
const remember = (...values: (string | null | undefined)[]) => secrets.remember(...values);

beforeAll(async () => {
  [t, noGrace] = await Promise.all([startTestApp(), startTestApp({ AUTH_REFRESH_GRACE_SECONDS: '0' })]);
  peer = await startPeerApp(t);
  remember(TEST_ADMIN.password, bearerOf(t.admin), bearerOf(noGrace.admin));
});
afterAll(async () => {
  await peer?.close();
  await Promise.all([t?.close(), noGrace?.close()]);
});

type HeaderMap = Record<string, string>;
type AppLike = Pick<TestApp['app'], 'request'>;

const input = (value: unknown) => `input=${encodeURIComponent(JSON.stringify(value))}`;
const query = (procedure: string, headers: HeaderMap = {}, value?: unknown, app: AppLike = t.app) =>
  send(app, `/api/trpc/${procedure}${value === undefined ? '' : `?${input(value)}`}`, { headers });
const mutate = (procedure: string, value: unknown, headers: HeaderMap = {}, app: AppLike = t.app) =>
  send(app, `/api/trpc/${procedure}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(value ?? {}),
  });

const bearerOf = (headers: { authorization: string }) => headers.authorization.slice('Bearer '.length);
const data = (answer: Answer) => answer.body.result.data;

/** A tRPC error with this status and code, carrying the response's request id. */
function expectTrpcError(answer: Answer, status: number, code: string): void {
  expect(answer.res.status, answer.text).toBe(status);
  const error = answer.body.error;
  expect(error.data.code).toBe(code);
  expect(error.data.httpStatus).toBe(status);
  expect(error.data.requestId).toBe(answer.res.headers.get('x-request-id'));
  expect(error.message.length).toBeGreaterThan(0);
}

/** An error body with its request id taken out: what two refusals must share to be indistinguishable. */
function withoutRequestId(answer: Answer): unknown {
  const copy = structuredClone(answer.body);
  if (copy?.error?.data) delete copy.error.data.requestId;
  return copy;
}

async function newUser(role: TestUser['role'], admin?: TestUser, app: TestApp = t): Promise<TestUser> {
  const user = await createUser(app, role, admin);
  remember(user.password);
  return user;
}

async function signIn(user: TestUser, app: TestApp = t): Promise<SignedIn> {
  const signedIn = await login(app, user);
  remember(signedIn.accessToken, signedIn.refreshToken);
  return signedIn;
}

async function refreshWithBody(refreshToken: string, app: AppLike = t.app): Promise<Answer> {
  const answer = await mutate('auth.refresh', { refreshToken }, {}, app);
  if (answer.res.status === 200) remember(data(answer).accessToken, data(answer).refreshToken);
  return answer;
}

/**
 * Calls auth.me with `headers` until it answers 401 or a second has passed; returns the last
 * status. Revocations reach every instance through the change feed, which takes a moment.
 */
async function statusWithinOneSecond(headers: HeaderMap, app: AppLike = t.app): Promise<number> {
  const deadline = performance.now() + 1_000;
  for (;;) {
    const { res } = await query('auth.me', headers, undefined, app);
    if (res.status === 401 || performance.now() >= deadline) return res.status;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function cookieOf(answer: Answer): { token: string; maxAge: number } {
  const header = answer.res.headers.get('set-cookie');
  expect(header).toMatch(REFRESH_COOKIE);
  const [, token, maxAge] = REFRESH_COOKIE.exec(header ?? '') ?? [];
  remember(token);
  return { token: token as string, maxAge: Number(maxAge) };
}

async function refreshTokenRow(token: string, app: TestApp = t) {
  return app.deps.database.db
    .selectFrom('refresh_tokens')
    .select(['id', 'session_id', 'rotated_at'])
    .where('token_hash', '=', hashSecret(token))
    .executeTakeFirstOrThrow();
}

describe('auth.login', () => {
  it('gives a non-browser client both tokens in the body and sets no cookie', async () => {
    const user = await newUser('viewer');
    const answer = await mutate('auth.login', { email: user.email, password: user.password });
    expect(answer.res.status).toBe(200);
    const issued = data(answer);
    remember(issued.accessToken, issued.refreshToken);
    expect(issued).toMatchObject({
      tokenType: 'Bearer',
      accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      session: { id: expect.stringMatching(UUID) },
      user: { id: user.id, email: user.email, role: 'viewer' },
    });
    expect(answer.res.headers.get('set-cookie')).toBeNull();
    const me = await query('auth.me', { authorization: `Bearer ${issued.accessToken}` });
    expect(data(me)).toMatchObject({ kind: 'user', userId: user.id, sessionId: issued.session.id });
  });

  it('gives a browser the refresh token only as a Secure HttpOnly SameSite=Strict cookie', async () => {
    const user = await newUser('viewer');
    const answer = await mutate(
      'auth.login',
      { email: user.email, password: user.password },
      { 'sec-fetch-site': 'same-origin', origin: SAME_ORIGIN },
    );
    expect(answer.res.status).toBe(200);
    const issued = data(answer);
    remember(issued.accessToken);
    expect(issued.refreshToken).toBeNull();
    expect(issued.accessToken).toEqual(expect.any(String));
    const cookie = cookieOf(answer);
    // Max-Age is the session's remaining lifetime, counted when the cookie was written.
    const lifetime = (Date.parse(issued.session.expiresAt) - Date.now()) / 1000;
    expect(Math.abs(cookie.maxAge - lifetime)).toBeLessThan(60);
    expect(answer.text).not.toContain(cookie.token);
    expect((await refreshTokenRow(cookie.token)).session_id).toBe(issued.session.id);
  });

  it('answers a wrong password, an unknown email and a disabled user identically', async () => {
    const user = await newUser('viewer');
    const disabled = await newUser('viewer');
    expect((await mutate('auth.users.disable', { id: disabled.id }, t.admin)).res.status).toBe(200);
    const wrongPassword = `${user.password}-wrong`;
    remember(wrongPassword);

    const answers = [
      await mutate('auth.login', { email: user.email, password: wrongPassword }),
      await mutate('auth.login', { email: `nobody-${user.email}`, password: user.password }),
      await mutate('auth.login', { email: disabled.email, password: disabled.password }),
    ];
    for (const answer of answers) {
      expectTrpcError(answer, 401, 'UNAUTHORIZED');
      expect(answer.res.headers.get('set-cookie')).toBeNull();
    }
    expect(answers[0]?.body.error.message).toBe('invalid email or password');
    expect(withoutRequestId(answers[1]!)).toEqual(withoutRequestId(answers[0]!));
    expect(withoutRequestId(answers[2]!)).toEqual(withoutRequestId(answers[0]!));
  });

  it('answers with no-store and every security header, refused or not', async () => {
    const user = await newUser('viewer');
    const wrongPassword = `${user.password}-nope`;
    remember(wrongPassword);
    const answers = [
      await mutate('auth.login', { email: user.email, password: user.password }),
      await mutate('auth.login', { email: user.email, password: wrongPassword }),
    ];
    remember(data(answers[0]!).accessToken, data(answers[0]!).refreshToken);
    for (const { res } of answers) {
      expect(res.headers.get('cache-control')).toBe('no-store');
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(name)).toBe(value);
    }
  });
});

describe('auth.refresh', () => {
  it('rotates a refresh token sent in the body', async () => {
    const session = await signIn(await newUser('viewer'));
    const answer = await refreshWithBody(session.refreshToken);
    expect(answer.res.status).toBe(200);
    const issued = data(answer);
    expect(issued.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(issued.refreshToken).not.toBe(session.refreshToken);
    expect(issued.session.id).toBe(session.sessionId);
    expect(answer.res.headers.get('set-cookie')).toBeNull();
    expect((await refreshTokenRow(session.refreshToken)).rotated_at).not.toBeNull();
    expect((await query('auth.me', { authorization: `Bearer ${issued.accessToken}` })).res.status).toBe(200);
  });

  async function browserLogin(): Promise<{ cookie: string; sessionId: string }> {
    const user = await newUser('viewer');
    const answer = await mutate(
      'auth.login',
      { email: user.email, password: user.password },
      { 'sec-fetch-site': 'same-origin', origin: SAME_ORIGIN },
    );
    remember(data(answer).accessToken);
    return { cookie: cookieOf(answer).token, sessionId: data(answer).session.id };
  }

  it('rotates the cookie of a same-origin browser request and sets the next one', async () => {
    const { cookie, sessionId } = await browserLogin();
    const answer = await mutate(
      'auth.refresh',
      {},
      { cookie: `bc_refresh=${cookie}`, origin: SAME_ORIGIN, 'sec-fetch-site': 'same-origin' },
    );
    expect(answer.res.status, answer.text).toBe(200);
    remember(data(answer).accessToken);
    expect(data(answer).refreshToken).toBeNull();
    expect(data(answer).session.id).toBe(sessionId);
    const next = cookieOf(answer);
    expect(next.token).not.toBe(cookie);
    expect((await refreshTokenRow(cookie)).rotated_at).not.toBeNull();
    expect((await refreshTokenRow(next.token)).rotated_at).toBeNull();
  });

  it.each([
    ['a cross-site Origin', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
    ['an Origin of another port', { origin: 'http://localhost:8080' }],
    ['Origin: null', { origin: 'null' }],
    ['Sec-Fetch-Site: cross-site and no Origin', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site and no Origin', { 'sec-fetch-site': 'same-site' }],
    ['neither Origin nor Sec-Fetch-Site', {}],
  ])('refuses the cookie with %s (FORBIDDEN) and rotates nothing', async (_label, headers: HeaderMap) => {
    const { cookie, sessionId } = await browserLogin();
    const answer = await mutate('auth.refresh', {}, { cookie: `bc_refresh=${cookie}`, ...headers });
    expectTrpcError(answer, 403, 'FORBIDDEN');
    expect(answer.res.headers.get('set-cookie')).toBeNull();
    expect((await refreshTokenRow(cookie)).rotated_at).toBeNull();
    const family = await t.deps.database.db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('session_id', '=', sessionId)
      .execute();
    expect(family).toHaveLength(1);
  });

  it('refuses the cookie with a text/plain body (an HTML form could send one) and rotates nothing', async () => {
    const { cookie } = await browserLogin();
    const answer = await send(t.app, '/api/trpc/auth.refresh', {
      method: 'POST',
      headers: {
        'content-type': 'text/plain',
        cookie: `bc_refresh=${cookie}`,
        origin: SAME_ORIGIN,
        'sec-fetch-site': 'same-origin',
      },
      body: '{}',
    });
    expectTrpcError(answer, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(answer.res.headers.get('set-cookie')).toBeNull();
    expect((await refreshTokenRow(cookie)).rotated_at).toBeNull();
  });

  it('answers 20 concurrent refreshes with one token alike: 200 and the same next token', async () => {
    const session = await signIn(await newUser('viewer'));
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => refreshWithBody(session.refreshToken)),
    );
    expect(answers.map((a) => a.res.status)).toEqual(Array(20).fill(200));
    const next = new Set(answers.map((a) => data(a).refreshToken as string));
    expect(next.size).toBe(1);
    expect(next.has(session.refreshToken)).toBe(false);
    // One rotation: the first token and its one child, whatever order the 20 arrived in.
    const family = await t.deps.database.db
      .selectFrom('refresh_tokens')
      .select(['rotated_at'])
      .where('session_id', '=', session.sessionId)
      .execute();
    expect(family).toHaveLength(2);
    expect(family.filter((row) => row.rotated_at === null)).toHaveLength(1);
  });

  it('revokes the family when a rotated token is used again outside the grace window', async () => {
    const user = await newUser('viewer', undefined, noGrace);
    const session = await signIn(user, noGrace);
    const rotated = await refreshWithBody(session.refreshToken, noGrace.app);
    expect(rotated.res.status).toBe(200);
    const child = data(rotated);

    const reuse = await refreshWithBody(session.refreshToken, noGrace.app);
    expectTrpcError(reuse, 401, 'UNAUTHORIZED');
    expectTrpcError(await refreshWithBody(child.refreshToken, noGrace.app), 401, 'UNAUTHORIZED');
    const status = await statusWithinOneSecond({ authorization: `Bearer ${child.accessToken}` }, noGrace.app);
    expect(status).toBe(401);

    const audit = await noGrace.deps.database.db
      .selectFrom('audit_events')
      .select(['result', 'target_id'])
      .where('type', '=', 'refresh_reuse')
      .execute();
    expect(audit).toEqual([{ result: 'failure', target_id: session.sessionId }]);
    const row = await noGrace.deps.database.db
      .selectFrom('sessions')
      .select('revoked_reason')
      .where('id', '=', session.sessionId)
      .executeTakeFirstOrThrow();
    expect(row.revoked_reason).toBe('refresh_reuse');
  });
});

describe('logout and sessions', () => {
  it('refuses the access token of a logged-out session on this and on a second instance within a second', async () => {
    const session = await signIn(await newUser('viewer'));
    expect((await query('auth.me', session.headers, undefined, peer.app)).res.status).toBe(200);

    const out = await mutate('auth.logout', {}, session.headers);
    expect(out.res.status).toBe(200);
    expect(data(out)).toEqual({ ok: true });
    expect(out.res.headers.get('set-cookie')).toBe(
      'bc_refresh=; Max-Age=0; Path=/api/trpc; HttpOnly; Secure; SameSite=Strict',
    );

    const [here, there] = await Promise.all([
      statusWithinOneSecond(session.headers, t.app),
      statusWithinOneSecond(session.headers, peer.app),
    ]);
    expect(here).toBe(401);
    expect(there).toBe(401);
    expectTrpcError(await refreshWithBody(session.refreshToken), 401, 'UNAUTHORIZED');
  });

  it('ends every session of the caller with logoutAll', async () => {
    const user = await newUser('operator');
    const first = await signIn(user);
    const second = await signIn(user);
    const other = await signIn(await newUser('operator'));

    const answer = await mutate('auth.logoutAll', {}, first.headers);
    expect(answer.res.status).toBe(200);
    expect(data(answer)).toEqual({ ok: true, revoked: { revokedSessions: 2 } });
    for (const session of [first, second]) {
      expect(await statusWithinOneSecond(session.headers)).toBe(401);
      expect(await statusWithinOneSecond(session.headers, peer.app)).toBe(401);
      expectTrpcError(await refreshWithBody(session.refreshToken), 401, 'UNAUTHORIZED');
    }
    expect((await query('auth.me', other.headers)).res.status).toBe(200);
  });

  it('lists the caller’s sessions and revokes one of them', async () => {
    const user = await newUser('viewer');
    const [first, second, third] = [await signIn(user), await signIn(user), await signIn(user)];

    const listed = await query('auth.sessions.list', first.headers);
    expect(listed.res.status).toBe(200);
    const sessions = data(listed) as { id: string; current: boolean }[];
    expect(sessions.map((s) => s.id).sort()).toEqual(
      [first.sessionId, second.sessionId, third.sessionId].sort(),
    );
    expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([first.sessionId]);

    const revoked = await mutate('auth.sessions.revoke', { id: second.sessionId }, first.headers);
    expect(revoked.res.status).toBe(200);
    expect(await statusWithinOneSecond(second.headers)).toBe(401);
    expectTrpcError(await refreshWithBody(second.refreshToken), 401, 'UNAUTHORIZED');
    expect((await query('auth.me', third.headers)).res.status).toBe(200);

    const after = data(await query('auth.sessions.list', first.headers)) as { id: string }[];
    expect(after.map((s) => s.id).sort()).toEqual([first.sessionId, third.sessionId].sort());
  });

  it('answers NOT_FOUND for revoking another user’s session, and refuses API keys', async () => {
    const mine = await signIn(await newUser('operator'));
    const theirs = await signIn(await newUser('operator'));
    expectTrpcError(
      await mutate('auth.sessions.revoke', { id: theirs.sessionId }, mine.headers),
      404,
      'NOT_FOUND',
    );
    expect((await query('auth.me', theirs.headers)).res.status).toBe(200);
    expectTrpcError(await query('auth.sessions.list', t.admin), 403, 'FORBIDDEN');
  });

  it('keeps the current session on changePassword and ends the others', async () => {
    const user = await newUser('viewer');
    const current = await signIn(user);
    const other = await signIn(user);
    const newPassword = `${user.password}-changed`;
    remember(newPassword);

    const wrong = await mutate(
      'auth.changePassword',
      { currentPassword: `${user.password}-wrong`, newPassword },
      current.headers,
    );
    remember(`${user.password}-wrong`);
    expectTrpcError(wrong, 400, 'BAD_REQUEST');

    const changed = await mutate(
      'auth.changePassword',
      { currentPassword: user.password, newPassword },
      current.headers,
    );
    expect(changed.res.status).toBe(200);
    expect(await statusWithinOneSecond(other.headers)).toBe(401);
    expectTrpcError(await refreshWithBody(other.refreshToken), 401, 'UNAUTHORIZED');
    expect((await query('auth.me', current.headers)).res.status).toBe(200);
    expect((await refreshWithBody(current.refreshToken)).res.status).toBe(200);

    expectTrpcError(
      await mutate('auth.login', { email: user.email, password: user.password }),
      401,
      'UNAUTHORIZED',
    );
    expect((await signIn({ ...user, password: newPassword })).sessionId).toMatch(UUID);
  });
});

describe('API keys over HTTP', () => {
  let operator: TestUser;
  let operatorSession: SignedIn;

  beforeAll(async () => {
    operator = await newUser('operator');
    operatorSession = await signIn(operator);
  });

  async function createKey(settings: Record<string, unknown>, headers: HeaderMap = operatorSession.headers) {
    const answer = await mutate('auth.apiKeys.create', { name: 'http test key', ...settings }, headers);
    expect(answer.res.status, answer.text).toBe(200);
    const { key, apiKey } = data(answer) as { key: string; apiKey: { id: string; prefix: string } };
    remember(key);
    return { key, id: apiKey.id, prefix: apiKey.prefix, headers: { authorization: `Bearer ${key}` } };
  }

  it('shows a new key once: create returns it, get and list never do', async () => {
    const created = await createKey({ scopes: ['auth:read'] });
    expect(created.key).toMatch(/^bc_live_[A-Za-z0-9_-]{32}$/);
    expect(created.prefix).toBe(created.key.slice(0, 12));
    const got = await query('auth.apiKeys.get', operatorSession.headers, { id: created.id });
    expect(got.res.status).toBe(200);
    expect(data(got)).toMatchObject({ id: created.id, ownerId: operator.id, prefix: created.prefix });
    expect(data(got)).not.toHaveProperty('key');
    const listed = await query('auth.apiKeys.list', operatorSession.headers, {});
    expect(data(listed).items.map((k: { id: string }) => k.id)).toContain(created.id);
    for (const answer of [got, listed]) expect(answer.text).not.toContain(created.key);
  });

  it('accepts a key as Authorization: Bearer and as X-API-Key, and ignores it in the query string', async () => {
    const { key, id } = await createKey({ scopes: [] });
    for (const headers of [{ authorization: `Bearer ${key}` }, { 'x-api-key': key }] as HeaderMap[]) {
      const me = await query('auth.me', headers);
      expect(me.res.status).toBe(200);
      expect(data(me)).toMatchObject({ kind: 'apiKey', userId: operator.id, apiKeyId: id, sessionId: null });
    }
    for (const name of ['api_key', 'key', 'apiKey', 'access_token']) {
      const answer = await send(t.app, `/api/trpc/auth.me?${name}=${encodeURIComponent(key)}`);
      expectTrpcError(answer, 401, 'UNAUTHORIZED');
    }
  });

  it('refuses a revoked key at once', async () => {
    const created = await createKey({ scopes: [] });
    expect((await query('auth.me', created.headers)).res.status).toBe(200);
    const revoked = await mutate('auth.apiKeys.revoke', { id: created.id }, operatorSession.headers);
    expect(revoked.res.status).toBe(200);
    expect(data(revoked).revokedAt).toEqual(expect.any(String));
    expectTrpcError(await query('auth.me', created.headers), 401, 'UNAUTHORIZED');
  });

  it('answers FORBIDDEN to a key without the scope a procedure needs', async () => {
    const { headers } = await createKey({ scopes: ['system:read'] });
    expectTrpcError(await query('auth.apiKeys.list', headers, {}), 403, 'FORBIDDEN');
    expect((await query('auth.me', headers)).res.status).toBe(200);
  });

  it('answers 429 with Retry-After and a RateLimit header once a key’s rate limit is spent', async () => {
    const { headers } = await createKey({ rateLimits: [{ name: 'burst', limit: 2, periodMs: 60_000 }] });
    const first = await query('auth.me', headers);
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get('ratelimit')).toMatch(/^"api_key";r=1;t=\d+$/);
    expect((await query('auth.me', headers)).res.status).toBe(200);

    const refused = await query('auth.me', headers);
    expectTrpcError(refused, 429, 'TOO_MANY_REQUESTS');
    expect(Number(refused.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.res.headers.get('ratelimit')).toMatch(/^"api_key";r=0;t=\d+$/);
  });

  it('answers TOO_MANY_REQUESTS once a key’s uses have run out', async () => {
    const { headers } = await createKey({ remaining: 2 });
    expect((await query('auth.me', headers)).res.status).toBe(200);
    expect((await query('auth.me', headers)).res.status).toBe(200);
    const refused = await query('auth.me', headers);
    expectTrpcError(refused, 429, 'TOO_MANY_REQUESTS');
    expect(refused.body.error.message).toBe('the API key has no uses left');
  });

  it('rotates a key: with a grace period both work, without one the old key stops at once', async () => {
    const graceful = await createKey({ scopes: [] });
    const rotated = await mutate(
      'auth.apiKeys.rotate',
      { id: graceful.id, gracePeriodSeconds: 300 },
      operatorSession.headers,
    );
    expect(rotated.res.status, rotated.text).toBe(200);
    const replacement = data(rotated).key as string;
    remember(replacement);
    expect(replacement).not.toBe(graceful.key);
    expect(data(rotated).previous.replacedBy).toBe(data(rotated).apiKey.id);
    expect((await query('auth.me', graceful.headers)).res.status).toBe(200);
    expect((await query('auth.me', { authorization: `Bearer ${replacement}` })).res.status).toBe(200);

    const abrupt = await createKey({ scopes: [] });
    const now = await mutate(
      'auth.apiKeys.rotate',
      { id: abrupt.id, gracePeriodSeconds: 0 },
      operatorSession.headers,
    );
    expect(now.res.status).toBe(200);
    remember(data(now).key);
    expectTrpcError(await query('auth.me', abrupt.headers), 401, 'UNAUTHORIZED');
    expect((await query('auth.me', { authorization: `Bearer ${data(now).key}` })).res.status).toBe(200);
  });

  it('lets an operator manage only their own keys, and an admin anyone’s in the organization', async () => {
    const colleague = await newUser('operator');
    const theirs = await createApiKey(t, colleague, ['auth:read']);
    remember(theirs.key);

    expectTrpcError(
      await query('auth.apiKeys.get', operatorSession.headers, { id: theirs.id }),
      403,
      'FORBIDDEN',
    );
    for (const [procedure, value] of [
      ['auth.apiKeys.revoke', { id: theirs.id }],
      ['auth.apiKeys.rotate', { id: theirs.id, gracePeriodSeconds: 0 }],
      ['auth.apiKeys.update', { id: theirs.id, name: 'taken over' }],
      ['auth.apiKeys.create', { name: 'for someone else', ownerId: colleague.id }],
    ] as const) {
      expectTrpcError(await mutate(procedure, value, operatorSession.headers), 403, 'FORBIDDEN');
    }
    expect((await query('auth.me', theirs.headers)).res.status).toBe(200);

    const byAdmin = await mutate('auth.apiKeys.revoke', { id: theirs.id }, t.admin);
    expect(byAdmin.res.status).toBe(200);
    expectTrpcError(await query('auth.me', theirs.headers), 401, 'UNAUTHORIZED');
  });

  it('answers NOT_FOUND for a key of another organization, even to its admin', async () => {
    const ours = await createKey({ scopes: [] });
    const otherAdmin = await createOrganization(t);
    remember(otherAdmin.password);
    const other = await signIn(otherAdmin);
    expectTrpcError(await query('auth.apiKeys.get', other.headers, { id: ours.id }), 404, 'NOT_FOUND');
    for (const [procedure, value] of [
      ['auth.apiKeys.revoke', { id: ours.id }],
      ['auth.apiKeys.rotate', { id: ours.id, gracePeriodSeconds: 0 }],
      ['auth.apiKeys.update', { id: ours.id, name: 'taken over' }],
    ] as const) {
      expectTrpcError(await mutate(procedure, value, other.headers), 404, 'NOT_FOUND');
    }
    const verified = await mutate('auth.apiKeys.verify', { key: ours.key }, other.headers);
    expect(data(verified)).toEqual({ valid: false, code: 'NOT_FOUND' });
    expect((await query('auth.me', ours.headers)).res.status).toBe(200);
  });
});

describe('what the database and the logs keep', () => {
  it('stores no password, refresh token, API key or access token in any table', async () => {
    expect(secrets.size).toBeGreaterThan(50);
    const tables = ['users', 'sessions', 'refresh_tokens', 'api_keys', 'audit_events'];
    secrets.expectNoneIn(await dumpTables(t, tables), 'tables of the main database');
    secrets.expectNoneIn(await dumpTables(noGrace, tables), 'tables of the no-grace database');
  });

  it('logs no password, refresh token, API key or access token', () => {
    const lines = [...t.logs, ...peer.logs, ...noGrace.logs];
    expect(lines.length).toBeGreaterThan(50);
    secrets.expectNoneIn(JSON.stringify(lines), 'log lines');
  });
});
