import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app';
import { createUser, login as passwordLogin, type TestUser } from '../helpers/auth';
import { callProcedure } from '../helpers/http';
import { SoftwareAuthenticator } from '../helpers/software-authenticator';

// Passkeys as a second factor over HTTP, with a WebAuthn authenticator in software (ES256,
// attestation none): registration in a session, the sign-in's second step with an assertion,
// and what must be refused (another origin, a replayed assertion, a counter that goes back).
// The same flows in Chromium with its virtual authenticator: tests/e2e/second-factor.spec.ts.

/** app.request() answers for http://localhost: the page's origin is that. */
const ORIGIN = 'http://localhost';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

type Headers = Record<string, string>;
const mutate = (path: string, input: unknown, headers: Headers = {}) =>
  callProcedure(t.app, path, 'mutation', input, { origin: ORIGIN, ...headers });
const query = (path: string, headers: Headers = {}) =>
  callProcedure(t.app, path, 'query', undefined, headers);

/** A user with a registered passkey; returns the authenticator that holds it. */
async function withPasskey(): Promise<{
  user: TestUser;
  authenticator: SoftwareAuthenticator;
  recoveryCodes: string[];
}> {
  const user = await createUser(t, 'viewer');
  const session = await passwordLogin(t, user);
  const authenticator = new SoftwareAuthenticator(ORIGIN);
  const options = await mutate('auth.secondFactor.passkeys.registrationOptions', undefined, session.headers);
  expect(options.status).toBe(200);
  expect(options.data.rp).toEqual({ name: 'Beauty Crafter', id: 'localhost' });
  const registered = await mutate(
    'auth.secondFactor.passkeys.register',
    { credential: authenticator.register(options.data), name: 'software key' },
    session.headers,
  );
  expect(registered.status).toBe(200);
  return { user, authenticator, recoveryCodes: registered.data.recoveryCodes };
}

/** Signs in with the password; returns the challenge of the second step. */
async function challengeOf(user: TestUser): Promise<{ challenge: string; methods: string[] }> {
  const answer = await mutate('auth.login', { email: user.email, password: user.password });
  expect(answer.data.secondFactor).toBeDefined();
  return answer.data.secondFactor;
}

