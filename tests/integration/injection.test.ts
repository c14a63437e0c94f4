import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { appRouter } from '../../server/http/routers/index';
import type { Meta, Policy } from '../../server/http/trpc';
import { startTestApp, type TestApp } from '../helpers/app';
import { createApiKey, createUser, login, type SignedIn, type TestUser } from '../helpers/auth';
import { databaseFingerprint as fingerprintDatabase } from '../helpers/fingerprint';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Hostile strings, each sent on its own into every string input of every procedure. Labels name
 * them in failure reports (some are unreadable or a hundred thousand characters long).
 */
const CORPUS: [label: string, value: string][] = [
  ['tautology', "' OR '1'='1"],
  ['tautology with comment', "' OR 1=1 --"],
  ['empty-string tautology', "' OR ''='"],
  ['stacked drop', "'; DROP TABLE users; --"],
  ['double-quoted drop', '"; DROP TABLE api_keys; --'],
  ['stacked sleep', '1; select pg_sleep(5)--'],
  ['concatenated sleep', "'||pg_sleep(5)||'"],
  ['mysql sleep', "1' AND SLEEP(5)#"],
  ['dollar quoting', '$$; drop table annotations; $$'],
  ['tagged dollar quoting', '$tag$; delete from users; $tag$'],
  ['backslash-escaped quote', "\\'; delete from sessions; --"],
  ['union select', "' UNION SELECT password_hash, email FROM users --"],
  ['insert in a value', "x'); insert into users (email) values ('planted@x.test'); --"],
  ['uuid with a tail', "00000000-0000-0000-0000-000000000000' OR '1'='1"],
  ['cast abuse', "1'::int; update users set role='admin'; --"],
  ['email-shaped comment', "admin'--@org.test"],
  ['unicode right quotes', '\u2019 OR \u20191\u2019=\u20191'],
  ['fullwidth apostrophe', '\uFF07 OR 1=1 --'],
  ['right-to-left override', "\u202E' OR 1=1 --"],
  ['emoji and quote', "😀'; --"],
  ['NUL byte', 'abc\u0000def'],
  ['NUL after a quote', "'\u0000; drop table users; --"],
  ['base64url of NUL bytes', 'AAAA'],
  ['url-encoded quote', '%27%20OR%201%3D1--'],
  ['many quotes', "'".repeat(5000)],
  ['very long', 'A'.repeat(100_000)],
  ['nosql $gt', '{"$gt": ""}'],
  ['nosql $ne', '{"$ne": null}'],
  ['prototype key', '__proto__'],
  ['script tag', '<script>alert(1)</script>'],
  ['attribute breakout', '"><img src=x onerror=alert(1)>'],
  ['javascript url', 'javascript:alert(1)'],
  ['path traversal', '../../../../etc/passwd'],
  ['windows traversal', '..\\..\\..\\windows\\win.ini'],
  ['encoded traversal', '..%2f..%2f..%2fetc%2fpasswd'],
  ['CRLF header injection', '\r\nSet-Cookie: x=y'],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder is the payload
  ['template literal', '${7*7}'],
  ['mustache', '{{7*7}}'],
  ['ruby and erb', '#{7*7}<%= 7*7 %>'],
  ['shell substitution', '$(id); `id`; ls -la'],
  ['ldap wildcard', '*)(uid=*'],
  ['ldap or', '*)(uid=*))(|(uid=*'],
];

/** Tables that change on their own or on every call (audit, throttles, key rotation, scratch rows). */
const VOLATILE_TABLES = new Set([
  'audit_events',
  'rate_limits',
  'login_failures',
  'signing_keys',
  'self_test_scratch',
  // Written by the alert evaluator every round, whoever calls what.
  'alert_states',
  'alert_history',
  'alert_evaluator_lease',
  'alert_notifications',
  // Counts flushed on a timer: each key's verifications, each minute's requests.
  'api_key_verifications',
  'metric_history',
  // devops.maintenance.set writes its (off) state with the corpus in its message.
  'platform_settings',
  // Configuration changes append revisions (the corpus in messages and values); environments
  // are created on first use and by the corpus's own create calls.
  'environments',
  'config_revisions',
  // Deployments the corpus creates are driven by the engine (events, leases) on their own.
  'deployments',
  'deployment_events',
  'bad_versions',
  // Schedules the corpus creates (its strings go only into the cron field, refused).
  'backup_schedules',
  'backups',
]);
/** Columns written in the background: usage flushes. */
const VOLATILE_COLUMNS: Record<string, string[]> = {
  api_keys: ['last_used_at'],
  sessions: ['last_used_at'],
};

