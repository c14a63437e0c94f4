import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageWithTable, TABLE_PAGE } from '../../scripts/procedure-table';
import type { Policy } from '../../server/http/trpc';
import { API_KEY_SCOPES, type ApiKeyScope, ROLES, type Role } from '../../shared/auth';
import { startTestApp, TEST_ADMIN, type TestApp } from '../helpers/app';
import { createApiKey, createOrganization, createUser, login, type TestUser } from '../helpers/auth';
import { databaseFingerprint } from '../helpers/fingerprint';
import { callProcedure } from '../helpers/http';
import { PROCEDURES, SECOND_FACTOR_INPUTS } from '../helpers/router-walk';

/**
 * The generated authorization matrix (issue 11): every procedure of the router, called over HTTP
 * by every kind of caller, with the ids of organization A. What each caller must get follows
 * from the procedure's declared scope and policy alone, so a new procedure is covered the moment
 * it is declared, and one missing from the input table fails the test.
 *
 * The installation: organization P holds the platform's operators (the first admin, platform
 * admin; a platform operator); organization A is a tenant whose rows the inputs name; organization
 * B is another tenant, whose members and keys are the attackers.
 */

/** Who calls: what the policy needs to know about them, and their headers. */
interface Caller {
  name: string;
  kind: 'anonymous' | 'user' | 'apiKey';
  /** Organization role (users and the owner of a key). */
  role: Role | null;
  platformRole: 'operator' | 'admin' | null;
  /** The key's one scope. */
  scope?: ApiKeyScope;
  /** A user caller signs in afresh for every call: self-service calls (logout, logoutAll) end the session they use. */
  user?: TestUser;
  /** A key caller's headers. */
  headers?: Record<string, string>;
}

type Expected = 'allowed' | 'UNAUTHORIZED' | 'FORBIDDEN';

const RANK: Record<string, number> = { viewer: 0, operator: 1, admin: 2 };

/** The answer a caller must get, from the declared policy alone. */
function expected(policy: Policy, caller: Caller): Expected {
  if (policy.kind === 'public') return 'allowed';
  if (caller.kind === 'anonymous') return 'UNAUTHORIZED';
  switch (policy.kind) {
    case 'authenticated':
      return 'allowed';
    case 'session':
      return caller.kind === 'user' ? 'allowed' : 'FORBIDDEN';
    case 'role': {
      if (caller.kind === 'apiKey' && caller.scope !== policy.scope) return 'FORBIDDEN';
      return RANK[caller.role!]! >= RANK[policy.role]! ? 'allowed' : 'FORBIDDEN';
    }
    case 'platform': {
      if (caller.kind === 'apiKey' && caller.scope !== policy.scope) return 'FORBIDDEN';
      const held = caller.platformRole;
      return held !== null && RANK[held]! >= RANK[policy.role]! ? 'allowed' : 'FORBIDDEN';
    }
  }
}

let t: TestApp;
let platformAdmin: TestUser;
let platformOperator: TestUser;
/** Organization A's rows, named by the inputs. */
let a: {
  admin: TestUser;
  viewer: TestUser;
  session: { sessionId: string };
  key: { id: string; key: string };
};
/** Whom auth.login signs in: a user of the platform's organization, so A's sessions stay as they are. */
let loginTarget: TestUser;
const callers: Caller[] = [];

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'warn' });
  platformAdmin = {
    id: t.adminUser.id,
    organizationId: t.adminUser.organizationId,
    email: TEST_ADMIN.email,
    password: TEST_ADMIN.password,
    role: 'admin',
  };
  // A platform operator who is only a viewer of the platform's own organization.
  platformOperator = await createUser(t, 'viewer');
  await t.deps.database.db
    .updateTable('users')
    .set({ platform_role: 'operator' })
    .where('id', '=', platformOperator.id)
    .execute();

  const aAdmin = await createOrganization(t);
  const aViewer = await createUser(t, 'viewer', aAdmin);
  a = {
    admin: aAdmin,
    viewer: aViewer,
    session: await login(t, aViewer),
    key: await createApiKey(t, aAdmin),
  };

  loginTarget = await createUser(t, 'viewer');

  const bAdmin = await createOrganization(t);
  callers.push({ name: 'anonymous', kind: 'anonymous', role: null, platformRole: null, headers: {} });
  for (const role of ROLES) {
    const user = role === 'admin' ? bAdmin : await createUser(t, role, bAdmin);
    callers.push({ name: `B ${role}`, kind: 'user', role, platformRole: null, user });
  }
  for (const scope of API_KEY_SCOPES) {
    const key = await createApiKey(t, bAdmin, [scope]);
    callers.push({
      name: `B admin's key [${scope}]`,
      kind: 'apiKey',
      role: 'admin',
      platformRole: null,
      scope,
      headers: key.headers,
    });
  }
  callers.push({
    name: 'platform operator',
    kind: 'user',
    role: 'viewer',
    platformRole: 'operator',
    user: platformOperator,
  });
  callers.push({
    name: 'platform admin',
    kind: 'user',
    role: 'admin',
    platformRole: 'admin',
    user: platformAdmin,
  });
}, 120_000);
afterAll(() => t?.close());

