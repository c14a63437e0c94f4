import { createHmac, createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect } from 'node:net';
import { serve } from '@hono/node-server';
import {
  CompactSign,
  type CryptoKey,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JWK,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPrivateKey } from '../../server/base/key-sealing';
import type { InvalidTokenReason } from '../../server/services/auth/access-tokens';
import { importSigningKey, type SigningAlgorithm } from '../../server/services/auth/signing-keys';
import { startTestApp, TEST_ADMIN, TEST_KEK, type TestApp } from '../helpers/app';
import { createPlatformUser, createUser, login, type SignedIn, type TestUser } from '../helpers/auth';
import { type Answer, send as sendTo } from '../helpers/http';
import { dumpTables, SecretScan } from '../helpers/secret-scan';

// Access tokens over HTTP: a corpus of forged tokens, each refused by a tRPC procedure and by a
// plain route with one identical 401; the JWKS document; signing-key rotation. The forgeries are
// signed with the app's real private key (opened from signing_keys with the test key-encryption
// key) wherever that makes the one defect under test the only thing wrong with the token.

let t: TestApp;
/** Every password and token this file used, for the final scan of tables and logs. */
const secrets = new SecretScan();
const remember = (...values: (string | null | undefined)[]) => secrets.remember(...values);

beforeAll(async () => {
  t = await startTestApp();
  remember(TEST_ADMIN.password, t.admin.authorization.slice('Bearer '.length));
});
afterAll(() => t?.close());