/** What a response may answer to hostile input: success or a 4xx, never a 5xx. */
const ACCEPTABLE_STATUSES = new Set([200, 400, 401, 404, 409, 413, 429]);

interface ZodNode {
  _zod: {
    def: {
      type: string;
      innerType?: ZodNode;
      in?: ZodNode;
      shape?: Record<string, ZodNode>;
      element?: ZodNode;
      valueType?: ZodNode;
      options?: ZodNode[];
    };
  };
}

/** Where a string goes in an input: `['rateLimits', 0, 'name']`. */
type SlotPath = (string | number)[];

interface Slot {
  path: SlotPath;
  label: string;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);
const NON_STRING_LEAVES = new Set([
  'number',
  'int',
  'boolean',
  'bigint',
  'date',
  'literal',
  'null',
  'undefined',
]);

/**
 * Every place a string can go in a zod 4 schema: strings (formats such as email and uuid
 * included) and enums, inside objects and arrays, through optional/default wrappers and pipes.
 * A schema kind it does not know fails the test, so no new input is skipped silently.
 */
function stringSlots(schema: ZodNode, path: SlotPath = []): Slot[] {
  const def = schema._zod.def;
  // `unknown` takes any value, strings included (a WebAuthn credential's response, which the
  // WebAuthn library checks): the hostile string goes there too.
  if (def.type === 'string' || def.type === 'enum' || def.type === 'unknown') {
    return [
      {
        path,
        label: path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
          .join('')
          .slice(1),
      },
    ];
  }
  if (WRAPPERS.has(def.type) && def.innerType) return stringSlots(def.innerType, path);
  if (def.type === 'pipe' && def.in) return stringSlots(def.in, path);
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([key, value]) => stringSlots(value, [...path, key]));
  }
  if (def.type === 'array' && def.element) return stringSlots(def.element, [...path, 0]);
  // A recursive JSON value (a provider's free-form config): validated by the provider's own
  // schema, which is walked where it is declared; following the recursion would never end.
  if (def.type === 'lazy') return [];
  // A union of leaves (a configuration value: string, number or boolean): its string member.
  if (def.type === 'union' && def.options) {
    for (const option of def.options) {
      const slots = stringSlots(option, path);
      if (slots.length > 0) return slots;
    }
    return [];
  }
  // A record's values (alert labels and annotations), under a key its schema accepts.
  if (def.type === 'record' && def.valueType) return stringSlots(def.valueType, [...path, 'INJECTED']);
  if (NON_STRING_LEAVES.has(def.type)) return [];
  throw new Error(
    `the injection walk does not know zod type "${def.type}" at ${path.join('.') || 'the root'}`,
  );
}

interface WalkedProcedure {
  path: string;
  type: 'query' | 'mutation' | 'subscription';
  policy: Policy | undefined;
  input: z.ZodType | undefined;
  slots: Slot[];
}

interface ProcedureInternals {
  _def: { type: WalkedProcedure['type']; meta?: Partial<Meta>; inputs: unknown[] };
}

const PROCEDURES: WalkedProcedure[] = Object.entries(
  appRouter._def.procedures as unknown as Record<string, ProcedureInternals>,
).map(([path, procedure]) => {
  const input = procedure._def.inputs[0] as z.ZodType | undefined;
  return {
    path,
    type: procedure._def.type,
    policy: procedure._def.meta?.policy,
    input,
    slots: input ? stringSlots(input as unknown as ZodNode) : [],
  };
});

let t: TestApp;
/** Signs in for the session procedures; changePassword may really change their password. */
let sessionUser: SignedIn;
/** The user logins are attempted against (with wrong passwords only). */
let loginTarget: TestUser;
/** The user users.update renames. */
let renamed: TestUser;
/** The key apiKeys.update changes. */
let changedKey: { id: string };
let sequence = 0;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'warn' });
  sessionUser = await login(t, await createUser(t, 'viewer'));
  loginTarget = await createUser(t, 'viewer');
  renamed = await createUser(t, 'viewer');
  changedKey = await createApiKey(t, await createUser(t, 'operator'), ['system:read']);
  // Something of every kind for the corpus to try to read, change or drop.
  await t.deps.database.db
    .insertInto('annotations')
    .values({ organization_id: t.adminUser.organizationId, text: 'before the corpus', tags: ['seed'] })
    .execute();
});
afterAll(() => t?.close());

