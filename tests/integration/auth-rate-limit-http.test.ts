import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../db/local-processes';
import { type PeerApp, startPeerApp, startTestApp, TEST_ADMIN, type TestApp } from '../helpers/app';
import { createUser, type TestUser } from '../helpers/auth';
import { type Answer, send } from '../helpers/http';
import { dumpTables, SecretScan } from '../helpers/secret-scan';

// The rate limits of the tRPC endpoint over HTTP, with limits set low through configuration:
// anonymous calls per address (each call of a batch counts), access-token calls per user, login
// attempts per address; a failing store (auth refuses, the rest admits); and one limit shared by
// three instances through the PostgreSQL store. Behind a trusted proxy each test speaks from an
// address of its own (X-Forwarded-For), so the tests do not spend each other's allowances.

const IP_LIMIT = 10;
const USER_LIMIT = 5;
const LOGIN_LIMIT = 3;
const SHARED_IP_LIMIT = 6;

let limited: TestApp;
/** RATE_LIMIT_STORE=redis with nothing listening at REDIS_URL. */
let storeDown: TestApp;
/** Three instances on one database sharing RATE_LIMIT_STORE=postgres. */
let shared: TestApp;
let sharedPeers: PeerApp[] = [];

/** Every password and token this file used, for the final scan of tables and logs. */
const secrets = new SecretScan();
secrets.remember(TEST_ADMIN.password);
const remember = (...values: (string | null | undefined)[]) => secrets.remember(...values);

beforeAll(async () => {
  [limited, storeDown, shared] = await Promise.all([
    startTestApp({
      TRUST_PROXY: 'true',
      RATE_LIMIT_IP_PER_MINUTE: String(IP_LIMIT),
      RATE_LIMIT_USER_PER_MINUTE: String(USER_LIMIT),
      RATE_LIMIT_LOGIN_PER_MINUTE: String(LOGIN_LIMIT),
    }),
    freePort().then((port) =>
      startTestApp({ RATE_LIMIT_STORE: 'redis', REDIS_URL: `redis://127.0.0.1:${port}` }),
    ),
    startTestApp({ RATE_LIMIT_STORE: 'postgres', RATE_LIMIT_IP_PER_MINUTE: String(SHARED_IP_LIMIT) }),
  ]);
  sharedPeers = await Promise.all([startPeerApp(shared), startPeerApp(shared)]);
  for (const app of [limited, storeDown, shared]) remember(app.admin.authorization.slice('Bearer '.length));
});
afterAll(async () => {
  await Promise.all(sharedPeers.map((peer) => peer.close()));
  await Promise.all([limited?.close(), storeDown?.close(), shared?.close()]);
});

type AppLike = Pick<TestApp['app'], 'request'>;

const from = (ip: string, headers: Record<string, string> = {}) => ({ 'x-forwarded-for': ip, ...headers });
/** A GET batch of `calls` calls of system.info. */
const infoBatch = (app: AppLike, calls: number, headers: Record<string, string>) =>
  send(
    app,
    `/api/trpc/${Array.from({ length: calls }, () => 'system.info').join(',')}?batch=1&input=%7B%7D`,
    { headers },
  );
const info = (app: AppLike, headers: Record<string, string> = {}) =>
  send(app, '/api/trpc/system.info', { headers });
const me = (app: AppLike, headers: Record<string, string>) => send(app, '/api/trpc/auth.me', { headers });

async function loginOver(
  app: TestApp,
  user: TestUser,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const answer = await send(app.app, '/api/trpc/auth.login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email: user.email, password: user.password }),
  });
  if (answer.res.status === 200) {
    remember(answer.body.result.data.accessToken, answer.body.result.data.refreshToken);
  }
  return answer;
}

async function newUser(app: TestApp, role: TestUser['role'] = 'viewer'): Promise<TestUser> {
  const user = await createUser(app, role);
  remember(user.password);
  return user;
}

