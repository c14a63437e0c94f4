import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRuleCreateInput } from '../../shared/alerts';
import { API_KEY_SCOPES, type ApiKeyScope, PLATFORM_ROLES, ROLES } from '../../shared/auth';
import { deploymentCreateInput } from '../../shared/devops-deployments';
import { startTestApp, TEST_ADMIN, type TestApp } from '../helpers/app';
import {
  createApiKey,
  createOrganization,
  createUser,
  login,
  type SignedIn,
  type TestUser,
} from '../helpers/auth';
import { databaseFingerprint as fingerprintDatabase } from '../helpers/fingerprint';
import { callProcedure, type ProcedureAnswer } from '../helpers/http';
import { PROCEDURES, procedureAt, SECOND_FACTOR_INPUTS, type WalkedProcedure } from '../helpers/router-walk';

/** The walked procedure at `path`. */
const procedure = procedureAt;

/**
 * Policies that must never weaken: the organization-admin procedures, pinned one by one, so that
 * changing one of them to a lower role (or another scope) fails here.
 */
const ADMIN_ONLY: Record<string, ApiKeyScope> = {
  'auth.users.create': 'auth:write',
  'auth.users.list': 'auth:read',
  'auth.users.update': 'auth:write',
  'auth.users.disable': 'auth:write',
  'auth.audit.list': 'auth:read',
  'devops.environments.create': 'devops:write',
  'devops.environments.setConfig': 'devops:write',
  'devops.environments.rollback': 'devops:write',
};

/** The platform-admin procedures, pinned likewise. */
const PLATFORM_ADMIN_ONLY: Record<string, ApiKeyScope> = {
  'auth.keys.rotate': 'auth:write',
  'performance.explain': 'performance:read',
  'performance.alerts.webhooks.create': 'performance:write',
  'performance.alerts.webhooks.list': 'performance:read',
  'performance.alerts.webhooks.delete': 'performance:write',
  'devops.maintenance.set': 'devops:write',
  'devops.backups.delete': 'devops:write',
  'devops.backups.restore': 'devops:write',
  'devops.backups.schedules.create': 'devops:write',
  'devops.backups.schedules.update': 'devops:write',
  'devops.backups.schedules.delete': 'devops:write',
  'devops.backups.pointInTime.baseBackup': 'devops:write',
};

/**
 * What acts on the installation rather than on a tenant (issue 11): these paths, and every path
 * under these prefixes, must be platform scope, present and future.
 */
const PLATFORM_PATHS = [
  'system.status',
  'system.selfTest',
  'devops.instance.drain',
  'devops.maintenance.set',
  'auth.keys.rotate',
];
const PLATFORM_PREFIXES = ['devops.backups.', 'performance.', 'auth.organizations.', 'auth.platformRoles.'];

/**
 * The only mutations anyone may call without signing in: signing in (its second step and the
 * enrolment an organization may require there included), and joining by invitation.
 */
const PUBLIC_MUTATIONS = new Set([
  'auth.login',
  'auth.refresh',
  'auth.invitations.accept',
  'auth.secondFactor.verify',
  'auth.secondFactor.passkeyOptions',
  'auth.secondFactor.verifyPasskey',
  'auth.secondFactor.passwordless.options',
  'auth.secondFactor.passwordless.signIn',
  'auth.secondFactor.enrolment.begin',
  'auth.secondFactor.enrolment.finish',
]);

/**
 * Mutations a viewer must be able to call, because they act on the caller's own account only:
 * signing in (login) and staying signed in (refresh), signing out of this session or of all
 * of them, changing their own password, and ending one of their own sessions (the service finds
 * the session among the caller's, so no other account is reachable). Every other mutation
 * changes shared state and needs at least operator.
 */
const VIEWER_SELF_SERVICE = new Set([
  'auth.login',
  'auth.refresh',
  'auth.invitations.accept',
  'auth.logout',
  'auth.logoutAll',
  'auth.changePassword',
  'auth.sessions.revoke',
  // The caller's own second factor, and sign-in's second step.
  'auth.secondFactor.totp.begin',
  'auth.secondFactor.totp.confirm',
  'auth.secondFactor.regenerateRecoveryCodes',
  'auth.secondFactor.remove',
  'auth.secondFactor.verify',
  'auth.secondFactor.passkeyOptions',
  'auth.secondFactor.verifyPasskey',
  'auth.secondFactor.passkeys.registrationOptions',
  'auth.secondFactor.passkeys.register',
  'auth.secondFactor.passkeys.remove',
  'auth.secondFactor.passwordless.options',
  'auth.secondFactor.passwordless.signIn',
  'auth.secondFactor.enrolment.begin',
  'auth.secondFactor.enrolment.finish',
]);