const RATE_LIMIT = { name: 'base', limit: 1000, periodMs: 60_000 };
/** A second-factor challenge of the right form (`bcsf_` and 43 base64url characters) that was never issued. */
const CHALLENGE = `bcsf_${'A'.repeat(43)}`;
/** A WebAuthn credential's answer, well formed but signed by no passkey. */
const PASSKEY = {
  id: 'AAAAAAAAAAAAAAAAAAAAAA',
  rawId: 'AAAAAAAAAAAAAAAAAAAAAA',
  type: 'public-key',
  response: {
    clientDataJSON: 'e30',
    authenticatorData: 'AAAA',
    signature: 'AAAA',
    attestationObject: 'AAAA',
  },
  clientExtensionResults: {},
  authenticatorAttachment: 'platform',
};

/**
 * A schema-valid input per procedure with string inputs, into which one corpus string at a time
 * replaces one string. Built per call: emails must differ for users.create to store each one,
 * and the session user's password follows changePassword.
 */
function baseInputs(): Record<string, unknown> {
  return {
    'system.selfTest': {},
    'system.annotations.create': { text: 'base annotation', tags: ['base'] },
    'system.annotations.list': {},
    'auth.login': { email: loginTarget.email, password: 'not-the-password' },
    'auth.refresh': {},
    'auth.changePassword': {
      currentPassword: sessionUser.user.password,
      newPassword: 'base-new-password-0123',
    },
    'auth.sessions.revoke': { id: randomUUID() },
    'auth.users.create': {
      email: `corpus-${++sequence}-${randomBytes(3).toString('hex')}@org.test`,
      password: 'corpus-user-password-0123',
      role: 'viewer',
    },
    'auth.users.list': {},
    'auth.users.update': { id: renamed.id },
    'auth.users.disable': { id: randomUUID() },
    'auth.apiKeys.create': {
      name: 'base key',
      scopes: ['system:read'],
      expiresAt: '2099-01-01T00:00:00Z',
      rateLimits: [RATE_LIMIT],
    },
    'auth.apiKeys.list': {},
    'auth.apiKeys.get': { id: randomUUID() },
    'auth.apiKeys.update': { id: changedKey.id, rateLimits: [RATE_LIMIT] },
    'auth.apiKeys.revoke': { id: randomUUID() },
    'auth.apiKeys.rotate': { id: randomUUID() },
    'auth.apiKeys.verify': { key: `bc_live_${'A'.repeat(32)}` },
    'auth.audit.list': {},
    'auth.audit.platform': {},
    'auth.users.remove': { id: randomUUID() },
    'auth.organizations.create': {
      name: `Corpus org ${++sequence}`,
      admin: { email: `corpus-org-${++sequence}-${randomBytes(3).toString('hex')}@org.test` },
    },
    'auth.organizations.list': {},
    'auth.organizations.get': { id: randomUUID() },
    'auth.organizations.rename': { id: randomUUID(), name: 'base name' },
    'auth.organizations.suspend': { id: randomUUID(), reason: 'base reason' },
    'auth.organizations.resume': { id: randomUUID() },
    'auth.organizations.delete': { id: randomUUID() },
    'auth.platformRoles.set': { userId: randomUUID(), platformRole: null },
    'auth.invitations.create': {
      email: `corpus-invite-${++sequence}-${randomBytes(3).toString('hex')}@org.test`,
      role: 'viewer',
    },
    'auth.invitations.list': {},
    'auth.invitations.revoke': { id: randomUUID() },
    'auth.invitations.accept': { token: `bc_inv_${'A'.repeat(43)}`, password: 'corpus-accept-password-0123' },
    'auth.apiKeys.usage': { id: changedKey.id, range: '24h' },
    // The session user has no factor: codes and passwords are refused before anything is stored.
    'auth.secondFactor.totp.confirm': { code: '123456' },
    'auth.secondFactor.passkeys.register': { credential: PASSKEY, name: 'base passkey' },
    // The right password, so that the id reaches the database (and finds no passkey).
    'auth.secondFactor.passkeys.remove': {
      id: 'AAAAAAAAAAAAAAAAAAAAAA',
      password: sessionUser.user.password,
    },
    'auth.secondFactor.regenerateRecoveryCodes': { password: 'not-the-password' },
    'auth.secondFactor.remove': { password: 'not-the-password' },
    // Challenges of the right form that no sign-in issued.
    'auth.secondFactor.verify': { challenge: CHALLENGE, code: '123456' },
    'auth.secondFactor.passkeyOptions': { challenge: CHALLENGE },
    'auth.secondFactor.verifyPasskey': { challenge: CHALLENGE, passkey: PASSKEY },
    'auth.secondFactor.passwordless.signIn': { passkey: PASSKEY },
    'auth.secondFactor.enrolment.begin': { challenge: CHALLENGE },
    'auth.secondFactor.enrolment.finish': { challenge: CHALLENGE, code: '123456' },
    'performance.routes': {},
    'performance.procedure': { path: 'system.info' },
    'performance.queries': {},
    'performance.explain': { fingerprint: 'other' },
    'performance.history': { range: '1h', route: '/api/health' },
    'performance.cache.invalidate': { key: 'base-key' },
    'performance.cache.warm': {},
    'performance.alerts.history': {},
    'performance.alerts.create': {
      name: `corpus_rule_${++sequence}`,
      expression: 'db_up',
      comparator: '==',
      threshold: 0,
    },
    'performance.alerts.update': { id: randomUUID(), threshold: 1 },
    'performance.alerts.delete': { id: randomUUID() },
    'performance.alerts.webhooks.create': {
      name: `corpus hook ${++sequence}`,
      url: 'https://hooks.example.com/a',
    },
    'performance.alerts.webhooks.delete': { id: randomUUID() },
    // Off: the corpus goes into the message, and mutations must go on being accepted.
    'devops.maintenance.set': { enabled: false, message: 'base message' },
    'devops.environments.get': { name: 'staging' },
    'devops.environments.create': { name: `corpus-env-${++sequence}` },
    'devops.environments.setConfig': { name: 'staging', values: { BASE: 'base value' }, message: 'base' },
    'devops.environments.history': { name: 'staging' },
    'devops.environments.diff': { name: 'staging', from: 1, to: 1 },
    'devops.environments.rollback': { name: 'staging', toRevision: 1, message: 'base' },
    'devops.environments.compare': { a: 'staging', b: 'production' },
    // A service per call: one active deployment per service and environment.
    'devops.deployments.create': {
      service: `corpus-${++sequence}`,
      environment: 'staging',
      version: 'v2',
      stableVersion: 'v1',
      // An analysis step: the walk puts the corpus into its metric's name and query. Without a
      // metrics source it errors and the deployment is rolled back (to an unreachable provider).
      spec: {
        strategy: 'canary',
        steps: [
          {
            analysis: {
              metrics: [{ name: 'errors', query: 'errors_total', successCondition: { op: '<', value: 1 } }],
              intervalSeconds: 1,
              count: 1,
            },
          },
        ],
      },
      provider: {
        kind: 'webhook',
        config: { url: 'https://hooks.example.com/deploy', secret: 'corpus-secret-0123456789' },
      },
    },
    'devops.deployments.list': {},
    'devops.deployments.get': { id: randomUUID() },
    'devops.deployments.approve': { id: randomUUID(), comment: 'base' },
    'devops.deployments.promote': { id: randomUUID(), reason: 'base' },
    'devops.deployments.abort': { id: randomUUID(), reason: 'base' },
    'devops.deployments.rollback': { id: randomUUID(), reason: 'base' },
    'devops.backups.list': {},
    'devops.backups.get': { id: randomUUID() },
    'devops.backups.verify': { id: randomUUID() },
    'devops.backups.delete': { id: randomUUID() },
    'devops.backups.restore': {
      id: randomUUID(),
      targetDatabaseUrl: 'postgres://nobody@127.0.0.1:1/none',
      confirm: false,
    },
    'devops.backups.schedules.create': { cron: '@daily', retentionCount: 1 },
    'devops.backups.schedules.update': { id: randomUUID(), cron: '@hourly' },
    'devops.backups.schedules.delete': { id: randomUUID() },
  };
}

