import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { PlatformError } from '../../server/base/errors';
import { createMetrics } from '../../server/base/metrics/metrics';
import type { UserPrincipal } from '../../server/base/principal';
import { signAccessToken, verifyAccessToken } from '../../server/services/auth/access-tokens';
import { accountKey, ipKey, LoginThrottle } from '../../server/services/auth/login-throttle';
import type { ScryptParams } from '../../server/services/auth/passwords';
import { deriveChildRefreshToken } from '../../server/services/auth/refresh-tokens';
import { generateRefreshToken, hashSecret } from '../../server/services/auth/secrets';
import type { AccessTokenSigner, IssuedSession } from '../../server/services/auth/session-types';
import { SessionService, type SessionServiceOptions } from '../../server/services/auth/sessions';
import {
  generateSigningKey,
  importSigningKey,
  importVerificationKeys,
  type VerificationKeys,
} from '../../server/services/auth/signing-keys';
import { UserService } from '../../server/services/auth/users';
import type { Role } from '../../shared/auth';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';

// AUTH_PASSWORD_COST=10 as in tests: the same code path as ln=17, a thousandth of the time.
const PARAMS: ScryptParams = { ln: 10, r: 8, p: 1 };
const ISSUER = 'beauty-crafter-test';
const AUDIENCE = 'beauty-crafter-test-api';
const DERIVATION_KEY = new Uint8Array(randomBytes(32));
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let testDb: OpenedTestDatabase;
let database: PlatformDatabase;
let audit: AuditLog;
let signer: AccessTokenSigner;
let verificationKeys: VerificationKeys;
let users: UserService;
/** Every password (tried or real) and refresh token the tests handled, for the final at-rest scan. */
const plaintexts = new Set<string>(['not-the-password', 'wrong-password', 'guess-password']);

beforeAll(async () => {
  testDb = await openTestDatabase();
  database = testDb.database;
  audit = new AuditLog(createMetrics({ build: readBuildInfo(), defaultMetrics: false }));
  // A real signer from the pure functions the keyring is built on.
  const record = await generateSigningKey('EdDSA');
  const handle = await importSigningKey(record);
  verificationKeys = await importVerificationKeys([record.publicJwk]);
  signer = {
    async signAccessToken(claims) {
      const now = new Date();
      const token = await signAccessToken(claims, handle, { issuer: ISSUER, audience: AUDIENCE, now });
      return { token, expiresAt: new Date((Math.floor(now.getTime() / 1000) + 900) * 1000) };
    },
  };
  users = new UserService({ database, audit, passwordParams: PARAMS });
});

afterAll(async () => {
  await testDb?.close();
});

function sessions(overrides: Partial<SessionServiceOptions> = {}): SessionService {
  return new SessionService({
    database,
    audit,
    signer,
    throttle: new LoginThrottle(database),
    passwordParams: PARAMS,
    graceSeconds: 10,
    lifetimeHours: 720,
    idleHours: 168,
    refreshDerivationKey: DERIVATION_KEY,
    ...overrides,
  });
}

function unique(label: string): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

function newPassword(): string {
  const password = unique('pw');
  plaintexts.add(password);
  return password;
}

/** A fresh organization with an admin, and optionally a second user of the given role. */
async function newAccount(role: Role = 'admin') {
  const adminEmail = `${unique('admin')}@example.test`;
  const adminPassword = newPassword();
  const { userId: adminId } = await users.ensureAdmin({
    email: adminEmail,
    password: adminPassword,
    organizationName: unique('org'),
  });
  const admin = await database.db
    .selectFrom('users')
    .selectAll()
    .where('id', '=', adminId)
    .executeTakeFirstOrThrow();
  const actor = {
    kind: 'user' as const,
    userId: adminId,
    organizationId: admin.organization_id,
    role: 'admin' as const,
    platformRole: null,
    sessionId: '00000000-0000-4000-8000-000000000000',
  };
  if (role === 'admin') return { email: adminEmail, password: adminPassword, userId: adminId, admin: actor };
  const email = `${unique('user')}@example.test`;
  const password = newPassword();
  const user = await users.create(actor, { email, password, role });
  return { email, password, userId: user.id, admin: actor };
}