/** Tables that change on their own or on every call (throttles, audit, scratch rows). */
const VOLATILE_TABLES = new Set([
  'audit_events',
  'rate_limits',
  'login_failures',
  'self_test_scratch',
  // Written by the alert evaluator every round, whoever calls what.
  'alert_states',
  'alert_history',
  'alert_evaluator_lease',
  'alert_notifications',
  // Counts flushed on a timer: each key's verifications, each minute's requests.
  'api_key_verifications',
  'metric_history',
  // An organization's default environments are created on its first devops call, reads included.
  'environments',
  'config_revisions',
  // Backups the operators' calls start, and the deployments the engine drives.
  'backups',
  'backup_schedules',
  'deployments',
  'deployment_events',
]);
/** Columns written in the background (usage flushes, keyring maintenance), not by a procedure. */
const VOLATILE_COLUMNS: Record<string, string[]> = {
  api_keys: ['last_used_at'],
  sessions: ['last_used_at'],
  signing_keys: ['superseded_at', 'retire_at'],
};

let t: TestApp;
let adminA: TestUser;
let adminSession: SignedIn;
let adminKey: { key: string; id: string };
let operator: TestUser;
let operatorSession: SignedIn;
let operatorKey: { key: string; id: string; headers: { authorization: string } };
let viewer: SignedIn;
let viewerKey: { headers: { authorization: string } };
/** A viewer of organization A whom the calls try to promote or disable. */
let target: TestUser;
/** A deployment and a backup of organization A, for the reads a viewer may make. */
let aDeployment: { id: string };
let aBackup: { id: string };
/** The id of a passkey of organization B's viewer. */
let passkeyOfB: string;
let orgB: {
  admin: TestUser;
  viewer: TestUser;
  key: { key: string; id: string };
  session: SignedIn;
  alertRule: { id: string };
  webhook: { id: string };
  deployment: { id: string };
  backup: { id: string };
  schedule: { id: string };
  invitation: { id: string };
};

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'warn' });
  adminA = {
    id: t.adminUser.id,
    organizationId: t.adminUser.organizationId,
    email: TEST_ADMIN.email,
    password: TEST_ADMIN.password,
    role: 'admin',
  };
  adminSession = await login(t, adminA);
  adminKey = await createApiKey(t, adminA);
  operator = await createUser(t, 'operator');
  operatorSession = await login(t, operator);
  operatorKey = await createApiKey(t, operator);
  const viewerUser = await createUser(t, 'viewer');
  viewer = await login(t, viewerUser);
  viewerKey = await createApiKey(t, viewerUser);
  target = await createUser(t, 'viewer');

  aDeployment = await t.deps.devops.deployments.create(
    { organizationId: adminA.organizationId, userId: adminA.id },
    deploymentCreateInput.parse({
      service: 'a-service',
      environment: 'staging',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary', steps: [{ pause: { durationSeconds: 3600 } }] },
      provider: {
        kind: 'webhook',
        config: { url: 'https://hooks.example.com/a', secret: 'a-secret-0123456789abcd' },
      },
    }),
  );
  aBackup = await t.deps.devops.backups.create(adminActor(adminA), { wait: true });
  const bAdmin = await createOrganization(t);
  const bViewer = await createUser(t, 'viewer', bAdmin);
  orgB = {
    admin: bAdmin,
    viewer: bViewer,
    key: await createApiKey(t, bAdmin),
    session: await login(t, bViewer),
    alertRule: await t.deps.alerts.rules.create(
      { organizationId: bAdmin.organizationId },
      alertRuleCreateInput.parse({ name: 'B_rule', expression: 'db_up', comparator: '==', threshold: 0 }),
    ),
    webhook: await t.deps.alerts.webhooks.create(
      { organizationId: bAdmin.organizationId },
      { name: 'B hook', url: 'https://hooks.example.com/b' },
    ),
    deployment: await t.deps.devops.deployments.create(
      { organizationId: bAdmin.organizationId, userId: bAdmin.id },
      deploymentCreateInput.parse({
        service: 'b-service',
        environment: 'staging',
        version: 'v2',
        stableVersion: 'v1',
        spec: { strategy: 'canary', steps: [{ pause: { durationSeconds: 3600 } }] },
        provider: {
          kind: 'webhook',
          config: { url: 'https://hooks.example.com/b', secret: 'b-secret-0123456789abc' },
        },
      }),
    ),
    backup: await t.deps.devops.backups.create(adminActor(bAdmin), { wait: true }),
    invitation: (
      await t.deps.auth.invitations.create(adminActor(bAdmin), {
        email: 'invited-into-b@org.test',
        role: 'viewer',
      })
    ).invitation,
    schedule: await t.deps.devops.backups.schedules.create(adminActor(bAdmin), {
      cron: '@daily',
      retentionCount: 3,
      retentionDays: null,
      enabled: true,
    }),
  };
  // A passkey of B's viewer: the row a registration leaves (its public key is no secret).
  passkeyOfB = (
    await t.deps.database.db
      .insertInto('passkeys')
      .values({
        id: randomBytes(16).toString('base64url'),
        user_id: bViewer.id,
        organization_id: bAdmin.organizationId,
        public_key: new Uint8Array(randomBytes(77)),
        name: "B's key",
      })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
});
afterAll(() => t?.close());

/** An admin acting in process, as the services take it. */
function adminActor(user: TestUser) {
  return {
    kind: 'user' as const,
    userId: user.id,
    organizationId: user.organizationId,
    role: 'admin' as const,
    platformRole: null,
    sessionId: 'test',
  };
}