/** Rows the corpus may legitimately create or change, by table; kept out of the fingerprint. */
const written: Record<string, Set<string>> = {
  annotations: new Set(),
  users: new Set(),
  api_keys: new Set(),
  alert_rules: new Set(),
  alert_webhooks: new Set(),
  organizations: new Set(),
  invitations: new Set(),
};

/**
 * Procedures that store what they are given. After each success, the row must hold exactly the
 * value the schema accepted (trimmed, lower-cased where the schema says so), byte for byte:
 * stored as data, never run.
 */
// biome-ignore lint/suspicious/noExplicitAny: answers and inputs are inspected field by field
const STORES: Record<string, (answer: any, accepted: any) => Promise<void>> = {
  'system.annotations.create': async (answer, accepted) => {
    const row = await t.deps.database.db
      .selectFrom('annotations')
      .selectAll()
      .where('id', '=', answer.id)
      .executeTakeFirstOrThrow();
    expect(row.text).toBe(accepted.text);
    expect(row.tags).toEqual(accepted.tags);
    expect(row.idempotency_key).toBe(accepted.idempotencyKey ?? null);
    expect(answer.text).toBe(accepted.text);
    written.annotations?.add(String(row.id));
  },
  'auth.users.create': async (answer, accepted) => {
    const row = await t.deps.database.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', answer.id)
      .executeTakeFirstOrThrow();
    expect(row.email).toBe(accepted.email);
    expect(row.name).toBe(accepted.name ?? '');
    expect(row.role).toBe('viewer');
    written.users?.add(row.id);
  },
  'auth.users.update': async (_answer, accepted) => {
    const row = await t.deps.database.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', renamed.id)
      .executeTakeFirstOrThrow();
    if (accepted.name !== undefined) expect(row.name).toBe(accepted.name);
    expect(row.role).toBe('viewer');
  },
  'auth.apiKeys.create': async (answer, accepted) => {
    const row = await t.deps.database.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', answer.apiKey.id)
      .executeTakeFirstOrThrow();
    expect(row.name).toBe(accepted.name);
    expect(row.scopes).toEqual(accepted.scopes);
    expect(row.rate_limits).toEqual(accepted.rateLimits);
    written.api_keys?.add(row.id);
  },
  'auth.apiKeys.update': async (_answer, accepted) => {
    const row = await t.deps.database.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', changedKey.id)
      .executeTakeFirstOrThrow();
    if (accepted.name !== undefined) expect(row.name).toBe(accepted.name);
    expect(row.rate_limits).toEqual(accepted.rateLimits);
  },
  'performance.alerts.create': async (answer, accepted) => {
    const row = await t.deps.database.db
      .selectFrom('alert_rules')
      .selectAll()
      .where('id', '=', answer.id)
      .executeTakeFirstOrThrow();
    expect(row.name).toBe(accepted.name);
    expect(row.expression).toBe(accepted.expression);
    written.alert_rules?.add(row.id);
  },
  'performance.alerts.webhooks.create': async (answer, accepted) => {
    const row = await t.deps.database.db
      .selectFrom('alert_webhooks')
      .selectAll()
      .where('id', '=', answer.id)
      .executeTakeFirstOrThrow();
    expect(row.name).toBe(accepted.name);
    expect(row.url).toBe(accepted.url);
    written.alert_webhooks?.add(row.id);
  },
  'auth.organizations.create': async (answer, accepted) => {
    const row = await t.deps.database.db
      .selectFrom('organizations')
      .selectAll()
      .where('id', '=', answer.organization.id)
      .executeTakeFirstOrThrow();
    expect(row.name).toBe(accepted.name);
    written.organizations?.add(row.id);
    written.invitations?.add(answer.invitation.id);
  },
  'auth.changePassword': async (_answer, accepted) => {
    // The new password is now the one to prove: the next calls must present it.
    sessionUser.user.password = accepted.newPassword;
  },
};

