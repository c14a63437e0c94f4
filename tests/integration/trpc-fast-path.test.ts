import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../server/base/rate-limit/limiter';
import { MemoryRateLimitStore } from '../../server/base/rate-limit/memory-store';
import { rateLimitPolicies } from '../../server/base/rate-limit/policies';
import { type App, createApp } from '../../server/http/app';
import type { AppDeps } from '../../server/http/deps';
import { startTestApp, type TestApp } from '../helpers/app';
import { createApiKey, createOrganization, createUser, login, type TestUser } from '../helpers/auth';
import { PROCEDURES } from '../helpers/router-walk';

/**
 * The single-call path (server/http/trpc-single-call.ts) against tRPC's own fetch adapter, on one
 * database: two apps over the same dependencies, one with TRPC_FAST_PATH off, and a corpus of
 * requests sent to both in turn (the same request id, the fast path first). Every answer must be
 * the same: status, headers (but Date), and body to the byte, except values that legitimately
 * differ between two calls (generated ids, timestamps, tokens, the remaining count of a shared
 * rate limit, live figures of the performance procedures), each allowed only where the two answers
 * differ and only as a value of the same kind.
 */

/** Procedures answering live figures (durations, counts, uptime): their numbers may differ. */
const LIVE_FIGURES = new Set([
  'system.health',
  'system.info',
  'system.status',
  'system.selfTest',
  'performance.overview',
  'performance.routes',
  'performance.procedure',
  'performance.queries',
  'performance.bottlenecks',
  'performance.capacity',
  'performance.history',
  'performance.cache.stats',
  'performance.cache.warm',
  'devops.backups.create',
]);

type Side = 'fast' | 'slow';
/** Same length on both sides: names made from it sort and serialize alike. */
const TAG: Record<Side, string> = { fast: 'tagfq', slow: 'tagsq' };

interface Request {
  path: string;
  init: RequestInit;
}

interface Case {
  label: string;
  /** The request for one side (the fast path's app or the adapter's). */
  request: (side: Side) => Promise<Request>;
  /** Numbers of the answer may differ (live figures). */
  live?: boolean;
}

let t: TestApp;
let apps: Record<Side, App>;
let aAdmin: TestUser;
let loginTarget: TestUser;
let narrowKey: { headers: Record<string, string> };
let wideKey: { headers: Record<string, string> };
/**
 * Rows each side's calls change, so that both sides act on rows in the same state: a viewer of A
 * who calls (signing in afresh for every call, as a logout ends the session), a viewer the calls
 * update and remove, an API key they update, revoke and rotate, a session they revoke.
 */
let targets: Record<
  Side,
  { caller: TestUser; viewer: TestUser; key: { id: string; key: string }; sessionId: string }
>;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'warn' });
  expect(t.deps.config.TRPC_FAST_PATH).toBe(true);
  apps = { fast: t.app, slow: createApp({ ...t.deps, config: { ...t.deps.config, TRPC_FAST_PATH: false } }) };
  aAdmin = await createOrganization(t);
  loginTarget = await createUser(t, 'viewer');
  narrowKey = await createApiKey(t, aAdmin, ['system:read']);
  wideKey = await createApiKey(t, aAdmin);
  const target = async () => {
    const caller = await createUser(t, 'viewer', aAdmin);
    return {
      caller,
      viewer: await createUser(t, 'viewer', aAdmin),
      key: await createApiKey(t, aAdmin),
      sessionId: (await login(t, caller)).sessionId,
    };
  };
  targets = { fast: await target(), slow: await target() };
}, 120_000);
afterAll(() => t?.close());