/**
 * A schema-valid input for every procedure, aimed at real rows of organization A, so that a
 * call that got past authorization would visibly change something. `undefined` for procedures
 * without input.
 */
function validInputs(): Record<string, unknown> {
  return {
    'system.health': undefined,
    'system.info': undefined,
    'system.status': undefined,
    'system.selfTest': {},
    'system.annotations.create': { text: 'written by a caller without the right' },
    'system.annotations.list': { limit: 10 },
    'auth.login': { email: viewer.user.email, password: viewer.user.password },
    'auth.refresh': { refreshToken: 'r'.repeat(43) },
    'auth.logout': undefined,
    'auth.logoutAll': undefined,
    'auth.me': undefined,
    'auth.changePassword': { currentPassword: viewer.user.password, newPassword: 'a-new-password-0123' },
    'auth.sessions.list': undefined,
    'auth.sessions.revoke': { id: randomUUID() },
    ...SECOND_FACTOR_INPUTS,
    'auth.secondFactor.setRequirement': { required: true },
    'auth.users.create': {
      email: `planted-${randomBytes(4).toString('hex')}@org.test`,
      password: 'planted-password-0123',
      role: 'admin',
    },
    'auth.users.list': { limit: 10 },
    'auth.users.update': { id: target.id, role: 'admin' },
    'auth.users.disable': { id: target.id },
    'auth.apiKeys.create': { name: 'planted', scopes: [...API_KEY_SCOPES] },
    'auth.apiKeys.list': { limit: 10 },
    'auth.apiKeys.get': { id: operatorKey.id },
    'auth.apiKeys.usage': { id: operatorKey.id, range: '24h' },
    'auth.apiKeys.update': { id: operatorKey.id, enabled: false, scopes: [] },
    'auth.apiKeys.revoke': { id: operatorKey.id },
    'auth.apiKeys.rotate': { id: operatorKey.id },
    'auth.apiKeys.verify': { key: operatorKey.key },
    'auth.audit.list': { limit: 10 },
    'auth.audit.platform': { limit: 10 },
    'auth.keys.rotate': undefined,
    'auth.users.remove': { id: target.id },
    'auth.organizations.create': { name: 'Planted org', admin: { email: 'planted-org@org.test' } },
    'auth.organizations.list': { limit: 10 },
    'auth.organizations.get': { id: adminA.organizationId },
    'auth.organizations.rename': { id: orgB.admin.organizationId, name: 'Taken over' },
    'auth.organizations.suspend': { id: orgB.admin.organizationId, reason: 'planted' },
    'auth.organizations.resume': { id: orgB.admin.organizationId },
    'auth.organizations.delete': { id: orgB.admin.organizationId },
    'auth.platformRoles.list': undefined,
    'auth.platformRoles.set': { userId: target.id, platformRole: 'admin' },
    'auth.invitations.create': { email: 'planted-invite@org.test', role: 'admin' },
    'auth.invitations.list': { limit: 10 },
    'auth.invitations.revoke': { id: randomUUID() },
    'auth.invitations.accept': { token: `bc_inv_${'A'.repeat(43)}`, password: 'planted-password-0123' },
    'performance.overview': undefined,
    'performance.routes': {},
    'performance.history': { range: '15m' },
    // Every test app signs its users in through auth.login before this runs.
    'performance.procedure': { path: 'auth.login' },
    'performance.queries': {},
    'performance.explain': { fingerprint: 'other' },
    'performance.cache.stats': undefined,
    'performance.cache.warm': {},
    'performance.cache.invalidate': { all: true },
    'performance.bottlenecks': undefined,
    'performance.capacity': undefined,
    'performance.alerts.list': undefined,
    'performance.alerts.history': {},
    'performance.alerts.create': {
      name: 'Planted_rule',
      expression: 'db_up',
      comparator: '==',
      threshold: 0,
    },
    'performance.alerts.update': { id: randomUUID(), threshold: 1 },
    'performance.alerts.delete': { id: randomUUID() },
    'performance.alerts.webhooks.create': { name: 'planted', url: 'https://hooks.example.com/a' },
    'performance.alerts.webhooks.list': undefined,
    'performance.alerts.webhooks.delete': { id: randomUUID() },
    // Cancelling a drain, and switching maintenance off: harmless when a call gets through.
    'devops.instance.drain': { draining: false },
    'devops.maintenance.get': undefined,
    'devops.maintenance.set': { enabled: false },
    'devops.environments.list': undefined,
    'devops.environments.get': { name: 'staging' },
    'devops.environments.create': { name: 'planted-env' },
    'devops.environments.setConfig': { name: 'staging', values: { PLANTED: 'yes' } },
    'devops.environments.history': { name: 'staging' },
    'devops.environments.diff': { name: 'staging', from: 1, to: 1 },
    'devops.environments.rollback': { name: 'staging', toRevision: 1 },
    'devops.environments.compare': { a: 'staging', b: 'production' },
    'devops.deployments.create': {
      service: 'planted',
      environment: 'staging',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary', steps: [{ pause: { durationSeconds: 3600 } }] },
      provider: {
        kind: 'webhook',
        config: { url: 'https://hooks.example.com/deploy', secret: 'planted-secret-0123456789' },
      },
    },
    'devops.deployments.list': {},
    'devops.deployments.get': { id: aDeployment.id },
    'devops.deployments.approve': { id: randomUUID() },
    'devops.deployments.promote': { id: randomUUID() },
    'devops.deployments.abort': { id: randomUUID() },
    'devops.deployments.rollback': { id: randomUUID() },
    'devops.backups.create': {},
    'devops.backups.list': {},
    'devops.backups.get': { id: aBackup.id },
    'devops.backups.verify': { id: aBackup.id },
    'devops.backups.delete': { id: randomUUID() },
    'devops.backups.restore': { id: randomUUID(), confirm: false },
    'devops.backups.schedules.list': undefined,
    'devops.backups.schedules.create': { cron: '@daily', retentionCount: 2 },
    'devops.backups.schedules.update': { id: randomUUID(), enabled: false },
    'devops.backups.schedules.delete': { id: randomUUID() },
    'devops.backups.pointInTime.status': undefined,
    'devops.backups.pointInTime.baseBackup': undefined,
  };
}