describe('passkeys', () => {
  it('registers one in a session; the first factor comes with recovery codes', async () => {
    const { user, recoveryCodes } = await withPasskey();
    expect(recoveryCodes).toHaveLength(10);
    const session = await passwordLogin(t, await createUser(t, 'viewer'));
    // Another user sees none of it.
    expect((await query('auth.secondFactor.passkeys.list', session.headers)).data).toEqual([]);
    const rows = await t.deps.database.db
      .selectFrom('passkeys')
      .selectAll()
      .where('user_id', '=', user.id)
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'software key', counter: '0', transports: ['internal'] });
  });

  it('refuses a registration from another origin, or one whose challenge was not the one given', async () => {
    const user = await createUser(t, 'viewer');
    const session = await passwordLogin(t, user);
    const noOrigin = await callProcedure(
      t.app,
      'auth.secondFactor.passkeys.registrationOptions',
      'mutation',
      undefined,
      session.headers,
    );
    expect(noOrigin.status).toBe(400);
    const elsewhere = await mutate('auth.secondFactor.passkeys.registrationOptions', undefined, {
      ...session.headers,
      origin: 'https://phishing.example',
    });
    expect(elsewhere.status).toBe(400);

    const options = await mutate(
      'auth.secondFactor.passkeys.registrationOptions',
      undefined,
      session.headers,
    );
    const forged = new SoftwareAuthenticator(ORIGIN).register({
      ...options.data,
      challenge: 'bm90LXRoZS1jaGFsbGVuZ2U',
    });
    const refused = await mutate(
      'auth.secondFactor.passkeys.register',
      { credential: forged, name: 'forged' },
      session.headers,
    );
    expect(refused.status).toBe(400);
    // The registration's challenge was spent by that attempt: the genuine answer comes too late.
    const genuine = new SoftwareAuthenticator(ORIGIN).register(options.data);
    const late = await mutate(
      'auth.secondFactor.passkeys.register',
      { credential: genuine, name: 'late' },
      session.headers,
    );
    expect(late.status).toBe(400);
    expect((await query('auth.secondFactor.passkeys.list', session.headers)).data).toEqual([]);
  });

  it('signs in with a passkey as the second step: amr pwd and hwk, acr aal2', async () => {
    const { user, authenticator } = await withPasskey();
    const { challenge, methods } = await challengeOf(user);
    expect(methods).toEqual(['passkey', 'recovery_code']);
    const options = await mutate('auth.secondFactor.passkeyOptions', { challenge });
    expect(options.status).toBe(200);
    expect(options.data.rpId).toBe('localhost');
    const verified = await mutate('auth.secondFactor.verifyPasskey', {
      challenge,
      passkey: authenticator.assert(options.data),
    });
    expect(verified.status).toBe(200);
    expect(decodeJwt(verified.data.accessToken)).toMatchObject({ amr: ['pwd', 'hwk'], acr: 'aal2' });
    const row = await t.deps.database.db
      .selectFrom('passkeys')
      .select(['counter', 'last_used_at'])
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.counter).toBe('1');
    expect(row.last_used_at).not.toBeNull();
  });

  it('refuses an assertion replayed, signed on another origin, or with a counter gone back', async () => {
    const { user, authenticator } = await withPasskey();
    const first = await challengeOf(user);
    const options = await mutate('auth.secondFactor.passkeyOptions', { challenge: first.challenge });
    const assertion = authenticator.assert(options.data);
    expect(
      (await mutate('auth.secondFactor.verifyPasskey', { challenge: first.challenge, passkey: assertion }))
        .status,
    ).toBe(200);
    // The same assertion again: its challenge is used.
    expect(
      (await mutate('auth.secondFactor.verifyPasskey', { challenge: first.challenge, passkey: assertion }))
        .status,
    ).toBe(401);
    // On a new sign-in: it signed another WebAuthn challenge.
    const second = await challengeOf(user);
    const secondOptions = await mutate('auth.secondFactor.passkeyOptions', { challenge: second.challenge });
    expect(
      (await mutate('auth.secondFactor.verifyPasskey', { challenge: second.challenge, passkey: assertion }))
        .status,
    ).toBe(401);
    // Signed where a phishing page runs.
    const phished = authenticator.assert(secondOptions.data, { origin: 'https://phishing.example' });
    expect(
      (await mutate('auth.secondFactor.verifyPasskey', { challenge: second.challenge, passkey: phished }))
        .status,
    ).toBe(401);
    // A clone of the authenticator: its counter is behind the one the server saw.
    const cloned = authenticator.assert(secondOptions.data, { counter: 1 });
    expect(
      (await mutate('auth.secondFactor.verifyPasskey', { challenge: second.challenge, passkey: cloned }))
        .status,
    ).toBe(401);
    // The genuine authenticator, its counter ahead, still signs in.
    const genuine = authenticator.assert(secondOptions.data, { counter: 10 });
    expect(
      (await mutate('auth.secondFactor.verifyPasskey', { challenge: second.challenge, passkey: genuine }))
        .status,
    ).toBe(200);
  });

  it('is removed for the password only, and then sign-in is one step again', async () => {
    const { user, recoveryCodes } = await withPasskey();
    // A recovery code stands in for the passkey.
    const { challenge } = await challengeOf(user);
    const signedIn = await mutate('auth.secondFactor.verify', { challenge, recoveryCode: recoveryCodes[0] });
    expect(signedIn.status).toBe(200);
    const headers = { authorization: `Bearer ${signedIn.data.accessToken}` };
    // No authenticator app, so no code: new recovery codes are for the password.
    const badRegeneration = await mutate(
      'auth.secondFactor.regenerateRecoveryCodes',
      { password: 'nope' },
      headers,
    );
    expect(badRegeneration.status).toBe(400);
    const regenerated = await mutate(
      'auth.secondFactor.regenerateRecoveryCodes',
      { password: user.password },
      headers,
    );
    expect(regenerated.data.recoveryCodes).toHaveLength(10);
    const status = await query('auth.secondFactor.status', headers);
    expect(status.data).toMatchObject({ totp: 'none', passkeys: 1, recoveryCodesLeft: 10 });
    const [passkey] = (await query('auth.secondFactor.passkeys.list', headers)).data;
    const wrong = await mutate(
      'auth.secondFactor.passkeys.remove',
      { id: passkey.id, password: 'not-the-password' },
      headers,
    );
    expect(wrong.status).toBe(400);
    const removed = await mutate(
      'auth.secondFactor.passkeys.remove',
      { id: passkey.id, password: user.password },
      headers,
    );
    expect(removed.status).toBe(200);
    const again = await mutate(
      'auth.secondFactor.passkeys.remove',
      { id: passkey.id, password: user.password },
      headers,
    );
    expect(again.code).toBe('NOT_FOUND');
    const plain = await mutate('auth.login', { email: user.email, password: user.password });
    expect(plain.data.accessToken).toEqual(expect.any(String));
  });

  it('signs in without a password: a discoverable passkey with user verification, its challenge once', async () => {
    const { user, authenticator } = await withPasskey();
    const options = await mutate('auth.secondFactor.passwordless.options', undefined);
    expect(options.status).toBe(200);
    expect(options.data.allowCredentials ?? []).toEqual([]);
    expect(options.data.userVerification).toBe('required');
    const assertion = authenticator.assert(options.data);
    const signedIn = await mutate('auth.secondFactor.passwordless.signIn', { passkey: assertion });
    expect(signedIn.status).toBe(200);
    expect(signedIn.data.user.id).toBe(user.id);
    expect(decodeJwt(signedIn.data.accessToken)).toMatchObject({ amr: ['hwk', 'mfa'], acr: 'aal2' });
    // Its challenge was spent.
    expect((await mutate('auth.secondFactor.passwordless.signIn', { passkey: assertion })).status).toBe(401);
    // A challenge the server never handed out.
    const invented = authenticator.assert({ challenge: 'aW52ZW50ZWQtY2hhbGxlbmdl' });
    expect((await mutate('auth.secondFactor.passwordless.signIn', { passkey: invented })).status).toBe(401);
    // An authenticator that verified nobody is one factor only: refused here.
    const fresh = await mutate('auth.secondFactor.passwordless.options', undefined);
    const unverified = authenticator.assert(fresh.data, { userVerified: false });
    expect((await mutate('auth.secondFactor.passwordless.signIn', { passkey: unverified })).status).toBe(401);
    // Without the server's own Origin there is no ceremony at all.
    const bare = await callProcedure(t.app, 'auth.secondFactor.passwordless.options', 'mutation', undefined);
    expect(bare.status).toBe(400);
    const audit = await t.deps.database.db
      .selectFrom('audit_events')
      .select(['type', 'result'])
      .where('target_id', '=', user.id)
      .where('type', '=', 'login')
      .execute();
    expect(audit.filter((row) => row.result === 'failure').length).toBeGreaterThanOrEqual(2);
  });
});