/** A schema-valid input per procedure for `side`; what a call changes is that side's own. */
function validInput(path: string, side: Side): unknown {
  const tag = TAG[side];
  const own = targets[side];
  const unknownId = '00000000-0000-4000-8000-000000000000';
  const table: Record<string, unknown> = {
    'system.selfTest': {},
    'system.annotations.create': { text: `fast path ${tag}` },
    'system.annotations.list': { limit: 10 },
    'auth.login': { email: loginTarget.email, password: loginTarget.password },
    'auth.refresh': { refreshToken: 'r'.repeat(43) },
    'auth.changePassword': { currentPassword: 'not-the-password-0123', newPassword: 'a-new-password-0123' },
    'auth.sessions.revoke': { id: own.sessionId },
    'auth.users.create': { email: `u-${tag}@fast.test`, password: 'fast-path-password-0123', role: 'viewer' },
    'auth.users.list': { limit: 50 },
    'auth.users.update': { id: own.viewer.id, role: 'operator' },
    'auth.users.disable': { id: own.viewer.id },
    'auth.users.remove': { id: own.viewer.id },
    'auth.apiKeys.create': { name: `key ${tag}` },
    'auth.apiKeys.list': { ownerId: aAdmin.id, limit: 50 },
    'auth.apiKeys.get': { id: own.key.id },
    'auth.apiKeys.update': { id: own.key.id, enabled: false },
    'auth.apiKeys.revoke': { id: own.key.id },
    'auth.apiKeys.rotate': { id: own.key.id },
    'auth.apiKeys.verify': { key: own.key.key },
    'auth.audit.list': { limit: 5 },
    'auth.audit.platform': { limit: 5 },
    'auth.organizations.create': { name: `Org ${tag}`, admin: { email: `o-${tag}@fast.test` } },
    'auth.organizations.list': { limit: 5 },
    'auth.organizations.get': { id: aAdmin.organizationId },
    'auth.organizations.rename': { id: unknownId, name: 'Renamed' },
    'auth.organizations.suspend': { id: unknownId, reason: 'fast path' },
    'auth.organizations.resume': { id: unknownId },
    'auth.organizations.delete': { id: unknownId },
    'auth.platformRoles.set': { userId: unknownId, platformRole: 'operator' },
    'auth.invitations.create': { email: `i-${tag}@fast.test`, role: 'viewer' },
    'auth.invitations.list': { limit: 5 },
    'auth.invitations.revoke': { id: unknownId },
    'auth.invitations.accept': { token: 'x'.repeat(43), password: 'fast-path-password-0123' },
    'performance.routes': {},
    'performance.procedure': { path: 'auth.login' },
    'performance.queries': {},
    'performance.explain': { fingerprint: 'unknown' },
    'performance.cache.warm': { warmers: [] },
    'performance.cache.invalidate': { key: 'fast-path' },
    'performance.alerts.history': {},
    'performance.alerts.create': { name: `Rule_${tag}`, expression: 'db_up', comparator: '==', threshold: 0 },
    'performance.alerts.update': { id: unknownId, threshold: 1 },
    'performance.alerts.delete': { id: unknownId },
    'performance.alerts.webhooks.create': { name: `hook ${tag}`, url: 'https://hooks.example.com/fast' },
    'performance.alerts.webhooks.delete': { id: unknownId },
    'devops.instance.drain': { draining: false },
    'devops.maintenance.set': { enabled: false },
    'devops.environments.get': { name: 'staging' },
    'devops.environments.create': { name: `env-${tag}` },
    'devops.environments.setConfig': { name: `env-${tag}`, values: { FAST: 'yes' } },
    'devops.environments.history': { name: `env-${tag}` },
    'devops.environments.diff': { name: `env-${tag}`, from: 1, to: 1 },
    'devops.environments.rollback': { name: `env-${tag}`, toRevision: 1 },
    'devops.environments.compare': { a: 'staging', b: 'production' },
    'devops.deployments.create': {
      service: `svc-${tag}`,
      environment: 'staging',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary', steps: [{ pause: { durationSeconds: 3600 } }] },
      provider: {
        kind: 'webhook',
        config: { url: 'http://127.0.0.1:9/deploy', secret: 'fast-secret-0123456789' },
      },
    },
    'devops.deployments.list': {},
    'devops.deployments.get': { id: unknownId },
    'devops.deployments.approve': { id: unknownId },
    'devops.deployments.promote': { id: unknownId },
    'devops.deployments.abort': { id: unknownId },
    'devops.deployments.rollback': { id: unknownId },
    // Answered once written: the other side's backup would otherwise find this one running.
    'devops.backups.create': { wait: true },
    'devops.backups.list': {},
    'devops.backups.get': { id: unknownId },
    'devops.backups.verify': { id: unknownId },
    'devops.backups.delete': { id: unknownId },
    'devops.backups.restore': { id: unknownId, confirm: false },
    'devops.backups.schedules.create': { cron: '@daily', retentionCount: 2 },
    'devops.backups.schedules.update': { id: unknownId, enabled: false },
    'devops.backups.schedules.delete': { id: unknownId },
  };
  return table[path];
}

