import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factorKey } from '../../server/services/auth/login-throttle';
import { totpCode } from '../../server/services/auth/totp';
import { startTestApp, type TestApp } from '../helpers/app';
import {
  createOrganization,
  createPlatformUser,
  createUser,
  login as passwordLogin,
  type TestUser,
} from '../helpers/auth';
import { callProcedure, type ProcedureAnswer, send } from '../helpers/http';

// The second factor over HTTP through the whole app on real PostgreSQL: enrolment (the secret
// sealed at rest, a first code), the two-step sign-in with its single-use challenge, replay
// refusal, recovery codes, the lockout of the second step, removal, the organization's
// requirement (enrolment at sign-in) and the platform's (SECOND_FACTOR_REQUIRED), tenants apart.

let t: TestApp;
/** The same platform with AUTH_PLATFORM_REQUIRE_SECOND_FACTOR=true. */
let strict: TestApp;

beforeAll(async () => {
  [t, strict] = await Promise.all([
    startTestApp(),
    startTestApp({ AUTH_PLATFORM_REQUIRE_SECOND_FACTOR: 'true' }),
  ]);
});
afterAll(async () => {
  await Promise.all([t?.close(), strict?.close()]);
});

type Headers = Record<string, string>;
const mutate = (app: TestApp, path: string, input: unknown, headers: Headers = {}) =>
  callProcedure(app.app, path, 'mutation', input, headers);
const query = (app: TestApp, path: string, headers: Headers = {}, input?: unknown) =>
  callProcedure(app.app, path, 'query', input, headers);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const inSteps = (steps: number) => new Date(Date.now() + steps * 30_000);

/** Signs in with the password; returns the answer's data (tokens, or the challenge). */
async function signIn(app: TestApp, user: TestUser): Promise<ProcedureAnswer> {
  const answer = await mutate(app, 'auth.login', { email: user.email, password: user.password });
  expect(answer.status).toBe(200);
  return answer;
}

/** A challenge of the second step for `user`, who has a factor. */
async function challengeOf(app: TestApp, user: TestUser, purpose = 'verify'): Promise<string> {
  const { data } = await signIn(app, user);
  expect(data.accessToken).toBeUndefined();
  expect(data.secondFactor).toMatchObject({ purpose, challenge: expect.stringMatching(/^bcsf_/) });
  return data.secondFactor.challenge;
}

/** Enrols a TOTP factor for a signed-in user; returns its secret and recovery codes. */
async function enrol(app: TestApp, user: TestUser) {
  const session = await passwordLogin(app, user);
  const begun = await mutate(app, 'auth.secondFactor.totp.begin', undefined, session.headers);
  expect(begun.status).toBe(200);
  const secret: string = begun.data.secret;
  const enrolCode = totpCode(secret, new Date());
  const confirmed = await mutate(app, 'auth.secondFactor.totp.confirm', { code: enrolCode }, session.headers);
  expect(confirmed.status).toBe(200);
  return { secret, enrolCode, recoveryCodes: confirmed.data.recoveryCodes as string[], session };
}

async function auditTypes(app: TestApp, userId: string): Promise<string[]> {
  const rows = await app.deps.database.db
    .selectFrom('audit_events')
    .select(['type', 'result'])
    .where('actor_user_id', '=', userId)
    .orderBy('id')
    .execute();
  return rows.map((row) => `${row.type}:${row.result}`);
}