type Answer = ProcedureAnswer;

/** Calls a procedure over HTTP the way a client does: queries by GET, mutations by POST. */
const call = (path: string, input: unknown, headers: Record<string, string> = {}): Promise<Answer> =>
  callProcedure(t.app, path, procedure(path).type, input, headers);

/** Every table's rows (minus volatile ones), hashed: any write a refused call made shows here. */
const databaseFingerprint = () =>
  fingerprintDatabase(t.deps.database.db, {
    volatileTables: VOLATILE_TABLES,
    volatileColumns: VOLATILE_COLUMNS,
  });

/** Everything organization B has, row by row, for before/after comparisons. */
async function organizationRows(organizationId: string) {
  const db = t.deps.database.db;
  const withoutUsage = <R extends { last_used_at: unknown }>({ last_used_at: _, ...rest }: R) => rest;
  const sessions = await db
    .selectFrom('sessions')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .orderBy('id')
    .execute();
  return {
    organization: await db
      .selectFrom('organizations')
      .selectAll()
      .where('id', '=', organizationId)
      .executeTakeFirst(),
    users: await db
      .selectFrom('users')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('id')
      .execute(),
    apiKeys: (
      await db
        .selectFrom('api_keys')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .orderBy('id')
        .execute()
    ).map(withoutUsage),
    sessions: sessions.map(withoutUsage),
    alertRules: await db
      .selectFrom('alert_rules')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('id')
      .execute(),
    alertWebhooks: await db
      .selectFrom('alert_webhooks')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('id')
      .execute(),
    refreshTokens:
      sessions.length === 0
        ? []
        : await db
            .selectFrom('refresh_tokens')
            .selectAll()
            .where(
              'session_id',
              'in',
              sessions.map((s) => s.id),
            )
            .orderBy('id')
            .execute(),
  };
}

function expectForbidden(answer: Answer, label: string): void {
  expect(answer.code, `${label}: ${answer.text}`).toBe('FORBIDDEN');
  expect(answer.status, label).toBe(403);
}