/** An input of the wrong shape: zod refuses it for every procedure that takes one. */
const INVALID_INPUT = 'not an input';

let requestNumber = 0;

/** A call as the typed client makes it: a query by GET with `?input=`, a mutation by POST. */
function call(path: string, type: string, input: unknown, headers: Record<string, string> = {}): Request {
  if (type === 'query') {
    const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    return { path: `/api/trpc/${path}${query}`, init: { headers } };
  }
  return {
    path: `/api/trpc/${path}`,
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: input === undefined ? undefined : JSON.stringify(input),
    },
  };
}

/** A raw request, the same on both sides. */
function raw(label: string, path: string, init: RequestInit = {}): Case {
  return { label, request: async () => ({ path, init }) };
}

/** Who calls, and their headers for one call (a signed-in user signs in afresh: logout ends the session). */
const CALLERS: { name: string; headers: (side: Side) => Promise<Record<string, string>> }[] = [
  { name: 'anonymous', headers: async () => ({}) },
  { name: "A's viewer", headers: async (side) => (await login(t, targets[side].caller)).headers },
  { name: "A admin's key [system:read]", headers: async () => narrowKey.headers },
  { name: "A admin's key [every scope]", headers: async () => wideKey.headers },
  { name: 'platform admin', headers: async () => t.admin },
];