/** The code of a single call's error, or of every call of a refused batch (they must agree). */
function errorCode(answer: Answer): string | undefined {
  if (Array.isArray(answer.body)) {
    const codes = new Set(
      answer.body.map((call: { error?: { data: { code: string } } }) => call.error?.data.code),
    );
    expect(codes.size).toBe(1);
    return [...codes][0];
  }
  return answer.body?.error?.data?.code;
}

function expectRefusedForRate(answer: Answer, policy: string, quota: number): void {
  expect(answer.res.status, answer.text).toBe(429);
  expect(errorCode(answer)).toBe('TOO_MANY_REQUESTS');
  expect(Number(answer.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(answer.res.headers.get('ratelimit')).toMatch(new RegExp(`^"${policy}";r=0;t=\\d+$`));
  expect(answer.res.headers.get('ratelimit-policy')).toBe(`"${policy}";q=${quota};w=60`);
}

describe('the anonymous limit per address', () => {
  it('counts every call of a batch and answers 429 with Retry-After and RateLimit headers when spent', async () => {
    const ip = '203.0.113.1';
    const first = await infoBatch(limited.app, 5, from(ip));
    expect(first.res.status).toBe(200);
    expect(first.body).toHaveLength(5);
    expect(first.res.headers.get('ratelimit')).toMatch(/^"ip";r=5;t=\d+$/);
    expect(first.res.headers.get('ratelimit-policy')).toBe(`"ip";q=${IP_LIMIT};w=60`);

    const second = await infoBatch(limited.app, 5, from(ip));
    expect(second.res.status).toBe(200);
    expect(second.res.headers.get('ratelimit')).toMatch(/^"ip";r=0;t=\d+$/);

    expectRefusedForRate(await info(limited.app, from(ip)), 'ip', IP_LIMIT);
    expectRefusedForRate(await infoBatch(limited.app, 3, from(ip)), 'ip', IP_LIMIT);
    // Another address has an allowance of its own.
    expect((await info(limited.app, from('203.0.113.2'))).res.status).toBe(200);
  });

  it('does not charge calls with a credential to the address: they are limited per user or key', async () => {
    const ip = '203.0.113.3';
    expect((await infoBatch(limited.app, IP_LIMIT, from(ip))).res.status).toBe(200);
    expect((await info(limited.app, from(ip))).res.status).toBe(429);
    const keyed = await me(limited.app, from(ip, limited.admin));
    expect(keyed.res.status).toBe(200);
    expect(keyed.res.headers.get('ratelimit-policy')).toBeNull();
  });

  it('refuses a batch larger than the whole allowance with 429, not a server error', async () => {
    const answer = await infoBatch(limited.app, IP_LIMIT + 1, from('203.0.113.4'));
    expect(answer.res.status, answer.text).toBe(429);
    expect(errorCode(answer)).toBe('TOO_MANY_REQUESTS');
  });
});

describe('the limit per user', () => {
  it('limits access-token calls per user, whatever the address', async () => {
    const user = await newUser(limited);
    const signedIn = await loginOver(limited, user, from('203.0.113.10'));
    expect(signedIn.res.status).toBe(200);
    const token = { authorization: `Bearer ${signedIn.body.result.data.accessToken}` };

    for (let call = 1; call <= USER_LIMIT; call++) {
      const answer = await me(limited.app, from(`203.0.113.${10 + call}`, token));
      expect(answer.res.status).toBe(200);
      expect(answer.res.headers.get('ratelimit')).toMatch(
        new RegExp(`^"user";r=${USER_LIMIT - call};t=\\d+$`),
      );
      expect(answer.res.headers.get('ratelimit-policy')).toBe(`"user";q=${USER_LIMIT};w=60`);
    }
    expectRefusedForRate(await me(limited.app, from('203.0.113.30', token)), 'user', USER_LIMIT);

    // Another user, and the same address without credentials, are not affected.
    const other = await loginOver(limited, await newUser(limited), from('203.0.113.31'));
    const otherToken = { authorization: `Bearer ${other.body.result.data.accessToken}` };
    expect((await me(limited.app, from('203.0.113.30', otherToken))).res.status).toBe(200);
    expect((await info(limited.app, from('203.0.113.30'))).res.status).toBe(200);
  });
});

describe('the login limit per address', () => {
  it('is stricter than the anonymous limit: refused logins while other calls still pass', async () => {
    const ip = '203.0.113.40';
    const user = await newUser(limited);
    for (let attempt = 1; attempt <= LOGIN_LIMIT; attempt++) {
      const answer = await loginOver(limited, user, from(ip));
      expect(answer.res.status).toBe(200);
      expect(answer.res.headers.get('ratelimit')).toMatch(
        new RegExp(`^"login";r=${LOGIN_LIMIT - attempt};t=\\d+$`),
      );
    }
    const refused = await loginOver(limited, user, from(ip));
    expectRefusedForRate(refused, 'login', LOGIN_LIMIT);

    const anonymous = await info(limited.app, from(ip));
    expect(anonymous.res.status).toBe(200);
    expect(anonymous.res.headers.get('ratelimit')).toMatch(
      new RegExp(`^"ip";r=${IP_LIMIT - LOGIN_LIMIT - 2};t=\\d+$`),
    );
    // The limit is per address: the same account signs in from elsewhere.
    expect((await loginOver(limited, user, from('203.0.113.41'))).res.status).toBe(200);
  });
});

describe('a failing rate-limit store', () => {
  it('refuses logins (fail closed) with 503 SERVICE_UNAVAILABLE and Retry-After', async () => {
    const user = await newUser(storeDown);
    const answer = await loginOver(storeDown, user);
    expect(answer.res.status, answer.text).toBe(503);
    expect(answer.body.error.data.code).toBe('SERVICE_UNAVAILABLE');
    expect(answer.body.error.message).toBe('sign-in is unavailable, retry later');
    expect(answer.res.headers.get('retry-after')).toBe('5');
    expect(answer.res.headers.get('ratelimit-policy')).toMatch(/^"login";/);
    const sessions = await storeDown.deps.database.db.selectFrom('sessions').select('id').execute();
    expect(sessions).toEqual([]);
  });

  it('still answers public procedures (fail open)', async () => {
    const answer = await info(storeDown.app);
    expect(answer.res.status).toBe(200);
    expect(answer.body.result.data.name).toBe('beauty-crafter-platform');
    const { values } = await storeDown.deps.metrics.auth.rateLimitDecisions.get();
    const storeErrors = values.filter((value) => value.labels.decision === 'store_error');
    expect(storeErrors.map((value) => value.labels.policy)).toEqual(expect.arrayContaining(['ip', 'login']));
  });
});

describe('three instances sharing the PostgreSQL store', () => {
  it('admit no more than one address’s limit in total', async () => {
    const apps = [shared.app, ...sharedPeers.map((peer) => peer.app)];
    const answers = await Promise.all(
      Array.from({ length: SHARED_IP_LIMIT * 3 }, (_, i) => info(apps[i % apps.length]!)),
    );
    const statuses = answers.map((answer) => answer.res.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(SHARED_IP_LIMIT);
    expect(statuses.filter((status) => status === 429)).toHaveLength(SHARED_IP_LIMIT * 2);
    // Every instance refuses now, whichever admitted the calls.
    for (const app of apps) expect((await info(app)).res.status).toBe(429);
  });
});

describe('what the database and the logs keep', () => {
  it('stores no password or token in any table', async () => {
    expect(secrets.size).toBeGreaterThan(10);
    for (const app of [limited, storeDown, shared])
      secrets.expectNoneIn(await dumpTables(app, ['rate_limits', 'sessions']), app.database.name);
  });

  it('logs no password or token', () => {
    const lines = [limited, storeDown, shared].flatMap((app) => app.logs);
    lines.push(...sharedPeers.flatMap((peer) => peer.logs));
    expect(lines.length).toBeGreaterThan(20);
    secrets.expectNoneIn(JSON.stringify(lines), 'log lines');
  });
});