describe('enrolment', () => {
  it('gives a secret and its otpauth:// URI, stores it sealed, and activates it with a first valid code', async () => {
    const user = await createUser(t, 'operator');
    const session = await passwordLogin(t, user);
    const begun = await mutate(t, 'auth.secondFactor.totp.begin', undefined, session.headers);
    expect(begun.status).toBe(200);
    const { secret, uri } = begun.data;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const parsed = new URL(uri);
    expect(parsed.protocol).toBe('otpauth:');
    expect(parsed.searchParams.get('secret')).toBe(secret);
    expect(decodeURIComponent(parsed.pathname)).toContain(user.email);

    const row = await t.deps.database.db
      .selectFrom('totp_factors')
      .selectAll()
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.secret_sealed).toMatch(/^v1\./);
    expect(row.secret_sealed).not.toContain(secret);
    expect(row.confirmed_at).toBeNull();

    // Pending: sign-in is still one step.
    expect((await signIn(t, user)).data.accessToken).toEqual(expect.any(String));
    const status = await query(t, 'auth.secondFactor.status', session.headers);
    expect(status.data).toMatchObject({ totp: 'pending', recoveryCodesLeft: 0 });

    const wrong = await mutate(t, 'auth.secondFactor.totp.confirm', { code: '000000' }, session.headers);
    const rightCode = totpCode(secret, new Date());
    expect(wrong.status).toBe(rightCode === '000000' ? 200 : 400);
    const confirmed = await mutate(t, 'auth.secondFactor.totp.confirm', { code: rightCode }, session.headers);
    expect(confirmed.status).toBe(200);
    expect(confirmed.data.recoveryCodes).toHaveLength(10);
    const after = await query(t, 'auth.secondFactor.status', session.headers);
    expect(after.data).toMatchObject({
      totp: 'active',
      recoveryCodesLeft: 10,
      sessionUsedSecondFactor: false,
    });
    // Only hashes of the recovery codes are kept.
    const hashes = await t.deps.database.db
      .selectFrom('recovery_codes')
      .select('code_hash')
      .where('user_id', '=', user.id)
      .execute();
    expect(hashes).toHaveLength(10);
    for (const code of confirmed.data.recoveryCodes) {
      expect(hashes.map((h) => h.code_hash).join()).not.toContain(code.replace(/-/g, ''));
    }
    // A second enrolment over an active one is refused.
    const again = await mutate(t, 'auth.secondFactor.totp.begin', undefined, session.headers);
    expect(again.code).toBe('CONFLICT');
    expect(await auditTypes(t, user.id)).toContain('second_factor_enrolled:success');
  });

  it('is for signed-in people only: an API key cannot enrol', async () => {
    const answer = await mutate(t, 'auth.secondFactor.totp.begin', undefined, t.admin);
    expect(answer.code).toBe('FORBIDDEN');
  });
});

