import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { PlatformError } from '../../server/base/errors';
import { createMetrics } from '../../server/base/metrics/metrics';
import type { UserPrincipal } from '../../server/base/principal';
import { signAccessToken } from '../../server/services/auth/access-tokens';
import { LoginThrottle } from '../../server/services/auth/login-throttle';
import type { ScryptParams } from '../../server/services/auth/passwords';
import type { IssuedSession } from '../../server/services/auth/session-types';
import { SessionService } from '../../server/services/auth/sessions';
import { generateSigningKey, importSigningKey } from '../../server/services/auth/signing-keys';
import { UserService } from '../../server/services/auth/users';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';

const PARAMS: ScryptParams = { ln: 10, r: 8, p: 1 };

let testDb: OpenedTestDatabase;
let database: PlatformDatabase;
let users: UserService;
let sessions: SessionService;
/** User ids the onUserChanged hook was told about, in order. */
const changed: string[] = [];
/** Every password and refresh token the tests handled, for the final at-rest scan. */
const plaintexts = new Set<string>();

beforeAll(async () => {
  testDb = await openTestDatabase();
  database = testDb.database;
  const audit = new AuditLog(createMetrics({ build: readBuildInfo(), defaultMetrics: false }));
  users = new UserService({
    database,
    audit,
    passwordParams: PARAMS,
    onUserChanged: (userId) => {
      changed.push(userId);
    },
  });
  const handle = await importSigningKey(await generateSigningKey('EdDSA'));
  sessions = new SessionService({
    database,
    audit,
    signer: {
      async signAccessToken(claims) {
        const token = await signAccessToken(claims, handle, { issuer: 'test', audience: 'test-api' });
        return { token, expiresAt: new Date(Date.now() + 900_000) };
      },
    },
    throttle: new LoginThrottle(database),
    passwordParams: PARAMS,
    graceSeconds: 10,
    lifetimeHours: 720,
    idleHours: 168,
    refreshDerivationKey: new Uint8Array(randomBytes(32)),
  });
});

afterAll(async () => {
  await testDb?.close();
});

function unique(label: string): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

function newPassword(): string {
  const password = unique('pw');
  plaintexts.add(password);
  return password;
}

function email(label = 'user'): string {
  return `${unique(label)}@example.test`;
}

/** A fresh organization and its bootstrap admin, as the actor later calls are made by. */
async function newOrganization() {
  const adminEmail = email('admin');
  const password = newPassword();
  const { userId } = await users.ensureAdmin({
    email: adminEmail,
    password,
    organizationName: unique('org'),
  });
  const row = await database.db
    .selectFrom('users')
    .select('organization_id')
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  const admin: UserPrincipal = {
    kind: 'user',
    userId,
    organizationId: row.organization_id,
    role: 'admin',
    platformRole: null,
    sessionId: '00000000-0000-4000-8000-000000000000',
  };
  return { admin, adminEmail, password };
}

function actorFor(user: { id: string; organizationId: string }): UserPrincipal {
  return {
    kind: 'user',
    userId: user.id,
    organizationId: user.organizationId,
    role: 'admin',
    platformRole: null,
    sessionId: '00000000-0000-4000-8000-000000000001',
  };
}

function remember(issued: IssuedSession): IssuedSession {
  plaintexts.add(issued.refreshToken);
  return issued;
}

async function failure(promise: Promise<unknown>) {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PlatformError);
  const { code, message } = error as PlatformError;
  return { code, message };
}

async function auditRows(type: string, targetId: string) {
  return database.db
    .selectFrom('audit_events')
    .selectAll()
    .where('type', '=', type)
    .where('target_id', '=', targetId)
    .orderBy('id')
    .execute();
}

describe('bootstrap admin', () => {
  it('creates the organization and admin once, and finds them on every later call', async () => {
    const adminEmail = email('boot');
    const password = newPassword();
    const first = await users.ensureAdmin({ email: adminEmail, password, organizationName: 'Bootstrap Ltd' });
    const again = await users.ensureAdmin({
      email: adminEmail.toUpperCase(),
      password: newPassword(),
      organizationName: 'Other',
    });

    expect(first.created).toBe(true);
    expect(again).toEqual({ created: false, userId: first.userId });
    const row = await database.db
      .selectFrom('users')
      .innerJoin('organizations', 'organizations.id', 'users.organization_id')
      .select(['users.role', 'organizations.name'])
      .where('users.id', '=', first.userId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ role: 'admin', name: 'Bootstrap Ltd' });
    // The first password stays: a restart with another ADMIN_PASSWORD does not reset it.
    remember(await sessions.login({ email: adminEmail, password }));
  });

  it('creates one admin when two instances start together', async () => {
    const adminEmail = email('race');
    const password = newPassword();
    const organizationName = unique('race-org');
    const results = await Promise.all(
      [0, 1, 2].map(() => users.ensureAdmin({ email: adminEmail, password, organizationName })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.userId)).size).toBe(1);
    const organizations = await database.db
      .selectFrom('organizations')
      .select('id')
      .where('name', '=', organizationName)
      .execute();
    expect(organizations).toHaveLength(1);
  });
});