async function headersOf(caller: Caller): Promise<Record<string, string>> {
  return caller.user ? (await login(t, caller.user)).headers : (caller.headers ?? {});
}

/**
 * A schema-valid input per procedure, naming organization A's rows (or ids nobody has, where a
 * call that got through would destroy what later calls need). A procedure missing here fails.
 */
function inputs(): Record<string, unknown> {
  const unknownId = randomUUID();
  return {
    'system.health': undefined,
    'system.info': undefined,
    'system.status': undefined,
    'system.selfTest': {},
    'system.annotations.create': { text: 'matrix' },
    'system.annotations.list': { limit: 10 },
    'auth.login': { email: loginTarget.email, password: loginTarget.password },
    'auth.refresh': { refreshToken: 'r'.repeat(43) },
    'auth.logout': undefined,
    'auth.logoutAll': undefined,
    'auth.me': undefined,
    'auth.changePassword': { currentPassword: 'not-the-password-0123', newPassword: 'a-new-password-0123' },
    'auth.sessions.list': undefined,
    'auth.sessions.revoke': { id: a.session.sessionId },
    'auth.users.create': {
      email: `m-${randomUUID()}@matrix.test`,
      password: 'matrix-password-0123',
      role: 'viewer',
    },
    'auth.users.list': { limit: 10 },
    'auth.users.update': { id: a.viewer.id, role: 'admin' },
    'auth.users.disable': { id: a.viewer.id },
    'auth.users.remove': { id: a.viewer.id },
    // Naming another owner is the admin's alone (a finer rule than the policy): the caller's own key.
    'auth.apiKeys.create': { name: 'matrix' },
    'auth.apiKeys.list': { ownerId: a.admin.id, limit: 10 },
    'auth.apiKeys.get': { id: a.key.id },
    'auth.apiKeys.update': { id: a.key.id, enabled: false },
    'auth.apiKeys.revoke': { id: a.key.id },
    'auth.apiKeys.rotate': { id: a.key.id },
    'auth.apiKeys.verify': { key: a.key.key },
    'auth.apiKeys.usage': { id: a.key.id, range: '7d' },
    'auth.audit.list': { limit: 10 },
    'auth.audit.platform': { limit: 10 },
    'auth.keys.rotate': undefined,
    'auth.organizations.create': {
      name: `Matrix ${randomUUID().slice(0, 8)}`,
      admin: { email: `o-${randomUUID()}@matrix.test` },
    },
    'auth.organizations.list': { limit: 10 },
    'auth.organizations.get': { id: a.admin.organizationId },
    'auth.organizations.rename': { id: unknownId, name: 'Renamed by the matrix' },
    'auth.organizations.suspend': { id: unknownId, reason: 'matrix' },
    'auth.organizations.resume': { id: unknownId },
    'auth.organizations.delete': { id: unknownId },
    'auth.platformRoles.list': undefined,
    'auth.platformRoles.set': { userId: unknownId, platformRole: 'operator' },
    'auth.invitations.create': { email: `i-${randomUUID()}@matrix.test`, role: 'viewer' },
    'auth.invitations.list': { limit: 10 },
    'auth.invitations.revoke': { id: unknownId },
    'auth.invitations.accept': { token: 'x'.repeat(43), password: 'matrix-password-0123' },
    ...SECOND_FACTOR_INPUTS,
    // Turning it on would end the sessions of B's callers, who sign in with a password alone.
    'auth.secondFactor.setRequirement': { required: false },
    'performance.overview': undefined,
    'performance.routes': {},
    'performance.history': { range: '15m' },
    'performance.procedure': { path: 'auth.login' },
    'performance.queries': {},
    'performance.explain': { fingerprint: 'unknown' },
    'performance.cache.stats': undefined,
    'performance.cache.warm': { warmers: [] },
    'performance.cache.invalidate': { key: 'matrix' },
    'performance.bottlenecks': undefined,
    'performance.capacity': undefined,
    'performance.alerts.list': undefined,
    'performance.alerts.history': {},
    'performance.alerts.create': { name: 'Matrix_rule', expression: 'db_up', comparator: '==', threshold: 0 },
    'performance.alerts.update': { id: unknownId, threshold: 1 },
    'performance.alerts.delete': { id: unknownId },
    'performance.alerts.webhooks.create': { name: 'matrix', url: 'https://hooks.example.com/matrix' },
    'performance.alerts.webhooks.list': undefined,
    'performance.alerts.webhooks.delete': { id: unknownId },
    'devops.instance.drain': { draining: false },
    'devops.maintenance.get': undefined,
    'devops.maintenance.set': { enabled: false },
    'devops.environments.list': undefined,
    'devops.environments.get': { name: 'staging' },
    'devops.environments.create': { name: `m-${randomUUID().slice(0, 8)}` },
    'devops.environments.setConfig': { name: 'staging', values: { MATRIX: 'yes' } },
    'devops.environments.history': { name: 'staging' },
    'devops.environments.diff': { name: 'staging', from: 1, to: 1 },
    'devops.environments.rollback': { name: 'staging', toRevision: 1 },
    'devops.environments.compare': { a: 'staging', b: 'production' },
    'devops.deployments.create': {
      service: 'matrix',
      environment: 'staging',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary', steps: [{ pause: { durationSeconds: 3600 } }] },
      // An address no policy lets the server call: a call that got through is refused at once.
      provider: {
        kind: 'webhook',
        config: { url: 'http://127.0.0.1:9/deploy', secret: 'matrix-secret-0123456789' },
      },
    },
    'devops.deployments.list': {},
    'devops.deployments.get': { id: unknownId },
    'devops.deployments.approve': { id: unknownId },
    'devops.deployments.promote': { id: unknownId },
    'devops.deployments.abort': { id: unknownId },
    'devops.deployments.rollback': { id: unknownId },
    'devops.backups.create': {},
    'devops.backups.list': {},
    'devops.backups.get': { id: unknownId },
    'devops.backups.verify': { id: unknownId },
    'devops.backups.delete': { id: unknownId },
    'devops.backups.restore': { id: unknownId, confirm: false },
    'devops.backups.schedules.list': undefined,
    'devops.backups.schedules.create': { cron: '@daily', retentionCount: 2 },
    'devops.backups.schedules.update': { id: unknownId, enabled: false },
    'devops.backups.schedules.delete': { id: unknownId },
    'devops.backups.pointInTime.status': undefined,
    'devops.backups.pointInTime.baseBackup': undefined,
  };
}