describe('two-step sign-in', () => {
  it('answers a challenge instead of tokens, then the session for a code, with amr and acr in the token', async () => {
    const user = await createUser(t, 'viewer');
    const { secret, enrolCode } = await enrol(t, user);
    const challenge = await challengeOf(t, user);

    // The code used to enrol was spent then: its time step is refused (replay).
    const replayed = await mutate(t, 'auth.secondFactor.verify', { challenge, code: enrolCode });
    expect(replayed.status).toBe(401);
    // The next step's code is within the ±1 window and later than the last one used.
    const verified = await mutate(t, 'auth.secondFactor.verify', {
      challenge,
      code: totpCode(secret, inSteps(1)),
    });
    expect(verified.status).toBe(200);
    expect(verified.data).toMatchObject({ tokenType: 'Bearer', user: { id: user.id } });
    const claims = decodeJwt(verified.data.accessToken);
    expect(claims.amr).toEqual(['pwd', 'otp']);
    expect(claims.acr).toBe('aal2');

    const me = await query(t, 'auth.secondFactor.status', bearer(verified.data.accessToken));
    expect(me.data.sessionUsedSecondFactor).toBe(true);

    // A refresh keeps how the session was opened.
    const refreshed = await mutate(t, 'auth.refresh', { refreshToken: verified.data.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.data.accessToken)).toMatchObject({ amr: ['pwd', 'otp'], acr: 'aal2' });

    // A password-only session says so too.
    const plain = await passwordLogin(t, await createUser(t, 'viewer'));
    expect(decodeJwt(plain.accessToken)).toMatchObject({ amr: ['pwd'], acr: 'aal1' });
    expect(await auditTypes(t, user.id)).toEqual(
      expect.arrayContaining(['second_factor_verified:failure', 'second_factor_verified:success']),
    );
  });

  it('a challenge works once and is no access token', async () => {
    const user = await createUser(t, 'viewer');
    const { recoveryCodes } = await enrol(t, user);
    const challenge = await challengeOf(t, user);

    const asToken = await query(t, 'auth.me', bearer(challenge));
    expect(asToken.status).toBe(401);
    const rest = await send(t.app, '/api/v1/me', { headers: bearer(challenge) });
    expect(rest.res.status).toBe(401);

    const first = await mutate(t, 'auth.secondFactor.verify', { challenge, recoveryCode: recoveryCodes[0] });
    expect(first.status).toBe(200);
    const second = await mutate(t, 'auth.secondFactor.verify', { challenge, recoveryCode: recoveryCodes[1] });
    expect(second.status).toBe(401);
    // An enrol-purpose procedure does not take a verify challenge either.
    const fresh = await challengeOf(t, user);
    expect((await mutate(t, 'auth.secondFactor.enrolment.begin', { challenge: fresh })).status).toBe(401);
    // Nor does an unknown one, or one of another shape.
    const unknown = `bcsf_${'A'.repeat(43)}`;
    expect((await mutate(t, 'auth.secondFactor.verify', { challenge: unknown, code: '123456' })).status).toBe(
      401,
    );
    expect((await mutate(t, 'auth.secondFactor.verify', { challenge: 'nope', code: '123456' })).status).toBe(
      400,
    );
    expect((await mutate(t, 'auth.secondFactor.verify', { challenge: fresh })).status).toBe(400);
  });

  it('a recovery code signs in once, however it is typed', async () => {
    const user = await createUser(t, 'operator');
    const { recoveryCodes, session } = await enrol(t, user);
    const code = recoveryCodes[3]!;

    const typed = code.toUpperCase().replace(/-/g, ' ');
    const used = await mutate(t, 'auth.secondFactor.verify', {
      challenge: await challengeOf(t, user),
      recoveryCode: typed,
    });
    expect(used.status).toBe(200);
    expect(decodeJwt(used.data.accessToken).amr).toEqual(['pwd', 'otp']);
    const again = await mutate(t, 'auth.secondFactor.verify', {
      challenge: await challengeOf(t, user),
      recoveryCode: code,
    });
    expect(again.status).toBe(401);
    expect((await query(t, 'auth.secondFactor.status', session.headers)).data.recoveryCodesLeft).toBe(9);
    expect(await auditTypes(t, user.id)).toContain('recovery_code_used:success');
  });

  it('regenerates recovery codes for a current code: the old ones stop working', async () => {
    const user = await createUser(t, 'viewer');
    const { secret, recoveryCodes, session } = await enrol(t, user);
    const wrong = await mutate(
      t,
      'auth.secondFactor.regenerateRecoveryCodes',
      { code: '000000' },
      session.headers,
    );
    expect(wrong.status).toBe(totpCode(secret, inSteps(1)) === '000000' ? 200 : 400);
    const regenerated = await mutate(
      t,
      'auth.secondFactor.regenerateRecoveryCodes',
      { code: totpCode(secret, inSteps(1)) },
      session.headers,
    );
    expect(regenerated.status).toBe(200);
    expect(regenerated.data.recoveryCodes).toHaveLength(10);
    const old = await mutate(t, 'auth.secondFactor.verify', {
      challenge: await challengeOf(t, user),
      recoveryCode: recoveryCodes[0],
    });
    expect(old.status).toBe(401);
    const fresh = await mutate(t, 'auth.secondFactor.verify', {
      challenge: await challengeOf(t, user),
      recoveryCode: regenerated.data.recoveryCodes[0],
    });
    expect(fresh.status).toBe(200);
  });

  it('locks the second step after wrong codes, as the first: five end a challenge, a locked factor refuses even the right code', async () => {
    const user = await createUser(t, 'viewer');
    const { secret } = await enrol(t, user);
    const challenge = await challengeOf(t, user);
    const wrongCode = totpCode(secret, inSteps(5));
    for (let i = 0; i < 5; i++) {
      const answer = await mutate(t, 'auth.secondFactor.verify', { challenge, code: wrongCode });
      expect(answer.status).toBe(401);
    }
    const failures = await t.deps.database.db
      .selectFrom('login_failures')
      .select('failures')
      .where('key', '=', factorKey(user.id))
      .executeTakeFirstOrThrow();
    expect(failures.failures).toBe(5);
    // The challenge ended with the fifth wrong code: the right one no longer helps with it.
    const ended = await mutate(t, 'auth.secondFactor.verify', {
      challenge,
      code: totpCode(secret, inSteps(1)),
    });
    expect(ended.status).toBe(401);
    expect(ended.message).toMatch(/challenge/);

    // More failures lock the factor: recorded an hour ahead, so the lock holds whatever the
    // speed of this test.
    const ahead = new Date(Date.now() + 3_600_000);
    for (let i = 0; i < 3; i++) await t.deps.auth.throttle.recordFailure([factorKey(user.id)], ahead);
    const locked = await send(t.app, '/api/trpc/auth.secondFactor.verify', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ challenge: await challengeOf(t, user), code: totpCode(secret, inSteps(1)) }),
    });
    expect(locked.res.status).toBe(429);
    expect(Number(locked.res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('removes the factor for the password or a current code, not for a wrong one', async () => {
    const user = await createUser(t, 'viewer');
    const { session } = await enrol(t, user);
    const wrong = await mutate(
      t,
      'auth.secondFactor.remove',
      { password: 'not-the-password' },
      session.headers,
    );
    expect(wrong.status).toBe(400);
    expect((await mutate(t, 'auth.secondFactor.remove', {}, session.headers)).status).toBe(400);
    const removed = await mutate(t, 'auth.secondFactor.remove', { password: user.password }, session.headers);
    expect(removed.status).toBe(200);
    expect((await signIn(t, user)).data.accessToken).toEqual(expect.any(String));
    expect(
      (await mutate(t, 'auth.secondFactor.remove', { password: user.password }, session.headers)).code,
    ).toBe('NOT_FOUND');
    expect(await auditTypes(t, user.id)).toEqual(
      expect.arrayContaining(['second_factor_removed:failure', 'second_factor_removed:success']),
    );
  });
});

describe('the organization requirement', () => {
  it('is set by admins only; it ends sessions opened without a factor, and members enrol at sign-in', async () => {
    const admin = await createOrganization(t);
    const member = await createUser(t, 'operator', admin);
    const memberSession = await passwordLogin(t, member);
    const adminSession = await passwordLogin(t, admin);

    const byMember = await mutate(
      t,
      'auth.secondFactor.setRequirement',
      { required: true },
      memberSession.headers,
    );
    expect(byMember.code).toBe('FORBIDDEN');
    const set = await mutate(t, 'auth.secondFactor.setRequirement', { required: true }, adminSession.headers);
    expect(set.status).toBe(200);
    expect(set.data).toMatchObject({ organizationId: admin.organizationId, required: true });
    expect(set.data.revokedSessions).toBeGreaterThanOrEqual(2);

    // Every instance refuses the ended sessions' access tokens once the revocation reaches it.
    await expect.poll(async () => (await query(t, 'auth.me', memberSession.headers)).status).toBe(401);

    const challenge = await challengeOf(t, member, 'enrol');
    expect((await mutate(t, 'auth.secondFactor.verify', { challenge, code: '123456' })).status).toBe(401);
    const begun = await mutate(t, 'auth.secondFactor.enrolment.begin', { challenge });
    expect(begun.status).toBe(200);
    const finished = await mutate(t, 'auth.secondFactor.enrolment.finish', {
      challenge,
      code: totpCode(begun.data.secret, new Date()),
    });
    expect(finished.status).toBe(200);
    expect(finished.data.recoveryCodes).toHaveLength(10);
    expect(decodeJwt(finished.data.accessToken)).toMatchObject({ amr: ['pwd', 'otp'], acr: 'aal2' });
    // The challenge is spent; the next sign-in asks for a code.
    expect((await mutate(t, 'auth.secondFactor.enrolment.begin', { challenge })).status).toBe(401);
    await challengeOf(t, member, 'verify');
    expect(await auditTypes(t, admin.id)).toContain('second_factor_requirement_changed:success');
  });

  it("stays in its organization: another tenant's members sign in as before and see their own setting", async () => {
    const adminA = await createOrganization(t);
    const adminB = await createOrganization(t);
    const memberA = await createUser(t, 'viewer', adminA);
    const sessionB = await passwordLogin(t, adminB);
    const sessionA = await passwordLogin(t, adminA);
    expect(
      (await mutate(t, 'auth.secondFactor.setRequirement', { required: true }, sessionB.headers)).status,
    ).toBe(200);

    expect((await signIn(t, memberA)).data.accessToken).toEqual(expect.any(String));
    const seenByA = await query(t, 'auth.secondFactor.requirement', sessionA.headers);
    expect(seenByA.data).toEqual({ organizationId: adminA.organizationId, required: false });
    const seenByB = await query(t, 'auth.secondFactor.requirement', {
      ...bearer((await enrolledSignIn(adminB)).accessToken),
    });
    expect(seenByB.data).toEqual({ organizationId: adminB.organizationId, required: true });
    // A's session was not ended by B's change.
    expect((await query(t, 'auth.me', sessionA.headers)).status).toBe(200);
  });
});

/** Signs in a user whose organization requires a factor they lack: enrols during sign-in. */
async function enrolledSignIn(user: TestUser, app: TestApp = t) {
  const challenge = await challengeOf(app, user, 'enrol');
  const begun = await mutate(app, 'auth.secondFactor.enrolment.begin', { challenge });
  const finished = await mutate(app, 'auth.secondFactor.enrolment.finish', {
    challenge,
    code: totpCode(begun.data.secret, new Date()),
  });
  expect(finished.status).toBe(200);
  return { accessToken: finished.data.accessToken as string, secret: begun.data.secret as string };
}

describe('the platform requirement (AUTH_PLATFORM_REQUIRE_SECOND_FACTOR)', () => {
  it('refuses platform procedures to a session without a second factor, with the reason SECOND_FACTOR_REQUIRED', async () => {
    const operator = await createPlatformUser(strict, 'operator');
    const session = await passwordLogin(strict, operator);

    const refused = await query(strict, 'auth.audit.platform', session.headers, {});
    expect(refused.status).toBe(403);
    expect(refused.code).toBe('FORBIDDEN');
    const body = JSON.parse(refused.text);
    expect(body.error.data.reason).toBe('SECOND_FACTOR_REQUIRED');
    const rest = await send(strict.app, '/api/v1/platform/audit-events', { headers: session.headers });
    expect(rest.res.status).toBe(403);
    expect(rest.body.error.reason).toBe('SECOND_FACTOR_REQUIRED');
    // Organization scope is not affected.
    expect((await query(strict, 'auth.me', session.headers)).status).toBe(200);

    const { secret } = await enrol(strict, operator);
    const challenge = await challengeOf(strict, operator);
    const verified = await mutate(strict, 'auth.secondFactor.verify', {
      challenge,
      code: totpCode(secret, inSteps(1)),
    });
    expect(verified.status).toBe(200);
    const allowed = await query(strict, 'auth.audit.platform', bearer(verified.data.accessToken), {});
    expect(allowed.status).toBe(200);
    // API keys are not sessions: the platform admin's key still works.
    expect((await query(strict, 'auth.audit.platform', strict.admin, {})).status).toBe(200);
  });

  it('is off by default: the same session works on a platform without the setting', async () => {
    const operator = await createPlatformUser(t, 'operator');
    const session = await passwordLogin(t, operator);
    expect((await query(t, 'auth.audit.platform', session.headers, {})).status).toBe(200);
  });
});