describe('passkeys from pages elsewhere (AUTH_PASSKEY_ORIGINS, AUTH_PASSKEY_RP_ID)', () => {
  // The dashboard on app.example.com and admin.example.com, the API reached as http://localhost
  // (a proxy that does not pass Host through): the relying party is the configured one.
  const APP = 'https://app.example.com';
  const ADMIN = 'https://admin.example.com';
  let u: TestApp;
  beforeAll(async () => {
    u = await startTestApp({ AUTH_PASSKEY_ORIGINS: `${APP}, ${ADMIN}`, AUTH_PASSKEY_RP_ID: 'example.com' });
  });
  afterAll(() => u?.close());
  const from = (origin: string, path: string, input: unknown, headers: Headers = {}) =>
    callProcedure(u.app, path, 'mutation', input, { origin, ...headers });

  /** A user who registered a passkey on the page APP; the authenticator holding it. */
  async function registeredOnApp(): Promise<{
    user: TestUser;
    authenticator: SoftwareAuthenticator;
    session: Headers;
  }> {
    const user = await createUser(u, 'viewer');
    const session = (await passwordLogin(u, user)).headers;
    const authenticator = new SoftwareAuthenticator(APP);
    const options = await from(APP, 'auth.secondFactor.passkeys.registrationOptions', undefined, session);
    expect(options.status).toBe(200);
    expect(options.data.rp).toEqual({ name: 'Beauty Crafter', id: 'example.com' });
    const registered = await from(
      APP,
      'auth.secondFactor.passkeys.register',
      { credential: authenticator.register(options.data), name: 'app key' },
      session,
    );
    expect(registered.status).toBe(200);
    return { user, authenticator, session };
  }

  /** Signs in with the password on `origin`; the second step's challenge and assertion options. */
  async function secondStepOn(origin: string, user: TestUser) {
    const login = await from(origin, 'auth.login', { email: user.email, password: user.password });
    const { challenge } = login.data.secondFactor;
    const options = await from(origin, 'auth.secondFactor.passkeyOptions', { challenge });
    return { challenge, options: options.data };
  }

  it('registers on one listed page and signs in on another, for the configured relying party', async () => {
    const { user, authenticator } = await registeredOnApp();
    const { challenge, options } = await secondStepOn(ADMIN, user);
    expect(options.rpId).toBe('example.com');
    const verified = await from(ADMIN, 'auth.secondFactor.verifyPasskey', {
      challenge,
      passkey: authenticator.assert(options, { origin: ADMIN }),
    });
    expect(verified.status).toBe(200);
    expect(decodeJwt(verified.data.accessToken)).toMatchObject({ amr: ['pwd', 'hwk'], acr: 'aal2' });
  });

  it('refuses a page not listed, the server’s own included, before any ceremony', async () => {
    const { user, authenticator, session } = await registeredOnApp();
    for (const origin of [
      'http://localhost',
      'https://evil.example.com',
      'https://app.example.com.evil.test',
    ]) {
      const answer = await from(origin, 'auth.secondFactor.passkeys.registrationOptions', undefined, session);
      expect({ origin, status: answer.status }).toEqual({ origin, status: 400 });
      expect(answer.message).toContain('AUTH_PASSKEY_ORIGINS');
    }
    // A page listed, its assertion signed as if on another: refused by the signature's origin.
    const { challenge, options } = await secondStepOn(APP, user);
    const phished = await from(APP, 'auth.secondFactor.verifyPasskey', {
      challenge,
      passkey: authenticator.assert(options, { origin: 'https://evil.example.com' }),
    });
    expect(phished.status).not.toBe(200);
  });
});