describe('the router walk', () => {
  it('finds a policy on every procedure, with a known kind, role and scope', () => {
    const table = PROCEDURES.map((p) => {
      const policy = p.policy;
      const shown =
        policy === undefined
          ? 'MISSING'
          : policy.kind === 'role' || policy.kind === 'platform'
            ? `${policy.kind} ${policy.role} | key scope ${policy.scope}`
            : policy.kind;
      return `${p.type.padEnd(8)} ${p.path.padEnd(34)} ${(p.scope ?? 'MISSING').padEnd(12)} ${shown}`;
    });
    console.log(`procedure policies (${PROCEDURES.length}):\n${table.join('\n')}`);

    expect(PROCEDURES.length).toBeGreaterThan(20);
    const missing = PROCEDURES.filter((p) => p.policy === undefined).map((p) => p.path);
    expect(missing, 'procedures without a policy').toEqual([]);
    const unscoped = PROCEDURES.filter((p) => p.scope === undefined).map((p) => p.path);
    expect(unscoped, 'procedures without a scope').toEqual([]);
    for (const { path, policy, scope } of PROCEDURES) {
      expect(['public', 'authenticated', 'session', 'role', 'platform'], path).toContain(policy?.kind);
      // The scope follows from the policy: a platform policy acts on the platform, and nothing else does.
      expect(scope, path).toBe(
        policy?.kind === 'public' ? 'public' : policy?.kind === 'platform' ? 'platform' : 'organization',
      );
      if (policy?.kind === 'role') {
        expect(ROLES, path).toContain(policy.role);
        expect(API_KEY_SCOPES, path).toContain(policy.scope);
      }
      if (policy?.kind === 'platform') {
        expect(PLATFORM_ROLES, path).toContain(policy.role);
        expect(API_KEY_SCOPES, path).toContain(policy.scope);
      }
    }
  });

  it('pins the admin-only policies, so that a weakened one fails', () => {
    for (const [path, scope] of Object.entries(ADMIN_ONLY)) {
      expect(procedure(path).policy, path).toEqual({ kind: 'role', role: 'admin', scope });
    }
    for (const [path, scope] of Object.entries(PLATFORM_ADMIN_ONLY)) {
      expect(procedure(path).policy, path).toEqual({ kind: 'platform', role: 'admin', scope });
    }
  });

  it('holds the rules of the role model for every procedure, present and future', () => {
    for (const { path, type, policy, scope } of PROCEDURES) {
      // Users, restore and configuration are the admin's (the organization's or the platform's).
      if (path.startsWith('auth.users.') || /(^|\.)(restore|config|configuration)\w*(\.|$)/i.test(path)) {
        expect(policy, path).toMatchObject({ role: 'admin' });
      }
      // The installation is the platform's: a tenant's admin never reaches it.
      if (PLATFORM_PATHS.includes(path) || PLATFORM_PREFIXES.some((prefix) => path.startsWith(prefix))) {
        expect(scope, path).toBe('platform');
      }
      // Devops and performance changes need an operator at least.
      if (type === 'mutation' && /^(devops|performance)\./.test(path)) {
        expect(['role', 'platform'], path).toContain(policy?.kind);
        if (policy?.kind === 'role' || policy?.kind === 'platform')
          expect(['operator', 'admin'], path).toContain(policy.role);
      }
      // Nobody changes anything anonymously except by signing in.
      if (type === 'mutation' && policy?.kind === 'public') expect(PUBLIC_MUTATIONS, path).toContain(path);
    }
  });

  it('has a schema-valid input in the test table for every procedure', () => {
    const inputs = validInputs();
    const missing = PROCEDURES.filter((p) => !(p.path in inputs)).map((p) => p.path);
    expect(missing, 'add these procedures to validInputs()').toEqual([]);
    for (const { path, input } of PROCEDURES) {
      if (!input) {
        expect(inputs[path], `${path} takes no input`).toBeUndefined();
        continue;
      }
      const parsed = input.safeParse(inputs[path]);
      expect(parsed.success, `${path}: ${parsed.error?.message}`).toBe(true);
    }
  });
});

describe('a viewer', () => {
  it('gets FORBIDDEN from every mutation but those on their own account, and changes nothing', async () => {
    for (const path of VIEWER_SELF_SERVICE) {
      // An exception must not hide a role check: these are public or act on the caller only.
      expect(['public', 'session'], path).toContain(procedure(path).policy?.kind);
    }
    const inputs = validInputs();
    const usersBefore = await t.deps.database.db.selectFrom('users').select('id').execute();
    const before = await databaseFingerprint();
    const mutations = PROCEDURES.filter((p) => p.type === 'mutation' && !VIEWER_SELF_SERVICE.has(p.path));
    expect(mutations.length).toBeGreaterThanOrEqual(11);
    for (const { path } of mutations) {
      expectForbidden(await call(path, inputs[path], viewer.headers), `viewer calling ${path}`);
    }
    expect(await databaseFingerprint()).toEqual(before);
    expect(await t.deps.database.db.selectFrom('users').select('id').execute()).toEqual(usersBefore);
  });

  it('gets FORBIDDEN from every query that needs more than a viewer', async () => {
    const inputs = validInputs();
    const queries = PROCEDURES.filter(
      (p) =>
        p.type === 'query' &&
        (p.policy?.kind === 'platform' || (p.policy?.kind === 'role' && p.policy.role !== 'viewer')),
    );
    expect(queries.map((q) => q.path)).toEqual(
      expect.arrayContaining(['auth.users.list', 'auth.audit.list']),
    );
    for (const { path } of queries) {
      expectForbidden(await call(path, inputs[path], viewer.headers), `viewer reading ${path}`);
    }
  });

  it('can end one of their own sessions, which is why sessions.revoke is self-service', async () => {
    const second = await login(t, viewer.user);
    const answer = await call('auth.sessions.revoke', { id: second.sessionId }, viewer.headers);
    expect(answer.status, answer.text).toBe(200);
    expect((await call('auth.me', undefined, second.headers)).code).toBe('UNAUTHORIZED');
    expect((await call('auth.me', undefined, viewer.headers)).status).toBe(200);
  });
});

describe('an operator', () => {
  it("gets FORBIDDEN managing another user's API key, and changes nothing", async () => {
    const before = await databaseFingerprint();
    for (const path of [
      'auth.apiKeys.get',
      'auth.apiKeys.usage',
      'auth.apiKeys.update',
      'auth.apiKeys.revoke',
      'auth.apiKeys.rotate',
    ]) {
      const input = { ...(validInputs()[path] as object), id: adminKey.id };
      expectForbidden(await call(path, input, operatorSession.headers), `operator calling ${path}`);
    }
    const planted = await call(
      'auth.apiKeys.create',
      { name: 'for the admin', ownerId: adminA.id, scopes: [...API_KEY_SCOPES] },
      operatorSession.headers,
    );
    expectForbidden(planted, 'operator creating a key for another user');
    expect(await databaseFingerprint()).toEqual(before);
  });

  it("sees only their own keys, even when asking for another user's", async () => {
    const answer = await call('auth.apiKeys.list', { ownerId: adminA.id }, operatorSession.headers);
    expect(answer.status, answer.text).toBe(200);
    const owners = new Set(answer.data.items.map((k: { ownerId: string }) => k.ownerId));
    expect([...owners]).toEqual([operator.id]);
  });
});