/** Organization A's rows in every table that has an organization, hashed. */
async function organizationA() {
  const all = await databaseFingerprint(t.deps.database.db, {
    volatileTables: new Set(['audit_events', 'rate_limits', 'login_failures', 'self_test_scratch']),
    volatileColumns: {
      api_keys: ['last_used_at'],
      sessions: ['last_used_at'],
      signing_keys: ['superseded_at', 'retire_at'],
    },
  });
  const rows = await Promise.all(
    (['users', 'api_keys', 'sessions', 'annotations', 'environments', 'invitations'] as const).map(
      async (table) => [
        table,
        await t.deps.database.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .where('organization_id', '=', a.admin.organizationId)
          .executeTakeFirstOrThrow(),
      ],
    ),
  );
  return { rows: Object.fromEntries(rows), users: all.users, api_keys: all.api_keys };
}

describe('the authorization matrix', () => {
  it('has an input for every procedure, and a scope and policy on each', () => {
    const table = inputs();
    const missing = PROCEDURES.filter((p) => !(p.path in table)).map((p) => p.path);
    expect(missing, 'procedures missing from the matrix: add them to inputs()').toEqual([]);
    expect(PROCEDURES.filter((p) => !p.scope || !p.policy).map((p) => p.path)).toEqual([]);
  });

  it('is written down in the API reference: every procedure with its scope and policy, as the router declares them', () => {
    const page = readFileSync(TABLE_PAGE, 'utf8');
    // On a difference: node --import tsx scripts/procedure-table.ts --write
    expect(page).toBe(pageWithTable(page));
  });

  it('answers every caller on every procedure as its declared scope and policy say', async () => {
    const table = inputs();
    const aBefore = await organizationA();
    const wrong: string[] = [];
    let calls = 0;
    for (const procedure of PROCEDURES) {
      for (const caller of callers) {
        const want = expected(procedure.policy!, caller);
        const headers = await headersOf(caller);
        const answer = await callProcedure(
          t.app,
          procedure.path,
          procedure.type,
          table[procedure.path],
          headers,
        );
        calls++;
        const got =
          answer.code === 'UNAUTHORIZED' && procedure.policy!.kind !== 'public'
            ? 'UNAUTHORIZED'
            : answer.code === 'FORBIDDEN'
              ? 'FORBIDDEN'
              : 'allowed';
        if (answer.status >= 500)
          wrong.push(`${procedure.path} as ${caller.name}: ${answer.status} ${answer.text}`);
        else if (got !== want)
          wrong.push(
            `${procedure.path} as ${caller.name}: want ${want}, got ${answer.status} ${answer.text.slice(0, 200)}`,
          );
      }
    }
    console.log(
      `authorization matrix: ${PROCEDURES.length} procedures × ${callers.length} callers = ${calls} calls, ${calls - wrong.length} as expected`,
    );
    expect(wrong, wrong.join('\n')).toEqual([]);
    // Nothing a tenant or a platform role did reached into organization A's rows, except the
    // platform admin's own reads and the calls aimed at ids nobody has.
    const aAfter = await organizationA();
    expect(aAfter.rows).toEqual(aBefore.rows);
  }, 600_000);
});