const send = (path: string, init?: RequestInit) => sendTo(t.app, path, init);

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const me = (headers: Record<string, string>) => send('/api/trpc/auth.me', { headers });
const systemStatus = (headers: Record<string, string>) => send('/api/system/status', { headers });
const mutate = (procedure: string, headers: Record<string, string>) =>
  send(`/api/trpc/${procedure}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: '{}',
  });

async function newUser(role: TestUser['role'], platformRole?: 'operator'): Promise<TestUser> {
  const user = platformRole ? await createPlatformUser(t, platformRole, role) : await createUser(t, role);
  remember(user.password);
  return user;
}

async function signIn(user: TestUser): Promise<SignedIn> {
  const signedIn = await login(t, user);
  remember(signedIn.accessToken, signedIn.refreshToken);
  return signedIn;
}

/** The signing key the app signs with now, opened from its sealed row as another instance would. */
async function currentSigningKey(): Promise<{
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  publicJwk: JWK;
}> {
  const row = await t.deps.database.db
    .selectFrom('signing_keys')
    .selectAll()
    .where('superseded_at', 'is', null)
    .executeTakeFirstOrThrow();
  const alg = row.alg as SigningAlgorithm;
  const handle = await importSigningKey({
    kid: row.kid,
    alg,
    privateJwk: openPrivateKey(row.private_sealed, TEST_KEK),
  });
  return { kid: row.kid, alg, privateKey: handle.privateKey, publicJwk: row.public_jwk as JWK };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs any header and payload, so that a case can change exactly one thing. */
function sign(header: Record<string, unknown>, payload: unknown, key: CryptoKey): Promise<string> {
  return new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader(header as { alg: string })
    .sign(key);
}

function hs256(header: Record<string, unknown>, payload: unknown, secret: string | Buffer): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

async function rejectedByReason(): Promise<Map<string, number>> {
  const { values } = await t.deps.metrics.auth.rejectedTokens.get();
  return new Map(values.map((value) => [String(value.labels.reason), value.value]));
}

describe('forged access tokens over HTTP', () => {
  let victim: SignedIn;
  let signer: Awaited<ReturnType<typeof currentSigningKey>>;
  let revokedSessionToken: string;

  beforeAll(async () => {
    // A platform operator, so that a token accepted for them would be served /api/system/status as well.
    victim = await signIn(await newUser('operator', 'operator'));
    signer = await currentSigningKey();
    const ended = await signIn(await newUser('operator'));
    expect((await mutate('auth.logout', ended.headers)).res.status).toBe(200);
    // The revocation reaches the instance's list through the change feed: wait for it (≤ 1 s).
    const deadline = performance.now() + 1_000;
    while ((await me(ended.headers)).res.status !== 401 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    revokedSessionToken = ended.accessToken;
  });

  it('refuses every forged token with the same 401 on a procedure and on a plain route', async () => {
    const { config } = t.deps;
    const now = Math.floor(Date.now() / 1000);
    const decoded = JSON.parse(Buffer.from(victim.accessToken.split('.')[1]!, 'base64url').toString());
    const payload = (changes: Record<string, unknown> = {}) => ({
      iss: config.AUTH_ISSUER,
      aud: config.AUTH_AUDIENCE,
      sub: decoded.sub,
      org: decoded.org,
      role: decoded.role,
      prole: decoded.prole,
      sid: decoded.sid,
      iat: now,
      exp: now + 600,
      jti: 'forged-jti-0001',
      ...changes,
    });
    const header = (changes: Record<string, unknown> = {}) => ({
      alg: signer.alg,
      kid: signer.kid,
      typ: 'at+jwt',
      ...changes,
    });
    const real = (head: Record<string, unknown>, body: unknown) => sign(head, body, signer.privateKey);

    // The control: a token made the same way with nothing wrong is accepted on both routes.
    const genuine = await real(header(), payload());
    remember(genuine);
    expect((await me(bearer(genuine))).res.status).toBe(200);
    expect((await systemStatus(bearer(genuine))).res.status).toBe(200);

    const attacker = await generateKeyPair('EdDSA', { extractable: true });
    const attackerJwk: JWK = { ...(await exportJWK(attacker.publicKey)), kid: signer.kid, alg: 'EdDSA' };
    const pem = createPublicKey({ key: signer.publicJwk, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const [h, p, s] = genuine.split('.') as [string, string, string];
    const flipped = Buffer.from(s, 'base64url');
    flipped[10]! ^= 0x01;

    const corpus: [name: string, reason: InvalidTokenReason | 'session_revoked', token: string][] = [
      ['alg none, empty signature', 'malformed', `${b64(header({ alg: 'none' }))}.${b64(payload())}.`],
      [
        'alg none, junk signature',
        'alg_not_allowed',
        `${b64(header({ alg: 'none' }))}.${b64(payload())}.AAAA`,
      ],
      [
        'HS256 keyed with the public key as PEM',
        'alg_not_allowed',
        hs256(header({ alg: 'HS256' }), payload(), pem),
      ],
      [
        'HS256 keyed with the public JWK as JSON bytes',
        'alg_not_allowed',
        hs256(header({ alg: 'HS256' }), payload(), JSON.stringify(signer.publicJwk)),
      ],
      [
        'HS256 keyed with the raw public key bytes',
        'alg_not_allowed',
        hs256(header({ alg: 'HS256' }), payload(), Buffer.from(String(signer.publicJwk.x), 'base64url')),
      ],
      ['signature stripped', 'malformed', `${h}.${p}.`],
      ['signature segment removed', 'malformed', `${h}.${p}`],
      ['signature byte flipped', 'bad_signature', `${h}.${p}.${flipped.toString('base64url')}`],
      [
        'role edited to admin, signature kept',
        'bad_signature',
        `${h}.${b64(payload({ role: 'admin' }))}.${s}`,
      ],
      ['exp missing', 'missing_claim', await real(header(), payload({ exp: undefined }))],
      [
        'exp 60 s past (beyond the 5 s tolerance)',
        'expired',
        await real(header(), payload({ iat: now - 960, exp: now - 60 })),
      ],
      ['nbf 60 s ahead', 'not_yet_valid', await real(header(), payload({ nbf: now + 60 }))],
      [
        'iat 60 s ahead',
        'issued_in_future',
        await real(header(), payload({ iat: now + 60, exp: now + 660 })),
      ],
      ['wrong iss', 'wrong_issuer', await real(header(), payload({ iss: 'https://evil.example' }))],
      ['wrong aud', 'wrong_audience', await real(header(), payload({ aud: 'another-api' }))],
      ['typ JWT', 'wrong_typ', await real(header({ typ: 'JWT' }), payload())],
      ['typ refresh+jwt', 'wrong_typ', await real(header({ typ: 'refresh+jwt' }), payload())],
      ['typ missing', 'wrong_typ', await real(header({ typ: undefined }), payload())],
      ['unknown kid', 'unknown_kid', await real(header({ kid: 'AAAAAAAAAAAAAAAAAAAAAA' }), payload())],
      ['kid path traversal', 'bad_kid', await real(header({ kid: '../../etc/passwd' }), payload())],
      ['kid SQL injection', 'bad_kid', await real(header({ kid: "' or 1=1--" }), payload())],
      // Over MAX_TOKEN_LENGTH (8 KiB), so refused for its size before the kid is even read.
      ['kid of 10 KB', 'too_large', await real(header({ kid: 'k'.repeat(10 * 1024) }), payload())],
      [
        'jku header',
        'forbidden_header',
        await real(header({ jku: 'https://evil.example/jwks.json' }), payload()),
      ],
      [
        'x5u header',
        'forbidden_header',
        await real(header({ x5u: 'https://evil.example/cert.pem' }), payload()),
      ],
      [
        'embedded jwk of the attacker, signed by the attacker',
        'forbidden_header',
        await sign(header({ jwk: attackerJwk }), payload(), attacker.privateKey),
      ],
      [
        'another EdDSA key, the real kid',
        'bad_signature',
        await sign(header(), payload(), attacker.privateKey),
      ],
      ['1 MB token', 'too_large', await real(header(), payload({ pad: 'x'.repeat(1024 * 1024) }))],
      ['a genuine token of a revoked session', 'session_revoked', revokedSessionToken],
    ];
    remember(...corpus.map(([, , token]) => token));

    const before = await rejectedByReason();
    const outcomes: { name: string; procedure: Answer; route: Answer }[] = [];
    for (const [name, , token] of corpus) {
      outcomes.push({ name, procedure: await me(bearer(token)), route: await systemStatus(bearer(token)) });
    }
    const after = await rejectedByReason();

    const rejected = outcomes.filter((o) => o.procedure.res.status === 401 && o.route.res.status === 401);
    console.log(`forged tokens rejected: ${rejected.length} of ${corpus.length}`);
    expect(
      outcomes.map((o) => ({ name: o.name, procedure: o.procedure.res.status, route: o.route.res.status })),
    ).toEqual(corpus.map(([name]) => ({ name, procedure: 401, route: 401 })));

    // Indistinguishable: only the request id differs from one refusal to the next.
    const procedureBody = (answer: Answer) => {
      const { requestId, ...rest } = answer.body.error.data;
      expect(requestId).toBe(answer.res.headers.get('x-request-id'));
      return { ...answer.body, error: { ...answer.body.error, data: rest } };
    };
    const routeBody = (answer: Answer) => {
      const { requestId, ...rest } = answer.body.error;
      expect(requestId).toBe(answer.res.headers.get('x-request-id'));
      return rest;
    };
    const first = outcomes[0]!;
    expect(routeBody(first.route)).toEqual({
      code: 'UNAUTHORIZED',
      message: 'the access token is invalid or expired',
    });
    expect(first.procedure.body.error.message).toBe('the access token is invalid or expired');
    expect(first.procedure.body.error.data.code).toBe('UNAUTHORIZED');
    for (const outcome of outcomes) {
      expect(procedureBody(outcome.procedure), outcome.name).toEqual(procedureBody(first.procedure));
      expect(routeBody(outcome.route), outcome.name).toEqual(routeBody(first.route));
      for (const answer of [outcome.procedure, outcome.route]) {
        expect(answer.res.headers.get('www-authenticate'), outcome.name).toBe(
          'Bearer realm="beauty-crafter"',
        );
      }
    }

    // The reason is not in the answer, but it is in the metric: two refusals per token.
    const expected = new Map<string, number>();
    for (const [, reason] of corpus) expected.set(reason, (expected.get(reason) ?? 0) + 2);
    const moved = new Map([...after].map(([reason, value]) => [reason, value - (before.get(reason) ?? 0)]));
    for (const [reason, count] of expected) expect(moved.get(reason), reason).toBe(count);
    const total = [...moved.values()].reduce((sum, value) => sum + value, 0);
    expect(total).toBe(corpus.length * 2);
  });

  it('leaves a 1 MB Authorization header to the runtime over a real socket: Node answers 431 itself', async () => {
    // app.request() hands the header to the app, which answers 401 (above). A real Node server
    // never gets that far: its HTTP parser refuses headers over --max-http-header-size (16 KiB).
    const server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const token = 'x'.repeat(1024 * 1024);
      const statusLine = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let received = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk) => {
          received += chunk;
        });
        // The server may close while the request is still being written: what it said first counts.
        socket.on('error', () => undefined);
        socket.on('close', () =>
          received ? resolve(received.split('\r\n')[0] ?? '') : reject(new Error('no answer')),
        );
        socket.write(
          `GET /api/trpc/auth.me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`,
        );
      });
      expect(statusLine).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('the JWKS document and signing-key rotation', () => {
  const jwks = async () => {
    const answer = await send('/.well-known/jwks.json');
    expect(answer.res.status).toBe(200);
    return answer.body.keys as JWK[];
  };
  const kidOf = (token: string) => decodeProtectedHeader(token).kid;

  it('lists the current kid with public members only', async () => {
    const answer = await send('/.well-known/jwks.json');
    expect(answer.res.headers.get('cache-control')).toBe('public, max-age=300');
    const session = await signIn(await newUser('viewer'));
    const keys = answer.body.keys as JWK[];
    expect(keys.map((key) => key.kid)).toContain(kidOf(session.accessToken));
    for (const key of keys) {
      for (const member of Object.keys(key))
        expect(['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use']).toContain(member);
      expect(key).toMatchObject({ use: 'sig', alg: t.deps.config.AUTH_SIGNING_ALG });
    }
    expect(answer.text).not.toMatch(/"(d|p|q|dp|dq|qi|k|priv)"\s*:/);
  });

  it('rotates for an admin: a new kid signs, and tokens signed before still verify', async () => {
    const before = await signIn(await newUser('viewer'));
    const oldKid = kidOf(before.accessToken);

    const rotated = await mutate('auth.keys.rotate', t.admin);
    expect(rotated.res.status, rotated.text).toBe(200);
    const { kid, previousKid } = rotated.body.result.data;
    expect(previousKid).toBe(oldKid);
    expect(kid).not.toBe(oldKid);

    expect((await jwks()).map((key) => key.kid)).toEqual(expect.arrayContaining([kid, oldKid]));
    expect((await me(before.headers)).res.status).toBe(200);
    const after = await signIn(await newUser('viewer'));
    expect(kidOf(after.accessToken)).toBe(kid);
    expect((await me(after.headers)).res.status).toBe(200);

    const audit = await t.deps.database.db
      .selectFrom('audit_events')
      .select(['target_id', 'result'])
      .where('type', '=', 'signing_key_rotated')
      .execute();
    expect(audit).toEqual([{ target_id: kid, result: 'success' }]);
  });

  it('refuses rotation to a viewer and to an operator (FORBIDDEN), rotating nothing', async () => {
    const keysBefore = (await jwks()).map((key) => key.kid);
    for (const role of ['viewer', 'operator'] as const) {
      const session = await signIn(await newUser(role));
      const answer = await mutate('auth.keys.rotate', session.headers);
      expect(answer.res.status).toBe(403);
      expect(answer.body.error.data.code).toBe('FORBIDDEN');
    }
    expect((await jwks()).map((key) => key.kid)).toEqual(keysBefore);
  });
});

describe('what the database and the logs keep', () => {
  it('stores no password or token in any table', async () => {
    const dump = await dumpTables(t, ['signing_keys', 'sessions']);
    expect(secrets.size).toBeGreaterThan(30);
    secrets.expectNoneIn(dump, 'tables');
  });

  it('logs no password or token', () => {
    expect(t.logs.length).toBeGreaterThan(20);
    secrets.expectNoneIn(JSON.stringify(t.logs), 'log lines');
  });
});