describe('an API key', () => {
  it("lacking a procedure's scope gets FORBIDDEN, though it authenticates", async () => {
    const inputs = validInputs();
    const before = await databaseFingerprint();
    // The key's owner is the platform admin: every role and platform policy is within his reach.
    const keyed = (p: WalkedProcedure) => p.policy?.kind === 'role' || p.policy?.kind === 'platform';
    const scopes = new Set(
      PROCEDURES.flatMap((p) =>
        p.policy?.kind === 'role' || p.policy?.kind === 'platform' ? [p.policy.scope] : ([] as ApiKeyScope[]),
      ),
    );
    let refused = 0;
    for (const scope of scopes) {
      const key = await createApiKey(
        t,
        adminA,
        API_KEY_SCOPES.filter((s) => s !== scope),
      );
      // The key itself is good: what it lacks is the scope.
      expect((await call('auth.me', undefined, key.headers)).status).toBe(200);
      for (const p of PROCEDURES) {
        if (!(p.policy?.kind === 'role' || p.policy?.kind === 'platform') || p.policy.scope !== scope)
          continue;
        expectForbidden(await call(p.path, inputs[p.path], key.headers), `key without ${scope} on ${p.path}`);
        refused++;
      }
    }
    expect(refused).toBe(PROCEDURES.filter(keyed).length);
    const after = await databaseFingerprint();
    // The keys made above are the only change.
    expect({ ...after, api_keys: undefined }).toEqual({ ...before, api_keys: undefined });
    expect(after.api_keys?.rows).toBe((before.api_keys?.rows ?? 0) + scopes.size);
  });

  it("with every scope never exceeds its owner's role", async () => {
    const inputs = validInputs();
    const before = await databaseFingerprint();
    const owners = [
      { role: 'viewer', headers: viewerKey.headers },
      { role: 'operator', headers: operatorKey.headers },
    ] as const;
    for (const owner of owners) {
      const rank = ROLES.indexOf(owner.role);
      for (const p of PROCEDURES) {
        if (p.policy?.kind !== 'role' && p.policy?.kind !== 'platform') continue;
        // Neither owner holds a platform role: every platform procedure is above them.
        const above = p.policy.kind === 'platform' || ROLES.indexOf(p.policy.role) > rank;
        // A mutation within the owner's role would really run (and change the fixtures).
        if (!above && p.type === 'mutation') continue;
        const answer = await call(p.path, inputs[p.path], owner.headers);
        if (above) {
          expectForbidden(answer, `${owner.role}'s all-scopes key on ${p.path}`);
        } else if (p.type === 'query') {
          // Within the owner's role the key works: the refusals above are about the role.
          expect(answer.status, `${owner.role}'s key on ${p.path}: ${answer.text}`).toBe(200);
        }
      }
    }
    expect(await databaseFingerprint()).toEqual(before);
  });

  it('gets FORBIDDEN from every procedure that needs a signed-in session', async () => {
    const inputs = validInputs();
    const before = await databaseFingerprint();
    const sessionOnly = PROCEDURES.filter((p) => p.policy?.kind === 'session').map((p) => p.path);
    expect(sessionOnly).toEqual(expect.arrayContaining(['auth.changePassword', 'auth.sessions.list']));
    for (const path of sessionOnly) {
      expectForbidden(await call(path, inputs[path], t.admin), `API key on ${path}`);
    }
    expect(await databaseFingerprint()).toEqual(before);
    // The admin's sessions survived the key's logout and logoutAll attempts.
    expect((await call('auth.me', undefined, adminSession.headers)).status).toBe(200);
  });
});

/**
 * Inputs naming organization B's rows, for every procedure that takes an id. The expected
 * answer is NOT_FOUND unless noted: to an admin of A, B's rows do not exist.
 */
function crossOrganizationCalls(): Record<
  string,
  { input: unknown; expect?: 'empty list' | 'not valid' | 'empty history' }