function corpus(): Case[] {
  const cases: Case[] = [];
  for (const procedure of PROCEDURES) {
    const live = LIVE_FIGURES.has(procedure.path);
    for (const caller of CALLERS) {
      cases.push({
        label: `${procedure.path} as ${caller.name}`,
        live,
        request: async (side) =>
          call(procedure.path, procedure.type, validInput(procedure.path, side), await caller.headers(side)),
      });
    }
    if (procedure.input !== undefined) {
      cases.push({
        label: `${procedure.path} with an invalid input`,
        live,
        request: async () => call(procedure.path, procedure.type, INVALID_INPUT, t.admin),
      });
    }
  }
  const json = { 'content-type': 'application/json' };
  cases.push(
    raw('a malformed JSON body', '/api/trpc/auth.login', {
      method: 'POST',
      headers: json,
      body: '{"email":',
    }),
    raw('a malformed ?input=', '/api/trpc/system.annotations.list?input=%7Bnope', { headers: t.admin }),
    raw('a malformed ?input= to a procedure without input', '/api/trpc/system.info?input=%7Bnope'),
    raw('an empty ?input=', '/api/trpc/system.annotations.list?input=', { headers: t.admin }),
    raw('?input=null', '/api/trpc/system.annotations.list?input=null', { headers: t.admin }),
    raw('?input= with + and %20', `/api/trpc/performance.procedure?input=${'{"path":"a+b%20c"}'}`, {
      headers: t.admin,
    }),
    raw('other query parameters', '/api/trpc/system.info?x=1&input=2'),
    raw('GET on a mutation', '/api/trpc/auth.login'),
    raw('GET on a mutation, with a key', '/api/trpc/system.annotations.create', { headers: t.admin }),
    raw('POST on a query', '/api/trpc/system.info', { method: 'POST', headers: json }),
    raw('POST on a query, with a body', '/api/trpc/auth.me', {
      method: 'POST',
      headers: { ...json, ...t.admin },
      body: '{}',
    }),
    raw('an unknown procedure (GET)', '/api/trpc/system.nope'),
    raw('an unknown procedure (POST)', '/api/trpc/nope', { method: 'POST', headers: json, body: '{}' }),
    raw('a router, not a procedure', '/api/trpc/system'),
    raw('a trailing slash', '/api/trpc/system.info/'),
    raw('an encoded path', '/api/trpc/system%2Einfo'),
    raw('a badly encoded path', '/api/trpc/system%E0%A4%A.info'),
    raw('the endpoint alone', '/api/trpc/'),
    raw('a batch (GET)', `/api/trpc/system.info,auth.me?batch=1&input=${encodeURIComponent('{}')}`, {
      headers: t.admin,
    }),
    raw('a batch (POST)', '/api/trpc/auth.login,auth.login?batch=1', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ 0: { email: 'nobody@fast.test', password: 'x'.repeat(12) }, 1: {} }),
    }),
    raw('batch=0', '/api/trpc/system.info?batch=0'),
    raw('an empty body', '/api/trpc/auth.login', { method: 'POST', headers: json, body: '' }),
    raw('an empty body to a procedure without input', '/api/trpc/auth.keys.rotate', {
      method: 'POST',
      headers: { ...json, ...narrowKey.headers },
    }),
    raw('a missing content type', '/api/trpc/auth.login', { method: 'POST', body: '{}' }),
    raw('a text/plain content type', '/api/trpc/auth.login', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    }),
    raw('a JSON content type with a charset', '/api/trpc/auth.login', {
      method: 'POST',
      headers: { 'content-type': 'Application/JSON; charset=utf-8' },
      body: JSON.stringify({ email: 'nobody@fast.test', password: 'x'.repeat(12) }),
    }),
    raw('multipart on a GET', '/api/trpc/system.info', {
      headers: { 'content-type': 'multipart/form-data' },
    }),
    raw('a JSON content type on a GET', '/api/trpc/system.info', { headers: json }),
    raw('a streaming accept header', '/api/trpc/system.info', {
      headers: { 'trpc-accept': 'application/jsonl' },
    }),
    raw('accept: application/jsonl', '/api/trpc/system.info', { headers: { accept: 'application/jsonl' } }),
    raw('trpc-accept: application/json', '/api/trpc/system.info', {
      headers: { 'trpc-accept': 'application/json' },
    }),
    raw('HEAD', '/api/trpc/system.info', { method: 'HEAD' }),
    raw('PUT', '/api/trpc/auth.login', { method: 'PUT', headers: json, body: '{}' }),
    raw('DELETE', '/api/trpc/system.info', { method: 'DELETE' }),
    raw('a malformed credential', '/api/trpc/auth.me', { headers: { authorization: 'Bearer' } }),
    raw('an unknown API key', '/api/trpc/auth.me', { headers: { 'x-api-key': 'bc_live_nope' } }),
    raw('a browser sign-in (Set-Cookie)', '/api/trpc/auth.login', {
      method: 'POST',
      headers: { ...json, 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ email: loginTarget.email, password: loginTarget.password }),
    }),
    {
      label: 'a sign-out (Set-Cookie)',
      request: async (side) => ({
        path: '/api/trpc/auth.logout',
        init: { method: 'POST', headers: { ...json, ...(await login(t, targets[side].caller)).headers } },
      }),
    },
  );
  return cases;
}

interface Answer {
  status: number;
  headers: [string, string][];
  text: string;
}

async function answer(app: App, request: Request, requestId: string): Promise<Answer> {
  const headers = new Headers(request.init.headers);
  headers.set('x-request-id', requestId);
  const res = await app.request(request.path, { ...request.init, headers });
  const text = await res.text();
  return { status: res.status, headers: [...res.headers].filter(([name]) => name !== 'date'), text };
}

/** Values generated anew by each call: tokens, ids, times, keys, random names. */
const GENERATED = [
  /eyJ[\w-]+\.[\w-]+\.[\w-]+/g,
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
  /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g,
  /\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/g,
  /bc_(live|test)_[\w-]+/g,
  // Random base64url (signing key ids, refresh tokens): both cases of letters, 20 or more.
  /(?<![\w-])(?=[\w-]{0,200}[a-z])(?=[\w-]{0,200}[A-Z])[\w-]{20,}/g,
  // TOTP secrets: 160 random bits in base32.
  /\b[A-Z2-7]{32}\b/g,
  // Digests (a backup's tables).
  /\b[0-9a-f]{64}\b/g,
  // The random part of a fixture's e-mail or name (tests/helpers/auth.ts).
  /\b[0-9a-f]{8}\b/g,
];

/** Ids: one on a side always stands for the same one on the other. */
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A string with its generated values masked and the side's tag made the fast side's. */
function mask(value: string): string {
  let masked = value.replaceAll(TAG.slow, TAG.fast);
  for (const pattern of GENERATED) masked = masked.replace(pattern, '<generated>');
  return masked;
}