describe('users', () => {
  it('creates a user with a normalised email, in the actor’s organization, never showing the hash', async () => {
    const { admin } = await newOrganization();
    const address = email('mixed');
    const user = await users.create(admin, {
      email: `  ${address.toUpperCase()}  `,
      password: newPassword(),
      name: ' Ada ',
      role: 'operator',
    });

    expect(user).toMatchObject({
      email: address,
      name: 'Ada',
      role: 'operator',
      organizationId: admin.organizationId,
    });
    expect(Object.keys(user).sort()).toEqual(
      [
        'createdAt',
        'disabled',
        'email',
        'id',
        'name',
        'organizationId',
        'passwordChangedAt',
        'platformRole',
        'role',
        'updatedAt',
      ].sort(),
    );
    expect(await auditRows('user_created', user.id)).toMatchObject([
      { actor_user_id: admin.userId, details: { email: address, role: 'operator' } },
    ]);
  });

  it('refuses an email already taken, in any case and in any organization', async () => {
    const first = await newOrganization();
    const second = await newOrganization();
    const address = email('taken');
    await users.create(first.admin, { email: address, password: newPassword(), role: 'viewer' });

    expect(
      await failure(
        users.create(first.admin, { email: address.toUpperCase(), password: newPassword(), role: 'viewer' }),
      ),
    ).toMatchObject({ code: 'CONFLICT' });
    expect(
      await failure(
        users.create(second.admin, { email: ` ${address}`, password: newPassword(), role: 'admin' }),
      ),
    ).toMatchObject({ code: 'CONFLICT' });
  });

  it('refuses a malformed email and a password shorter than eight characters', async () => {
    const { admin } = await newOrganization();
    expect(
      await failure(users.create(admin, { email: 'not an email', password: newPassword(), role: 'viewer' })),
    ).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await failure(users.create(admin, { email: email(), password: 'short', role: 'viewer' }))).toEqual(
      {
        code: 'BAD_REQUEST',
        message: 'the password must be at least 8 characters',
      },
    );
  });

  it('lists the organization’s users page by page, in email order, and nobody else’s', async () => {
    const { admin, adminEmail } = await newOrganization();
    const other = await newOrganization();
    const emails = ['a', 'b', 'c', 'd'].map((letter) => `${letter}-${unique('list')}@example.test`);
    for (const address of emails)
      await users.create(admin, { email: address, password: newPassword(), role: 'viewer' });
    await users.create(other.admin, { email: email('elsewhere'), password: newPassword(), role: 'viewer' });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await users.list(admin, { limit: 2, cursor });
      seen.push(...page.items.map((u) => u.email));
      for (const user of page.items) expect(user).not.toHaveProperty('password_hash');
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);

    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual([...emails, adminEmail].sort());
    // Pages join up into the one ordering (the database's collation decides it, not JS).
    expect(seen).toEqual((await users.list(admin, { limit: 100 })).items.map((u) => u.email));
    expect(await failure(users.list(admin, { limit: 2, cursor: '***' }))).toMatchObject({
      code: 'BAD_REQUEST',
    });
    expect(await failure(users.list(admin, { limit: 0 }))).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('answers ids from another organization, unknown ids and malformed ids alike: NOT_FOUND', async () => {
    const { admin } = await newOrganization();
    const other = await newOrganization();
    const foreign = await users.create(other.admin, {
      email: email(),
      password: newPassword(),
      role: 'admin',
    });
    const ids = [foreign.id, '5b0e6f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'not-a-uuid', "1' or '1'='1"];

    for (const id of ids) {
      expect(await failure(users.get(admin, id))).toEqual({ code: 'NOT_FOUND', message: 'no such user' });
      expect(await failure(users.update(admin, id, { role: 'viewer' }))).toEqual({
        code: 'NOT_FOUND',
        message: 'no such user',
      });
      expect(await failure(users.disable(admin, id))).toEqual({ code: 'NOT_FOUND', message: 'no such user' });
    }
    expect(await users.get(other.admin, foreign.id)).toMatchObject({ role: 'admin', disabled: false });
  });

  it('audits a role change with the old and new role and tells the hook', async () => {
    const { admin } = await newOrganization();
    const user = await users.create(admin, { email: email(), password: newPassword(), role: 'viewer' });

    const renamed = await users.update(admin, user.id, { name: 'Grace' });
    expect(renamed.name).toBe('Grace');
    expect(changed).not.toContain(user.id);
    const promoted = await users.update(admin, user.id, { role: 'operator' });
    expect(promoted.role).toBe('operator');
    // Nothing changes, nothing is recorded.
    await users.update(admin, user.id, { role: 'operator', name: 'Grace' });

    expect(changed.filter((id) => id === user.id)).toHaveLength(1);
    expect(await auditRows('role_changed', user.id)).toMatchObject([
      { actor_user_id: admin.userId, result: 'success', details: { oldRole: 'viewer', newRole: 'operator' } },
    ]);
    expect(await auditRows('user_updated', user.id)).toHaveLength(1);
  });

  it('disabling a user revokes all their sessions and refuses their logins', async () => {
    const { admin } = await newOrganization();
    const password = newPassword();
    const address = email();
    const user = await users.create(admin, { email: address, password, role: 'operator' });
    const one = remember(await sessions.login({ email: address, password }));
    const two = remember(await sessions.login({ email: address, password }));

    const disabled = await users.disable(admin, user.id);

    expect(disabled.disabled).toBe(true);
    expect(changed).toContain(user.id);
    expect(await sessions.isSessionActive(one.session.id)).toBe(false);
    expect(await sessions.isSessionActive(two.session.id)).toBe(false);
    const revoked = await database.db
      .selectFrom('sessions')
      .select('revoked_reason')
      .where('user_id', '=', user.id)
      .execute();
    expect(revoked).toEqual([{ revoked_reason: 'user_disabled' }, { revoked_reason: 'user_disabled' }]);
    expect(await failure(sessions.login({ email: address, password }))).toMatchObject({
      code: 'UNAUTHORIZED',
    });
    expect(await auditRows('user_disabled', user.id)).toMatchObject([{ details: { revokedSessions: 2 } }]);
  });

  it('lets no admin disable themselves', async () => {
    const { admin } = await newOrganization();
    const second = await users.create(admin, { email: email(), password: newPassword(), role: 'admin' });
    expect(await failure(users.disable(actorFor(second), second.id))).toEqual({
      code: 'BAD_REQUEST',
      message: 'you cannot disable your own account',
    });
    expect((await users.get(admin, second.id)).disabled).toBe(false);
  });

  it('keeps the last enabled admin: it can be neither demoted nor disabled', async () => {
    const { admin } = await newOrganization();
    const operator = await users.create(admin, { email: email(), password: newPassword(), role: 'operator' });

    expect(await failure(users.update(admin, admin.userId, { role: 'viewer' }))).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('last enabled admin'),
    });
    // Whoever asks: the role check is the procedure's, this rule is the service's.
    expect(await failure(users.disable(actorFor(operator), admin.userId))).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('last enabled admin'),
    });

    // With a second admin, one may step down; then the other is the last again.
    const second = await users.create(admin, { email: email(), password: newPassword(), role: 'admin' });
    expect((await users.update(admin, admin.userId, { role: 'operator' })).role).toBe('operator');
    expect(await failure(users.update(actorFor(second), second.id, { role: 'viewer' }))).toMatchObject({
      code: 'CONFLICT',
    });
  });

  it('lets only one of two admins demoting each other at the same moment succeed', async () => {
    const pairs = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const { admin } = await newOrganization();
        const second = await users.create(admin, { email: email(), password: newPassword(), role: 'admin' });
        return { admin, second };
      }),
    );
    // Every pooled connection open first, so the demotions really run side by side.
    await Promise.all(
      Array.from({ length: 10 }, () => database.read((db) => sql`select pg_sleep(0.05)`.execute(db))),
    );

    const outcomes = await Promise.all(
      pairs.map(({ admin, second }) =>
        Promise.allSettled([
          users.update(admin, second.id, { role: 'viewer' }),
          users.update(actorFor(second), admin.userId, { role: 'viewer' }),
        ]),
      ),
    );

    for (const [index, results] of outcomes.entries()) {
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const admins = await database.db
        .selectFrom('users')
        .select('id')
        .where('organization_id', '=', pairs[index]!.admin.organizationId)
        .where('role', '=', 'admin')
        .execute();
      expect(admins).toHaveLength(1);
    }
  });
});

describe('secrets at rest', () => {
  it('keeps no plaintext password or refresh token in any column of users, sessions, tokens or audit events', async () => {
    expect(plaintexts.size).toBeGreaterThan(30);
    const dump: string[] = [];
    for (const table of ['users', 'sessions', 'refresh_tokens', 'audit_events'] as const) {
      const { rows } = await sql<{
        row: string;
      }>`select to_jsonb(t)::text as row from ${sql.table(table)} t`.execute(database.db);
      expect(rows.length).toBeGreaterThan(0);
      dump.push(...rows.map((r) => r.row));
    }
    const text = dump.join('\n');
    expect([...plaintexts].filter((secret) => text.includes(secret))).toEqual([]);
  });
});