> {
  return {
    'auth.sessions.revoke': { input: { id: orgB.session.sessionId } },
    'auth.users.update': { input: { id: orgB.viewer.id, role: 'admin', name: 'taken over' } },
    'auth.users.disable': { input: { id: orgB.viewer.id } },
    'auth.users.remove': { input: { id: orgB.viewer.id } },
    'auth.invitations.revoke': { input: { id: orgB.invitation.id } },
    // With the caller's right password: only the passkey's owner decides whether it is found.
    'auth.secondFactor.passkeys.remove': { input: { id: passkeyOfB, password: TEST_ADMIN.password } },
    'auth.apiKeys.create': {
      input: { name: 'planted', ownerId: orgB.admin.id, scopes: [...API_KEY_SCOPES] },
    },
    'auth.apiKeys.list': { input: { ownerId: orgB.admin.id }, expect: 'empty list' },
    // B's people and keys acted only in B's log: as filters of A's, they match nothing.
    'auth.audit.list': { input: { actorUserId: orgB.admin.id }, expect: 'empty list' },
    'auth.apiKeys.get': { input: { id: orgB.key.id } },
    'auth.apiKeys.usage': { input: { id: orgB.key.id } },
    'auth.apiKeys.update': { input: { id: orgB.key.id, enabled: false, scopes: [] } },
    'auth.apiKeys.revoke': { input: { id: orgB.key.id } },
    'auth.apiKeys.rotate': { input: { id: orgB.key.id } },
    // Takes a key rather than an id, and names B's key all the same.
    'auth.apiKeys.verify': { input: { key: orgB.key.key }, expect: 'not valid' },
    'devops.deployments.get': { input: { id: orgB.deployment.id } },
    'devops.deployments.approve': { input: { id: orgB.deployment.id } },
    'devops.deployments.promote': { input: { id: orgB.deployment.id } },
    'devops.deployments.abort': { input: { id: orgB.deployment.id } },
    'devops.deployments.rollback': { input: { id: orgB.deployment.id } },
  };
}

/**
 * Paths of organization-scope procedures whose input names a row: a top-level `id`, `ownerId` or
 * other `…Id`. (Platform-scope ones act on the installation, where no organization boundary
 * applies; a tenant never reaches them at all, which the matrix test checks.)
 */
function proceduresTakingIds(): string[] {
  return PROCEDURES.filter((p) => {
    if (p.scope !== 'organization') return false;
    let schema = p.input as unknown as {
      _zod: { def: { type: string; innerType?: unknown; shape?: object } };
    };
    while (schema && ['optional', 'default', 'nullable', 'prefault'].includes(schema._zod.def.type)) {
      schema = schema._zod.def.innerType as typeof schema;
    }
    const shape = schema?._zod.def.shape;
    return shape !== undefined && Object.keys(shape).some((key) => key === 'id' || /Id$/.test(key));
  }).map((p) => p.path);
}

describe('an admin of organization A calling with organization B’s ids', () => {
  it('finds every procedure that takes an id in the cross-organization table', () => {
    const taking = proceduresTakingIds();
    expect(taking).toEqual(
      expect.arrayContaining(['auth.users.update', 'auth.apiKeys.get', 'auth.sessions.revoke']),
    );
    const missing = taking.filter((path) => !(path in crossOrganizationCalls()));
    expect(missing, 'add these to crossOrganizationCalls()').toEqual([]);
  });

  it.each([
    { credential: 'an access token', byKey: false, headers: () => adminSession.headers },
    { credential: 'an all-scopes API key', byKey: true, headers: () => t.admin },
  ])('gets NOT_FOUND with $credential, and B’s data stays as it was', async ({ byKey, headers }) => {
    const before = await organizationRows(orgB.admin.organizationId);
    // B has something to lose, and the caller can reach its own organization's rows.
    expect(before.users).toHaveLength(2);
    expect(before.apiKeys.length).toBeGreaterThanOrEqual(1);
    expect(before.sessions).toHaveLength(1);
    expect((await call('auth.apiKeys.get', { id: adminKey.id }, headers())).status).toBe(200);
    for (const [path, call_] of Object.entries(crossOrganizationCalls())) {
      const answer = await call(path, call_.input, headers());
      const label = `${path} with B's ids: ${answer.text}`;
      if (byKey && procedure(path).policy?.kind === 'session') {
        // An API key may not call it at all, whoever's session it names.
        expectForbidden(answer, label);
      } else if (call_.expect === 'empty list') {
        expect(answer.status, label).toBe(200);
        expect(answer.data.items, label).toEqual([]);
      } else if (call_.expect === 'empty history') {
        expect(answer.status, label).toBe(200);
        expect(answer.data.items, label).toEqual([]);
      } else if (call_.expect === 'not valid') {
        expect(answer.status, label).toBe(200);
        // Nothing about B's key may leak: no id, owner or scopes.
        expect(answer.data, label).toEqual({ valid: false, code: 'NOT_FOUND' });
      } else {
        expect(answer.code, label).toBe('NOT_FOUND');
        expect(answer.status, label).toBe(404);
      }
      expect(answer.text, label).not.toContain(orgB.admin.email);
    }
    expect(await organizationRows(orgB.admin.organizationId)).toEqual(before);
    // B's user is still signed in and still a viewer.
    const me = await call('auth.me', undefined, orgB.session.headers);
    expect(me.status).toBe(200);
    expect(me.data.role).toBe('viewer');
  });

  it('never lists B’s users, keys or audit events', async () => {
    const bIds = new Set([orgB.admin.id, orgB.viewer.id, orgB.key.id, orgB.session.sessionId]);
    const users = await call('auth.users.list', { limit: 100 }, t.admin);
    expect(users.status, users.text).toBe(200);
    expect(users.data.items.map((u: { organizationId: string }) => u.organizationId)).not.toContain(
      orgB.admin.organizationId,
    );
    const keys = await call('auth.apiKeys.list', { limit: 100 }, t.admin);
    expect(keys.data.items.some((k: { id: string }) => bIds.has(k.id))).toBe(false);
    const events = await call('auth.audit.list', { limit: 100 }, t.admin);
    expect(events.status, events.text).toBe(200);
    for (const event of events.data.items as { actorUserId: string | null; targetId: string | null }[]) {
      expect(bIds.has(event.actorUserId ?? '') || bIds.has(event.targetId ?? '')).toBe(false);
    }
  });

  it('spends none of B’s key uses when verifying B’s key', async () => {
    const { key, apiKey } = await t.deps.auth.apiKeys.create(
      { organizationId: orgB.admin.organizationId, userId: orgB.admin.id, role: 'admin' },
      { name: 'limited key of B', scopes: ['system:read'], remaining: 5 },
    );
    const answer = await call('auth.apiKeys.verify', { key }, t.admin);
    expect(answer.data).toEqual({ valid: false, code: 'NOT_FOUND' });
    const row = await t.deps.database.db
      .selectFrom('api_keys')
      .select('remaining')
      .where('id', '=', apiKey.id)
      .executeTakeFirstOrThrow();
    // A key that "does not exist" to the caller cannot have been used by them.
    expect(row.remaining).toBe(5);
  });
});