function remember<T extends IssuedSession>(issued: T): T {
  plaintexts.add(issued.refreshToken);
  return issued;
}

function principalOf(issued: IssuedSession): UserPrincipal {
  return {
    kind: 'user',
    userId: issued.user.id,
    organizationId: issued.user.organizationId,
    role: issued.user.role,
    platformRole: null,
    sessionId: issued.session.id,
  };
}

/** The error a promise rejects with, as the fields a caller can see. */
async function failure(promise: Promise<unknown>) {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PlatformError);
  const { code, status, message, headers } = error as PlatformError;
  return { code, status, message, headers };
}

const LOGIN_REFUSED = {
  code: 'UNAUTHORIZED',
  status: 401,
  message: 'invalid email or password',
  headers: {},
};
const REFRESH_REFUSED = {
  code: 'UNAUTHORIZED',
  status: 401,
  message: 'the refresh token is invalid or the session has ended',
  headers: {},
};

async function tokenRows(sessionId: string) {
  return database.db.selectFrom('refresh_tokens').selectAll().where('session_id', '=', sessionId).execute();
}

async function sessionRow(sessionId: string) {
  return database.db.selectFrom('sessions').selectAll().where('id', '=', sessionId).executeTakeFirstOrThrow();
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

describe('login', () => {
  it('signs in and issues an access token naming the user, organization, role and session', async () => {
    const account = await newAccount('operator');
    const ip = `10.0.0.${Math.floor(Math.random() * 250)}`;
    const issued = remember(
      await sessions().login({ email: account.email, password: account.password, ip, userAgent: 'vitest' }),
    );

    const claims = await verifyAccessToken(issued.accessToken, verificationKeys, {
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    expect(claims).toMatchObject({
      sub: account.userId,
      org: account.admin.organizationId,
      role: 'operator',
      sid: issued.session.id,
    });
    expect(issued.user).toMatchObject({ id: account.userId, email: account.email, role: 'operator' });
    expect(issued.user).not.toHaveProperty('password_hash');
    expect(issued.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await tokenRows(issued.session.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      token_hash: hashSecret(issued.refreshToken),
      parent_id: null,
      rotated_at: null,
    });
    const session = await sessionRow(issued.session.id);
    expect(session).toMatchObject({ user_id: account.userId, ip, user_agent: 'vitest', revoked_at: null });
    // The absolute lifetime: 720 hours from the login.
    expect(new Date(session.expires_at).getTime() - session.created_at.getTime()).toBe(720 * HOUR);
    expect(await auditRows('login', issued.session.id)).toMatchObject([
      { result: 'success', actor_user_id: account.userId },
    ]);
  });

  it('finds the account whatever the case of the email and the spaces around it', async () => {
    const account = await newAccount();
    const issued = remember(
      await sessions().login({ email: `  ${account.email.toUpperCase()} `, password: account.password }),
    );
    expect(issued.user.id).toBe(account.userId);
  });

  it('answers an unknown email, a wrong password and a disabled user with one identical error', async () => {
    const service = sessions();
    const account = await newAccount('viewer');
    const disabled = await newAccount('viewer');
    await users.disable(disabled.admin, disabled.userId);

    const unknownEmail = await failure(
      service.login({ email: `${unique('nobody')}@example.test`, password: account.password }),
    );
    const wrongPassword = await failure(service.login({ email: account.email, password: newPassword() }));
    // The right password of a disabled user: the answer must not tell that the password was right.
    const disabledUser = await failure(service.login({ email: disabled.email, password: disabled.password }));

    expect(unknownEmail).toEqual(LOGIN_REFUSED);
    expect(wrongPassword).toEqual(LOGIN_REFUSED);
    expect(disabledUser).toEqual(LOGIN_REFUSED);
    const reasons = await database.db
      .selectFrom('audit_events')
      .select(['target_id', sql<string>`details->>'reason'`.as('reason')])
      .where('type', '=', 'login')
      .where('result', '=', 'failure')
      .where('target_id', 'in', [account.userId, disabled.userId])
      .execute();
    expect(reasons).toEqual(
      expect.arrayContaining([
        { target_id: account.userId, reason: 'wrong_password' },
        { target_id: disabled.userId, reason: 'user_disabled' },
      ]),
    );
  });

  it('stores the hash at the current parameters when a user signs in with an older one', async () => {
    const account = await newAccount();
    const stored = async () =>
      (
        await database.db
          .selectFrom('users')
          .select('password_hash')
          .where('id', '=', account.userId)
          .executeTakeFirstOrThrow()
      ).password_hash;
    expect(await stored()).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);

    const stronger = sessions({ passwordParams: { ln: 11, r: 8, p: 1 } });
    const issued = remember(await stronger.login({ email: account.email, password: account.password }));

    const upgraded = await stored();
    expect(upgraded).toMatch(/^\$scrypt\$ln=11,r=8,p=1\$/);
    expect(await auditRows('login', issued.session.id)).toMatchObject([
      { details: { passwordRehashed: true } },
    ]);
    // The upgraded hash still accepts the password, and a second login leaves it alone.
    remember(await stronger.login({ email: account.email, password: account.password }));
    expect(await stored()).toBe(upgraded);
  });
});

describe('login throttling', () => {
  it('locks an account after five free failures, for a delay that doubles with each failure', async () => {
    const service = sessions();
    const account = await newAccount();
    const ip = unique('ip');
    const t0 = new Date();
    const at = (ms: number) => new Date(t0.getTime() + ms);
    const wrong = (now: Date) =>
      service.login({ email: account.email, password: 'not-the-password', ip, now });

    for (let i = 0; i < 6; i++) expect(await failure(wrong(t0))).toEqual(LOGIN_REFUSED);
    // The sixth failure locked the account for 1 s.
    expect(await failure(wrong(t0))).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      headers: { 'Retry-After': '1' },
    });
    expect(await failure(wrong(at(1_000)))).toEqual(LOGIN_REFUSED);
    expect(await failure(wrong(at(1_000)))).toMatchObject({ headers: { 'Retry-After': '2' } });
    expect(await failure(wrong(at(3_000)))).toEqual(LOGIN_REFUSED);
    expect(await failure(wrong(at(3_000)))).toMatchObject({ headers: { 'Retry-After': '4' } });
    expect(await failure(wrong(at(3_500)))).toMatchObject({ headers: { 'Retry-After': '4' } });
    expect(await failure(wrong(at(7_000)))).toEqual(LOGIN_REFUSED);
    expect(await failure(wrong(at(7_000)))).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      headers: { 'Retry-After': '8' },
    });
  });

  it('caps the delay at fifteen minutes', async () => {
    const throttle = new LoginThrottle(database);
    const key = accountKey(`${unique('capped')}@example.test`);
    const now = new Date();
    for (let i = 0; i < 40; i++) await throttle.recordFailure([key], now);
    expect(await throttle.check([key], now)).toEqual({ allowed: false, retryAfterSeconds: 900 });
  });

  it('refuses a locked account before checking the password, even the right one', async () => {
    const service = sessions();
    const account = await newAccount();
    const ip = unique('ip');
    const now = new Date();
    for (let i = 0; i < 6; i++)
      await failure(service.login({ email: account.email, password: 'wrong-password', ip, now }));
    const failuresOf = async () =>
      (
        await database.db
          .selectFrom('login_failures')
          .select('failures')
          .where('key', '=', accountKey(account.email))
          .executeTakeFirstOrThrow()
      ).failures;
    expect(await failuresOf()).toBe(6);

    const refused = await failure(
      service.login({ email: account.email, password: account.password, ip, now }),
    );
    expect(refused).toMatchObject({ code: 'TOO_MANY_REQUESTS', status: 429 });
    // Had the password been checked, the attempt would have counted as a success or a failure;
    // it counted as neither.
    expect(await failuresOf()).toBe(6);
    const throttled = await database.db
      .selectFrom('audit_events')
      .select(sql<string>`details->>'reason'`.as('reason'))
      .where('type', '=', 'login')
      .where('ip', '=', ip)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(throttled.reason).toBe('throttled');
  });

  it('locks an IP address after twenty failures across accounts, for every account it tries next', async () => {
    const service = sessions();
    const account = await newAccount();
    const ip = unique('ip');
    const now = new Date();
    for (let i = 0; i < 21; i++) {
      const email = `${unique('guess')}@example.test`;
      expect(await failure(service.login({ email, password: 'guess-password', ip, now }))).toEqual(
        LOGIN_REFUSED,
      );
    }
    const fromThatIp = await failure(
      service.login({ email: account.email, password: account.password, ip, now }),
    );
    expect(fromThatIp).toMatchObject({ code: 'TOO_MANY_REQUESTS', headers: { 'Retry-After': '1' } });
    // The account itself is not locked: from another address the same login succeeds.
    remember(
      await service.login({ email: account.email, password: account.password, ip: unique('ip'), now }),
    );
  });

  it('clears the account count on a successful login but keeps the IP count', async () => {
    const service = sessions();
    const account = await newAccount();
    const ip = unique('ip');
    const now = new Date();
    for (let i = 0; i < 4; i++)
      await failure(service.login({ email: account.email, password: 'wrong-password', ip, now }));
    remember(await service.login({ email: account.email, password: account.password, ip, now }));
    for (let i = 0; i < 5; i++) {
      expect(
        await failure(service.login({ email: account.email, password: 'wrong-password', ip, now })),
      ).toEqual(LOGIN_REFUSED);
    }
    const counts = await database.db
      .selectFrom('login_failures')
      .select(['key', 'failures'])
      .where('key', 'in', [accountKey(account.email), ipKey(ip)])
      .orderBy('key')
      .execute();
    expect(counts).toEqual([
      { key: accountKey(account.email), failures: 5 },
      { key: ipKey(ip), failures: 9 },
    ]);
  });

  it('sweeps keys with no recent failure and no lock still running', async () => {
    const throttle = new LoginThrottle(database);
    const old = accountKey(`${unique('old')}@example.test`);
    const locked = accountKey(`${unique('locked')}@example.test`);
    const recent = accountKey(`${unique('recent')}@example.test`);
    const now = new Date();
    const daysAgo = (days: number) => new Date(now.getTime() - days * 24 * HOUR);
    await throttle.recordFailure([old], daysAgo(3));
    for (let i = 0; i < 30; i++) await throttle.recordFailure([locked], new Date(now.getTime() - 60_000));
    await throttle.recordFailure([recent], now);

    expect(await throttle.sweep(new Date(now.getTime() - 30_000), now)).toBeGreaterThanOrEqual(1);
    const left = await database.db
      .selectFrom('login_failures')
      .select('key')
      .where('key', 'in', [old, locked, recent])
      .orderBy('key')
      .execute();
    expect(left.map((row) => row.key).sort()).toEqual([locked, recent].sort());
  });

  it('counts from zero again once a key has been quiet for a day', async () => {
    const throttle = new LoginThrottle(database);
    const key = accountKey(`${unique('quiet')}@example.test`);
    const then = new Date(Date.now() - 2 * 24 * HOUR);
    for (let i = 0; i < 10; i++) await throttle.recordFailure([key], then);
    await throttle.recordFailure([key], new Date());
    const row = await database.db
      .selectFrom('login_failures')
      .select('failures')
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    expect(row.failures).toBe(1);
  });
});