/**
 * `slow` rewritten with the fast side's values where the two legitimately differ; throws where
 * they differ otherwise. A value of one side always stands for the same value of the other.
 */
function reconcile(
  fast: unknown,
  slow: unknown,
  live: boolean,
  where: string,
  seen: Map<unknown, unknown>,
): unknown {
  if (typeof slow === 'string' && ID.test(slow)) {
    if (seen.has(slow) && seen.get(slow) !== fast) throw new Error(`${where}: ${slow} stands for two ids`);
    seen.set(slow, fast);
  }
  if (Object.is(fast, slow)) return slow;
  if (typeof fast === 'string' && typeof slow === 'string') {
    // Live figures rank what they measure (query shapes by time, routes by rate): between the two
    // calls the ranking itself may change, so their strings and lists are compared by shape only.
    if (!live && mask(fast) !== mask(slow))
      throw new Error(`${where}: ${JSON.stringify(fast)} ≠ ${JSON.stringify(slow)}`);
  } else if (typeof fast === 'number' && typeof slow === 'number') {
    if (!live && !/\.id$|\.revision$/.test(where)) throw new Error(`${where}: ${fast} ≠ ${slow}`);
  } else if (Array.isArray(fast) && Array.isArray(slow)) {
    if (live) return fast;
    if (fast.length !== slow.length) throw new Error(`${where}: ${fast.length} items ≠ ${slow.length}`);
    return slow.map((item, i) => reconcile(fast[i], item, live, `${where}[${i}]`, seen));
  } else if (fast && slow && typeof fast === 'object' && typeof slow === 'object') {
    const fastKeys = Object.keys(fast);
    const slowKeys = Object.keys(slow);
    if (fastKeys.join() !== slowKeys.join()) throw new Error(`${where}: keys ${fastKeys} ≠ ${slowKeys}`);
    return Object.fromEntries(
      slowKeys.map((key) => [
        key,
        reconcile(
          (fast as Record<string, unknown>)[key],
          (slow as Record<string, unknown>)[key],
          live,
          `${where}.${key}`,
          seen,
        ),
      ]),
    );
  } else if (!live) {
    // (A live figure may be null on one side: a percentile with no sample yet.)
    throw new Error(`${where}: ${JSON.stringify(fast)} ≠ ${JSON.stringify(slow)}`);
  }
  return fast;
}

/** The differences between two answers, none if they are the same (see `reconcile`). */
function differences(fast: Answer, slow: Answer, live: boolean): string[] {
  const found: string[] = [];
  if (fast.status !== slow.status) found.push(`status ${fast.status} ≠ ${slow.status}`);
  const headerText = (a: Answer) =>
    a.headers
      // The remaining allowance of a limit both apps share: the second call has one less.
      .map(
        ([name, value]) =>
          `${name}: ${name === 'ratelimit' ? value.replace(/;r=\d+;t=\d+/, ';r=_;t=_') : mask(value)}`,
      )
      .join('\n');
  if (headerText(fast) !== headerText(slow))
    found.push(`headers\n${headerText(fast)}\n≠\n${headerText(slow)}`);
  if (fast.text === slow.text) return found;
  try {
    const fastBody = JSON.parse(fast.text);
    const slowBody = JSON.parse(slow.text);
    // Only JSON as JSON.stringify writes it, so that a rewritten body compares byte for byte.
    if (JSON.stringify(fastBody) !== fast.text || JSON.stringify(slowBody) !== slow.text) {
      found.push('a body not in JSON.stringify form');
    } else if (JSON.stringify(reconcile(fastBody, slowBody, live, 'body', new Map())) !== fast.text) {
      found.push(`body\n${fast.text}\n≠\n${slow.text}`);
    }
  } catch (error) {
    found.push(`body: ${(error as Error).message}\n${fast.text}\n≠\n${slow.text}`);
  }
  return found;
}

async function compare(cases: Case[], sides: Record<Side, App>) {
  const wrong: string[] = [];
  const statuses = new Map<number, number>();
  for (const c of cases) {
    const requestId = `fast-path-${++requestNumber}`;
    const fast = await answer(sides.fast, await c.request('fast'), requestId);
    const slow = await answer(sides.slow, await c.request('slow'), requestId);
    statuses.set(fast.status, (statuses.get(fast.status) ?? 0) + 1);
    const found = differences(fast, slow, c.live ?? false);
    if (found.length > 0) wrong.push(`${c.label}:\n  ${found.join('\n  ')}`);
  }
  return { wrong, statuses };
}