/** A copy of `base` with `value` at `path`; arrays of strings are made as needed. */
function withValueAt(base: unknown, path: SlotPath, value: string): unknown {
  const root = structuredClone(base ?? {}) as Record<string | number, unknown>;
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string | number;
    if (node[key] === undefined) {
      // Only an array of strings can be made here; an array of objects needs its other fields.
      if (i + 2 !== path.length) throw new Error(`the base input lacks ${path.slice(0, i + 1).join('.')}`);
      node[key] = typeof path[i + 1] === 'number' ? [] : {};
    }
    node = node[key] as Record<string | number, unknown>;
  }
  node[path[path.length - 1] as string | number] = value;
  return root;
}

/** The credential a procedure is called with, so that authorization lets the input through. */
function headersFor(procedure: WalkedProcedure): Record<string, string> {
  if (procedure.policy?.kind === 'public') return {};
  if (procedure.policy?.kind === 'session') return sessionUser.headers;
  return t.admin;
}

/** app.request() answers for http://localhost: the page's own origin, without which passkeys refuse before reading their input. */
const ORIGIN = 'http://localhost';

async function call(procedure: WalkedProcedure, input: unknown): Promise<{ status: number; text: string }> {
  const headers = { origin: ORIGIN, ...headersFor(procedure) };
  const res =
    procedure.type === 'query'
      ? await t.app.request(
          `/api/trpc/${procedure.path}?input=${encodeURIComponent(JSON.stringify(input))}`,
          {
            headers,
          },
        )
      : await t.app.request(`/api/trpc/${procedure.path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(input),
        });
  if (res.headers.get('set-cookie')?.includes('x=y'))
    throw new Error(`${procedure.path} set a planted cookie`);
  return { status: res.status, text: await res.text() };
}

/** Every corpus string as it may appear in a JSON answer: sent, trimmed or lower-cased. */
const ECHOES = [
  ...new Set(
    CORPUS.flatMap(([, value]) => [value, value.trim(), value.trim().toLowerCase()])
      .filter((value) => value.length > 0)
      .map((value) => JSON.stringify(value).slice(1, -1)),
  ),
].sort((a, b) => b.length - a.length);

/** What a body shows when the server leaks internals: stack frames, SQL, PostgreSQL's messages. */
function leaks(text: string): string | null {
  let scrubbed = text;
  // A stored corpus string echoed back is data, not a leak.
  for (const echo of ECHOES) scrubbed = scrubbed.replaceAll(echo, '');
  const patterns: [string, RegExp][] = [
    ['a stack frame', /\bat .+\(.+:\d+:\d+\)|\.ts:\d+|node_modules/],
    ['SQL', /\b(select|insert|update|delete)\b[\s\S]*\b(from|into|set)\b/i],
    [
      "PostgreSQL's words",
      /syntax error at or near|unterminated quoted|invalid input syntax|invalid byte sequence|SQLSTATE|relation "|column "|violates .* constraint/i,
    ],
  ];
  for (const [what, pattern] of patterns) if (pattern.test(scrubbed)) return what;
  return null;
}

/** Every table's row count and a hash of its rows, minus volatile tables and the rows the corpus wrote. */
function databaseFingerprint() {
  // The users the corpus may rename or re-password, and the key it may change.
  const targets: Record<string, Set<string>> = {
    users: new Set([renamed.id, sessionUser.user.id, ...(written.users ?? [])]),
    api_keys: new Set([changedKey.id, ...(written.api_keys ?? [])]),
    annotations: written.annotations ?? new Set(),
    alert_rules: written.alert_rules ?? new Set(),
    alert_webhooks: written.alert_webhooks ?? new Set(),
    organizations: written.organizations ?? new Set(),
    invitations: written.invitations ?? new Set(),
  };
  return fingerprintDatabase(t.deps.database.db, {
    volatileTables: VOLATILE_TABLES,
    volatileColumns: VOLATILE_COLUMNS,
    excludedRows: targets,
  });
}

/** What the corpus run saw, for the assertions below. */
interface CorpusRun {
  calls: number;
  slots: number;
  statuses: Map<number, number>;
  serverErrors: string[];
  leaks: string[];
  notVerbatim: string[];
  /** Successful calls of each storing procedure: what the verbatim checks covered. */
  stored: Map<string, number>;
  before: Awaited<ReturnType<typeof databaseFingerprint>>;
  after: Awaited<ReturnType<typeof databaseFingerprint>>;
}

/** Sends every corpus string into every string input of every procedure, one call each. */
async function runCorpus(): Promise<CorpusRun> {
  const run: CorpusRun = {
    calls: 0,
    slots: 0,
    statuses: new Map(),
    serverErrors: [],
    leaks: [],
    notVerbatim: [],
    stored: new Map(),
    before: await databaseFingerprint(),
    after: {},
  };
  for (const procedure of PROCEDURES) {
    for (const slot of procedure.slots) {
      run.slots++;
      // Each input starts with a clean login throttle, so one input's wrong passwords do not
      // hide the next input of the same procedure behind 429s.
      await t.deps.database.db.deleteFrom('login_failures').execute();
      for (const [label, value] of CORPUS) {
        const input = withValueAt(baseInputs()[procedure.path], slot.path, value);
        const where = `${procedure.path} ${slot.label} ← ${label}`;
        const answer = await call(procedure, input);
        run.calls++;
        run.statuses.set(answer.status, (run.statuses.get(answer.status) ?? 0) + 1);
        if (!ACCEPTABLE_STATUSES.has(answer.status)) {
          run.serverErrors.push(`${where}: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
        }
        const leaked = leaks(answer.text);
        if (leaked) run.leaks.push(`${where}: the answer shows ${leaked}: ${answer.text.slice(0, 300)}`);
        const store = STORES[procedure.path];
        if (answer.status === 200 && store && procedure.input) {
          run.stored.set(procedure.path, (run.stored.get(procedure.path) ?? 0) + 1);
          try {
            await store(JSON.parse(answer.text).result.data, procedure.input.parse(input));
          } catch (error) {
            run.notVerbatim.push(`${where}: ${(error as Error).message}`);
          }
        }
      }
    }
  }
  run.after = await databaseFingerprint();
  const serverErrors = [...run.statuses].filter(([status]) => status >= 500).reduce((n, [, c]) => n + c, 0);
  console.log(
    `injection corpus: ${CORPUS.length} strings × ${run.slots} string inputs, ${run.calls} calls, ${serverErrors} server errors`,
  );
  console.log(`answers by status: ${JSON.stringify(Object.fromEntries([...run.statuses].sort()))}`);
  return run;
}