describe('unknown keys in an input', () => {
  it('users.create: organizationId and disabled are dropped; the user is enabled, in A', async () => {
    const email = `stripped-${randomBytes(4).toString('hex')}@org.test`;
    const answer = await call(
      'auth.users.create',
      {
        email,
        password: 'stripped-password-0123',
        role: 'viewer',
        organizationId: orgB.admin.organizationId,
        organization_id: orgB.admin.organizationId,
        disabled: true,
      },
      t.admin,
    );
    expect(answer.status, answer.text).toBe(200);
    const row = await t.deps.database.db
      .selectFrom('users')
      .select(['organization_id', 'disabled', 'role'])
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ organization_id: adminA.organizationId, disabled: false, role: 'viewer' });
  });

  it('apiKeys.create: organizationId, role, key_hash and remaining_uses are dropped', async () => {
    const plantedHash = 'f'.repeat(64);
    const answer = await call(
      'auth.apiKeys.create',
      {
        name: 'stripped extras',
        scopes: ['system:read'],
        organizationId: orgB.admin.organizationId,
        organization_id: orgB.admin.organizationId,
        role: 'admin',
        key_hash: plantedHash,
        remaining_uses: 1,
      },
      operatorSession.headers,
    );
    expect(answer.status, answer.text).toBe(200);
    const row = await t.deps.database.db
      .selectFrom('api_keys')
      .select(['organization_id', 'owner_id', 'key_hash', 'remaining', 'scopes'])
      .where('id', '=', answer.data.apiKey.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({
      organization_id: adminA.organizationId,
      owner_id: operator.id,
      key_hash: createHash('sha256').update(answer.data.key).digest('hex'),
      remaining: null,
      scopes: ['system:read'],
    });
    const owner = await t.deps.database.db
      .selectFrom('users')
      .select('role')
      .where('id', '=', operator.id)
      .executeTakeFirstOrThrow();
    expect(owner.role).toBe('operator');
  });

  it('users.update: organizationId, email and disabled are dropped; only the name changes', async () => {
    const before = await t.deps.database.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', target.id)
      .executeTakeFirstOrThrow();
    const answer = await call(
      'auth.users.update',
      {
        id: target.id,
        name: 'Renamed Target',
        organizationId: orgB.admin.organizationId,
        email: `stolen-${randomBytes(4).toString('hex')}@org.test`,
        disabled: true,
        password_hash: 'planted',
      },
      t.admin,
    );
    expect(answer.status, answer.text).toBe(200);
    const after = await t.deps.database.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', target.id)
      .executeTakeFirstOrThrow();
    expect({ ...after, updated_at: null }).toEqual({ ...before, name: 'Renamed Target', updated_at: null });
  });

  it('system.annotations.create: the caller cannot choose id or createdAt', async () => {
    const plantedId = 987_654_321;
    const answer = await call(
      'system.annotations.create',
      { text: 'extra keys', id: plantedId, createdAt: '2000-01-01T00:00:00.000Z' },
      t.admin,
    );
    const rows = await t.deps.database.db
      .selectFrom('annotations')
      .select(['id', 'created_at'])
      .where('text', '=', 'extra keys')
      .execute();
    if (answer.status === 400) {
      // The annotation schema is strict: unknown keys are refused outright, and nothing is stored.
      expect(answer.code).toBe('BAD_REQUEST');
      expect(rows).toEqual([]);
    } else {
      expect(answer.status, answer.text).toBe(200);
      expect(rows).toHaveLength(1);
      expect(Number(rows[0]?.id)).not.toBe(plantedId);
      expect(rows[0]?.created_at.getUTCFullYear()).toBeGreaterThan(2000);
    }
    const planted = await t.deps.database.db
      .selectFrom('annotations')
      .select('id')
      .where('id', '=', plantedId)
      .execute();
    expect(planted).toEqual([]);
  });
});