describe('the single-call path', () => {
  it('answers every procedure, caller and malformed request exactly as tRPC’s fetch adapter does', async () => {
    const cases = corpus();
    const { wrong, statuses } = await compare(cases, apps);
    console.log(
      `trpc fast path: ${cases.length} requests through both paths, ${cases.length - wrong.length} the same; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(wrong, wrong.join('\n\n')).toEqual([]);
    // The corpus reaches every kind of answer it is meant to.
    for (const status of [200, 400, 401, 403, 404, 405, 415]) expect(statuses.get(status)).toBeGreaterThan(0);
  }, 600_000);

  it('refuses over the per-address limit exactly as the adapter does', async () => {
    // Each app with a limiter of its own allowing two anonymous calls a minute, so both count alike.
    const tight = (): AppDeps['rateLimiter'] =>
      new RateLimiter({
        store: new MemoryRateLimitStore(),
        metrics: t.deps.metrics,
        policies: rateLimitPolicies({ ...t.deps.config, RATE_LIMIT_IP_PER_MINUTE: 2 }),
      });
    const build = (fastPath: boolean) =>
      createApp({ ...t.deps, rateLimiter: tight(), config: { ...t.deps.config, TRPC_FAST_PATH: fastPath } });
    const sides = { fast: build(true), slow: build(false) };
    const cases = [1, 2, 3, 4].flatMap((n) => [
      raw(`system.info, call ${n}`, '/api/trpc/system.info'),
      raw(`auth.login, call ${n}`, '/api/trpc/auth.login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
      raw(`GET on auth.login, call ${n}`, '/api/trpc/auth.login'),
    ]);
    const { wrong, statuses } = await compare(cases, sides);
    expect(wrong, wrong.join('\n\n')).toEqual([]);
    expect(statuses.get(429)).toBeGreaterThan(0);
    // A refusal names its request like every other error (tRPC formats it without a context), a
    // batch's in each call's error.
    for (const [side, app] of Object.entries(sides)) {
      for (const path of ['/api/trpc/system.info', '/api/trpc/system.info,system.info?batch=1']) {
        const requestId = `refused-${side}-${++requestNumber}`;
        const refused = await answer(app, { path, init: {} }, requestId);
        expect(refused.status, `${side} ${path}`).toBe(429);
        const body = JSON.parse(refused.text) as unknown;
        for (const item of Array.isArray(body) ? body : [body])
          expect(item.error.data.requestId, `${side} ${path}`).toBe(requestId);
      }
    }
  });

  it('runs a failed call once: a refused sign-in counts one failure, an invalid mutation writes nothing', async () => {
    // Each refused sign-in counts once against the account it named (and once against the address).
    const email = `nobody-${randomUUID()}@fast.test`;
    const failures = () =>
      t.deps.database.db
        .selectFrom('login_failures')
        .select('failures')
        .where('key', '=', `account:${email}`)
        .executeTakeFirst()
        .then((row) => row?.failures ?? 0);
    const annotations = () =>
      t.deps.database.db
        .selectFrom('annotations')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
        .then((row) => Number(row.n));
    const audit = () =>
      t.deps.database.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
        .then((row) => Number(row.n));
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      t.app.request(`/api/trpc/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });

    for (const n of [1, 2]) {
      const refused = await post('auth.login', { email, password: 'x'.repeat(12) });
      expect(refused.status).toBe(401);
      expect(await failures()).toBe(n);
    }

    const [annotationsBefore, auditBefore] = [await annotations(), await audit()];
    const invalid = await post('system.annotations.create', { text: '' }, wideKey.headers);
    expect(invalid.status).toBe(400);
    expect([await annotations(), await audit()]).toEqual([annotationsBefore, auditBefore]);

    const created = await post('system.annotations.create', { text: 'once' }, wideKey.headers);
    expect(created.status).toBe(200);
    expect(await annotations()).toBe(annotationsBefore + 1);
  });
});