describe('the injection corpus', () => {
  it('has at least 30 strings and a schema-valid base input for every procedure with a string input', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(30);
    const bases = baseInputs();
    const missing = PROCEDURES.filter((p) => p.slots.length > 0 && !(p.path in bases)).map((p) => p.path);
    expect(missing, 'add these procedures to baseInputs()').toEqual([]);
    for (const procedure of PROCEDURES) {
      if (!procedure.input || !(procedure.path in bases)) continue;
      const parsed = procedure.input.safeParse(bases[procedure.path]);
      expect(parsed.success, `${procedure.path}: ${parsed.error?.message}`).toBe(true);
    }
  });
});

describe('the corpus sent into every string input of every procedure', () => {
  let run: CorpusRun;
  beforeAll(async () => {
    run = await runCorpus();
  });

  it('reaches every string input the router has', () => {
    const expected = PROCEDURES.reduce((n, p) => n + p.slots.length, 0);
    expect(run.slots).toBe(expected);
    expect(run.slots).toBeGreaterThanOrEqual(30);
    expect(run.calls).toBe(CORPUS.length * run.slots);
  });

  it('never causes a server error: a 4xx or a success', () => {
    expect(run.serverErrors, run.serverErrors.join('\n')).toEqual([]);
  });

  it('never answers with SQL, stack frames or PostgreSQL’s messages', () => {
    expect(run.leaks, run.leaks.join('\n')).toEqual([]);
  });

  it('stores what the writing procedures accept as data, byte for byte, in each of them', () => {
    expect(run.notVerbatim, run.notVerbatim.join('\n')).toEqual([]);
    for (const path of Object.keys(STORES)) {
      expect(run.stored.get(path) ?? 0, `${path} stored nothing, so nothing was checked`).toBeGreaterThan(0);
    }
  });

  it('leaves every other row of every table as it was', () => {
    expect(run.after).toEqual(run.before);
    expect(Object.keys(run.after)).toEqual(expect.arrayContaining(['users', 'api_keys', 'annotations']));
  });
});

describe('a SQL string stored as an annotation', () => {
  it('is kept as text, byte for byte, and never run', async () => {
    const text = "'); DELETE FROM annotations; DROP TABLE users; --";
    const answer = await call(
      PROCEDURES.find((p) => p.path === 'system.annotations.create') as WalkedProcedure,
      { text },
    );
    expect(answer.status, answer.text).toBe(200);
    const { rows } = await sql<{ text: string; bytes: string }>`
      select text, encode(convert_to(text, 'UTF8'), 'hex') as bytes from annotations where text = ${text}
    `.execute(t.deps.database.db);
    expect(rows).toEqual([{ text, bytes: Buffer.from(text, 'utf8').toString('hex') }]);
    const annotations = await t.deps.database.db.selectFrom('annotations').select('id').execute();
    expect(annotations.length).toBeGreaterThan(1);
  });
});

describe('the build', () => {
  it('passes the static SQL check: parameterised queries only in the application code', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/check-sql.ts'], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(result.status, result.stderr || result.stdout).toBe(0);
  });
});