describe('refresh', () => {
  it('rotates to a new token each time; a rotated token used again after the grace period is reuse', async () => {
    const service = sessions();
    const account = await newAccount();
    const t0 = new Date();
    const at = (ms: number) => new Date(t0.getTime() + ms);
    const first = remember(
      await service.login({ email: account.email, password: account.password, now: t0 }),
    );
    const second = remember(await service.refresh({ refreshToken: first.refreshToken, now: at(MINUTE) }));
    const third = remember(await service.refresh({ refreshToken: second.refreshToken, now: at(2 * MINUTE) }));

    expect(new Set([first.refreshToken, second.refreshToken, third.refreshToken]).size).toBe(3);
    expect(second.refreshToken).toBe(deriveChildRefreshToken(DERIVATION_KEY, first.refreshToken));
    expect(third.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(third.session).toEqual(first.session);
    const claims = await verifyAccessToken(third.accessToken, verificationKeys, {
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    expect(claims.sid).toBe(first.session.id);
    const rows = await tokenRows(first.session.id);
    expect(rows).toHaveLength(3);
    expect(rows.filter((row) => row.rotated_at === null)).toHaveLength(1);
    expect((await sessionRow(first.session.id)).last_used_at).toEqual(at(2 * MINUTE));

    expect(
      await failure(service.refresh({ refreshToken: second.refreshToken, now: at(3 * MINUTE) })),
    ).toEqual(REFRESH_REFUSED);
    expect((await sessionRow(first.session.id)).revoked_reason).toBe('refresh_reuse');
  });

  it('returns the same child when the immediate parent is replayed within the grace period', async () => {
    const service = sessions();
    const account = await newAccount();
    const t0 = new Date();
    const first = remember(
      await service.login({ email: account.email, password: account.password, now: t0 }),
    );
    const child = remember(await service.refresh({ refreshToken: first.refreshToken, now: t0 }));
    const replay = remember(
      await service.refresh({ refreshToken: first.refreshToken, now: new Date(t0.getTime() + 9_000) }),
    );

    expect(replay.refreshToken).toBe(child.refreshToken);
    expect(await tokenRows(first.session.id)).toHaveLength(2);
    // The child is still the family's current token.
    const next = remember(
      await service.refresh({ refreshToken: child.refreshToken, now: new Date(t0.getTime() + 9_500) }),
    );
    expect(next.refreshToken).not.toBe(child.refreshToken);
  });

  it('treats an older ancestor as reuse even within the grace period', async () => {
    const service = sessions();
    const account = await newAccount();
    const t0 = new Date();
    const first = remember(
      await service.login({ email: account.email, password: account.password, now: t0 }),
    );
    const second = remember(await service.refresh({ refreshToken: first.refreshToken, now: t0 }));
    const third = remember(
      await service.refresh({ refreshToken: second.refreshToken, now: new Date(t0.getTime() + 1_000) }),
    );
    expect(
      await failure(
        service.refresh({ refreshToken: first.refreshToken, now: new Date(t0.getTime() + 2_000) }),
      ),
    ).toEqual(REFRESH_REFUSED);
    expect(
      await failure(
        service.refresh({ refreshToken: third.refreshToken, now: new Date(t0.getTime() + 3_000) }),
      ),
    ).toEqual(REFRESH_REFUSED);
  });

  it('revokes the whole family when a rotated token is reused after the grace period, and audits it', async () => {
    const service = sessions();
    const account = await newAccount();
    const t0 = new Date();
    const first = remember(
      await service.login({ email: account.email, password: account.password, now: t0 }),
    );
    const current = remember(await service.refresh({ refreshToken: first.refreshToken, now: t0 }));

    const stolen = await failure(
      service.refresh({ refreshToken: first.refreshToken, now: new Date(t0.getTime() + 11_000) }),
    );
    expect(stolen).toEqual(REFRESH_REFUSED);
    // The legitimate holder's current token dies with the family.
    expect(
      await failure(
        service.refresh({ refreshToken: current.refreshToken, now: new Date(t0.getTime() + 12_000) }),
      ),
    ).toEqual(REFRESH_REFUSED);
    expect(await service.isSessionActive(first.session.id)).toBe(false);
    expect(await sessionRow(first.session.id)).toMatchObject({ revoked_reason: 'refresh_reuse' });
    const reuse = await auditRows('refresh_reuse', first.session.id);
    expect(reuse).toHaveLength(1);
    expect(reuse[0]).toMatchObject({
      result: 'failure',
      actor_user_id: account.userId,
      target_type: 'session',
    });
  });

  it('rotates once when 20 refreshes with one token arrive together, and answers all 20 with its child', async () => {
    const service = sessions();
    const account = await newAccount();
    const first = remember(await service.login({ email: account.email, password: account.password }));
    // Open every pooled connection first: otherwise connecting staggers the refreshes so much
    // that they barely overlap, and the test would pass without the row lock it is about.
    await Promise.all(
      Array.from({ length: 10 }, () => database.read((db) => sql`select pg_sleep(0.05)`.execute(db))),
    );

    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => service.refresh({ refreshToken: first.refreshToken })),
    );

    const rejected = results.filter((result) => result.status === 'rejected');
    expect(rejected).toEqual([]);
    const issued = results.flatMap((result) =>
      result.status === 'fulfilled' ? [remember(result.value)] : [],
    );
    expect(new Set(issued.map((result) => result.refreshToken))).toEqual(
      new Set([deriveChildRefreshToken(DERIVATION_KEY, first.refreshToken)]),
    );
    expect(await tokenRows(first.session.id)).toHaveLength(2);
    expect(await service.isSessionActive(first.session.id)).toBe(true);
    for (const result of issued) {
      const claims = await verifyAccessToken(result.accessToken, verificationKeys, {
        issuer: ISSUER,
        audience: AUDIENCE,
      });
      expect(claims.sid).toBe(first.session.id);
    }
  });

  it('ends a session at its absolute lifetime however recently it was used', async () => {
    const service = sessions({ lifetimeHours: 2, idleHours: 1 });
    const account = await newAccount();
    const t0 = new Date();
    const at = (ms: number) => new Date(t0.getTime() + ms);
    let issued = remember(await service.login({ email: account.email, password: account.password, now: t0 }));
    issued = remember(await service.refresh({ refreshToken: issued.refreshToken, now: at(50 * MINUTE) }));
    issued = remember(await service.refresh({ refreshToken: issued.refreshToken, now: at(100 * MINUTE) }));
    expect(await service.isSessionActive(issued.session.id, at(119 * MINUTE))).toBe(true);

    expect(
      await failure(service.refresh({ refreshToken: issued.refreshToken, now: at(121 * MINUTE) })),
    ).toEqual(REFRESH_REFUSED);
    expect(await sessionRow(issued.session.id)).toMatchObject({ revoked_reason: 'expired' });
  });

  it('ends a session left unused for longer than the idle timeout', async () => {
    const service = sessions({ lifetimeHours: 2, idleHours: 1 });
    const account = await newAccount();
    const t0 = new Date();
    const issued = remember(
      await service.login({ email: account.email, password: account.password, now: t0 }),
    );
    expect(await service.isSessionActive(issued.session.id, new Date(t0.getTime() + 61 * MINUTE))).toBe(
      false,
    );

    expect(
      await failure(
        service.refresh({ refreshToken: issued.refreshToken, now: new Date(t0.getTime() + 61 * MINUTE) }),
      ),
    ).toEqual(REFRESH_REFUSED);
    expect(await sessionRow(issued.session.id)).toMatchObject({ revoked_reason: 'idle' });
  });

  it('refuses malformed and unknown refresh tokens with the same answer', async () => {
    const service = sessions();
    expect(await failure(service.refresh({ refreshToken: 'not-a-token' }))).toEqual(REFRESH_REFUSED);
    expect(await failure(service.refresh({ refreshToken: generateRefreshToken().token }))).toEqual(
      REFRESH_REFUSED,
    );
  });
});

describe('sessions', () => {
  it('logs out the current session only', async () => {
    const service = sessions();
    const account = await newAccount();
    const phone = remember(await service.login({ email: account.email, password: account.password }));
    const laptop = remember(await service.login({ email: account.email, password: account.password }));

    await service.logout(principalOf(phone));

    expect(await service.isSessionActive(phone.session.id)).toBe(false);
    expect(await service.isSessionActive(laptop.session.id)).toBe(true);
    expect(await failure(service.refresh({ refreshToken: phone.refreshToken }))).toEqual(REFRESH_REFUSED);
    remember(await service.refresh({ refreshToken: laptop.refreshToken }));
    expect(await auditRows('logout', phone.session.id)).toMatchObject([{ result: 'success' }]);
  });

  it('logs out every session of the user at once', async () => {
    const service = sessions();
    const account = await newAccount();
    const other = await newAccount();
    const one = remember(await service.login({ email: account.email, password: account.password }));
    const two = remember(await service.login({ email: account.email, password: account.password }));
    const stranger = remember(await service.login({ email: other.email, password: other.password }));

    expect(await service.logoutAll(principalOf(one))).toEqual({ revokedSessions: 2 });

    expect(await service.isSessionActive(one.session.id)).toBe(false);
    expect(await service.isSessionActive(two.session.id)).toBe(false);
    expect(await service.isSessionActive(stranger.session.id)).toBe(true);
    expect(await auditRows('logout_all', account.userId)).toMatchObject([
      { details: { revokedSessions: 2 } },
    ]);
  });

  it('lists the active sessions marking the current one, and revokes only the caller’s own', async () => {
    const service = sessions();
    const account = await newAccount();
    const other = await newAccount();
    const one = remember(
      await service.login({ email: account.email, password: account.password, userAgent: 'one' }),
    );
    const two = remember(
      await service.login({ email: account.email, password: account.password, userAgent: 'two' }),
    );
    const stranger = remember(await service.login({ email: other.email, password: other.password }));

    const listed = await service.list(principalOf(one));
    expect(listed.map((s) => [s.id, s.current, s.userAgent]).sort()).toEqual(
      [
        [one.session.id, true, 'one'],
        [two.session.id, false, 'two'],
      ].sort(),
    );

    expect(await failure(service.revoke(principalOf(one), stranger.session.id))).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await failure(service.revoke(principalOf(one), 'not-a-uuid'))).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await service.isSessionActive(stranger.session.id)).toBe(true);

    const before = new Date(Date.now() - 1_000);
    await service.revoke(principalOf(one), two.session.id);
    expect((await service.list(principalOf(one))).map((s) => s.id)).toEqual([one.session.id]);
    expect(await auditRows('session_revoked', two.session.id)).toHaveLength(1);
    const revoked = await service.revokedSessionIdsSince(before);
    expect(revoked.map((r) => r.id)).toContain(two.session.id);
    expect(revoked.map((r) => r.id)).not.toContain(one.session.id);
  });

  it('changing the password revokes every other session but keeps the current one', async () => {
    const service = sessions();
    const account = await newAccount();
    const current = remember(await service.login({ email: account.email, password: account.password }));
    const elsewhere = remember(await service.login({ email: account.email, password: account.password }));
    const replacement = newPassword();

    expect(
      await failure(
        users.changePassword(principalOf(current), {
          currentPassword: 'wrong-password',
          newPassword: replacement,
        }),
      ),
    ).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await service.isSessionActive(elsewhere.session.id)).toBe(true);

    const result = await users.changePassword(principalOf(current), {
      currentPassword: account.password,
      newPassword: replacement,
    });

    expect(result).toEqual({ revokedSessions: 1 });
    expect(await service.isSessionActive(current.session.id)).toBe(true);
    expect(await service.isSessionActive(elsewhere.session.id)).toBe(false);
    remember(await service.refresh({ refreshToken: current.refreshToken }));
    expect(await failure(service.login({ email: account.email, password: account.password }))).toEqual(
      LOGIN_REFUSED,
    );
    remember(await service.login({ email: account.email, password: replacement }));
    const events = await auditRows('password_changed', account.userId);
    expect(events.map((e) => e.result)).toEqual(['failure', 'success']);
  });

  it('refuses to refresh once the user is disabled', async () => {
    const service = sessions();
    const account = await newAccount('operator');
    const issued = remember(await service.login({ email: account.email, password: account.password }));
    await users.disable(account.admin, account.userId);
    expect(await failure(service.refresh({ refreshToken: issued.refreshToken }))).toEqual(REFRESH_REFUSED);
  });
});

describe('secrets at rest', () => {
  it('keeps no plaintext password or refresh token in any column of users, sessions, tokens or audit events', async () => {
    expect(plaintexts.size).toBeGreaterThan(50);
    const dump: string[] = [];
    for (const table of ['users', 'sessions', 'refresh_tokens', 'audit_events'] as const) {
      const { rows } = await sql<{
        row: string;
      }>`select to_jsonb(t)::text as row from ${sql.table(table)} t`.execute(database.db);
      expect(rows.length).toBeGreaterThan(0);
      dump.push(...rows.map((r) => r.row));
    }
    const text = dump.join('\n');
    const leaked = [...plaintexts].filter((secret) => text.includes(secret));
    expect(leaked).toEqual([]);
  });
});
