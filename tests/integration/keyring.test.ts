import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { decodeProtectedHeader } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { openPrivateKey } from '../../server/base/key-sealing';
import { createLogger } from '../../server/base/logger';
import { jwksRoutes } from '../../server/http/jwks';
import {
  type AccessTokenClaims,
  InvalidTokenError,
  signAccessToken,
} from '../../server/services/auth/access-tokens';
import { startKeyMaintenance } from '../../server/services/auth/key-maintenance';
import { Keyring, type KeyringOptions } from '../../server/services/auth/keyring';
import { generateSigningKey, importSigningKey } from '../../server/services/auth/signing-keys';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';

const ISSUER = 'beauty-crafter-test';
const AUDIENCE = 'beauty-crafter-api-test';
const TTL_SECONDS = 900;
const TOLERANCE_SECONDS = 5;
const CLAIMS: AccessTokenClaims = { sub: 'user-1', org: 'org-1', role: 'admin', sid: 'session-1' };
const PUBLIC_MEMBERS = new Set(['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use']);

let testDb: OpenedTestDatabase;
let database: PlatformDatabase;
const kek = newKek();

function newKek(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

function keyring(options: Partial<KeyringOptions> = {}): Keyring {
  return new Keyring({
    database,
    kek,
    alg: 'EdDSA',
    issuer: ISSUER,
    audience: AUDIENCE,
    accessTokenTtlSeconds: TTL_SECONDS,
    clockToleranceSeconds: TOLERANCE_SECONDS,
    rotationDays: 30,
    ...options,
  });
}

function storedKeys() {
  return database.db.selectFrom('signing_keys').selectAll().orderBy('created_at').execute();
}

async function invalidTokenReason(attempt: Promise<unknown>): Promise<string> {
  const error = await attempt.then(
    () => new Error('the token was accepted'),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InvalidTokenError);
  return (error as InvalidTokenError).reason;
}

function secondsLater(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000);
}

beforeAll(async () => {
  testDb = await openTestDatabase();
  database = testDb.database;
});

beforeEach(async () => {
  await database.db.deleteFrom('signing_keys').execute();
});

afterAll(async () => {
  await testDb?.close();
});

describe('Keyring.load', () => {
  it('creates one signing key on an empty database and signs with it', async () => {
    const ring = keyring();
    expect(ring.status()).toEqual({ currentKid: null, verificationKids: [], loadedAt: null });

    await ring.load();

    const rows = await storedKeys();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ alg: 'EdDSA', superseded_at: null, retire_at: null });
    const status = ring.status();
    expect(status.currentKid).toBe(rows[0]!.kid);
    expect(status.verificationKids).toEqual([rows[0]!.kid]);
    expect(status.loadedAt).toBeInstanceOf(Date);

    await ring.load();
    expect(await storedKeys()).toHaveLength(1);
  });

  it('creates exactly one key when several instances start at once on one database', async () => {
    const databases = Array.from({ length: 8 }, () => testDb.open());
    // Connected beforehand, so that the instances reach the empty table together rather than one
    // connection set-up apart; several rounds, because a race lost once may be won the next time.
    await Promise.all(databases.map((instance) => instance.connect()));
    for (let round = 0; round < 5; round++) {
      await database.db.deleteFrom('signing_keys').execute();
      const rings = databases.map((instance) => keyring({ database: instance }));

      await Promise.all(rings.map((ring) => ring.load()));

      const rows = await storedKeys();
      expect(rows).toHaveLength(1);
      for (const ring of rings) expect(ring.status().currentKid).toBe(rows[0]!.kid);
    }
  });

  it('fails with a message naming the kid when the key was sealed with another key-encryption key', async () => {
    await keyring().load();
    const [row] = await storedKeys();

    const otherKek = newKek();
    const stranger = keyring({ kek: otherKek });
    const error = await stranger.load().then(
      () => new Error('load succeeded'),
      (caught: Error) => caught,
    );

    expect(error.message).toContain(`signing key ${row!.kid} cannot be opened`);
    expect(error.message).toContain('AUTH_KEY_ENCRYPTION_KEY');
    for (const secret of [kek, otherKek]) {
      expect(error.message).not.toContain(Buffer.from(secret).toString('base64'));
      expect(error.message).not.toContain(Buffer.from(secret).toString('base64url'));
    }
    expect(stranger.status().currentKid).toBeNull();
  });

  it('never stores the private key in plaintext', async () => {
    await keyring({ alg: 'ES256' }).load();
    const [row] = await storedKeys();
    const { d } = openPrivateKey(row!.private_sealed, kek);
    expect(typeof d).toBe('string');

    const { rows } = await sql<{ text: string }>`select k::text as text from signing_keys k`.execute(
      database.db,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.text).not.toContain(d);
    expect(row!.private_sealed).not.toContain(d);
    expect(JSON.stringify(row!.public_jwk)).not.toContain(d);
    expect(row!.public_jwk).not.toHaveProperty('d');
  });
});

describe('Keyring signing and verifying', () => {
  it('verifies the tokens it signs, with the configured lifetime', async () => {
    const ring = keyring();
    await ring.load();
    const now = new Date();

    const { token, expiresAt, kid } = await ring.signAccessToken(CLAIMS, now);
    const claims = await ring.verifyAccessToken(token, now);

    expect(kid).toBe(ring.status().currentKid);
    expect(decodeProtectedHeader(token)).toMatchObject({ kid, alg: 'EdDSA', typ: 'at+jwt' });
    expect(claims).toMatchObject({ ...CLAIMS, iss: ISSUER, aud: AUDIENCE });
    expect(claims.exp).toBe(claims.iat + TTL_SECONDS);
    expect(expiresAt.getTime()).toBe(claims.exp * 1000);
    expect(await invalidTokenReason(ring.verifyAccessToken(token, secondsLater(expiresAt, 60)))).toBe(
      'expired',
    );
  });

  it('refuses a token for another audience', async () => {
    const ring = keyring();
    await ring.load();
    const other = keyring({ audience: 'somebody-else' });
    await other.load();

    const { token } = await other.signAccessToken(CLAIMS);

    expect(await invalidTokenReason(ring.verifyAccessToken(token))).toBe('wrong_audience');
  });
});

describe('Keyring.rotate and maintain', () => {
  it('signs with the new key at once while the old key still verifies and both are published', async () => {
    const ring = keyring();
    await ring.load();
    const before = await ring.signAccessToken(CLAIMS);
    const rotatedAt = new Date();

    const { kid, previousKid } = await ring.rotate(rotatedAt);

    expect(previousKid).toBe(before.kid);
    expect(kid).not.toBe(before.kid);
    const after = await ring.signAccessToken(CLAIMS);
    expect(after.kid).toBe(kid);
    await expect(ring.verifyAccessToken(before.token)).resolves.toMatchObject({ sub: CLAIMS.sub });
    await expect(ring.verifyAccessToken(after.token)).resolves.toMatchObject({ sub: CLAIMS.sub });
    expect(
      ring
        .jwks()
        .keys.map((key) => key.kid)
        .sort(),
    ).toEqual([kid, previousKid].sort());

    const old = (await storedKeys()).find((row) => row.kid === previousKid)!;
    expect(old.superseded_at?.getTime()).toBe(rotatedAt.getTime());
    expect(old.retire_at?.getTime()).toBe(secondsLater(rotatedAt, TTL_SECONDS + TOLERANCE_SECONDS).getTime());
  });

  it('deletes a key once its retire_at has passed: its tokens fail and it leaves the JWKS', async () => {
    const ring = keyring();
    await ring.load();
    const issuedAt = new Date();
    const old = await ring.signAccessToken(CLAIMS, issuedAt);
    const { kid } = await ring.rotate(issuedAt);

    // Nothing is due yet: the new key is young and the old one's tokens may still be valid.
    expect(await ring.maintain(secondsLater(issuedAt, TTL_SECONDS))).toEqual({ rotated: false, retired: 0 });
    expect(await storedKeys()).toHaveLength(2);

    const afterRetirement = secondsLater(issuedAt, TTL_SECONDS + TOLERANCE_SECONDS + 1);
    expect(await ring.maintain(afterRetirement)).toEqual({ rotated: false, retired: 1 });

    expect((await storedKeys()).map((row) => row.kid)).toEqual([kid]);
    expect(ring.jwks(afterRetirement).keys.map((key) => key.kid)).toEqual([kid]);
    expect(ring.status(afterRetirement).verificationKids).toEqual([kid]);
    // Even at a time the token itself would still be valid, its key is gone.
    expect(await invalidTokenReason(ring.verifyAccessToken(old.token, issuedAt))).toBe('unknown_kid');
  });

  it('stops verifying with a retired key before maintenance has deleted it', async () => {
    const ring = keyring();
    await ring.load();
    const issuedAt = new Date();
    const old = await ring.signAccessToken(CLAIMS, issuedAt);
    await ring.rotate(issuedAt);
    const afterRetirement = secondsLater(issuedAt, TTL_SECONDS + TOLERANCE_SECONDS + 1);

    expect(await storedKeys()).toHaveLength(2);
    expect(ring.jwks(afterRetirement).keys).toHaveLength(1);
    expect(await invalidTokenReason(ring.verifyAccessToken(old.token, afterRetirement))).toBe('unknown_kid');
  });

  it('rotates a key older than rotationDays, and only that', async () => {
    const ring = keyring({ rotationDays: 30 });
    await ring.load();
    const [first] = await storedKeys();

    expect(await ring.maintain(new Date(first!.created_at.getTime() + 29 * 86_400_000))).toEqual({
      rotated: false,
      retired: 0,
    });
    const due = new Date(first!.created_at.getTime() + 30 * 86_400_000);
    expect(await ring.maintain(due)).toEqual({ rotated: true, retired: 0 });

    const rows = await storedKeys();
    expect(rows).toHaveLength(2);
    expect(ring.status().currentKid).toBe(rows.find((row) => row.superseded_at === null)!.kid);
    expect(ring.status().currentKid).not.toBe(first!.kid);
  });

  it('rotates once when two instances run maintenance at the same moment', async () => {
    const rings = [keyring({ database: testDb.open() }), keyring({ database: testDb.open() })];
    await rings[0]!.load();
    await rings[1]!.load();
    const [first] = await storedKeys();
    const due = new Date(first!.created_at.getTime() + 31 * 86_400_000);

    const outcomes = await Promise.all(rings.map((ring) => ring.maintain(due)));

    expect(outcomes.filter((outcome) => outcome.rotated)).toHaveLength(1);
    expect(await storedKeys()).toHaveLength(2);
    expect(rings[0]!.status().currentKid).toBe(rings[1]!.status().currentKid);
  });

  it('rotates a current key of an algorithm no longer configured', async () => {
    await keyring({ alg: 'ES256' }).load();
    const ring = keyring({ alg: 'EdDSA' });
    await ring.load();

    expect(await ring.maintain()).toEqual({ rotated: true, retired: 0 });
    const signed = await ring.signAccessToken(CLAIMS);
    expect(decodeProtectedHeader(signed.token).alg).toBe('EdDSA');
  });
});

describe('Keyring across instances', () => {
  it('verifies a token signed with a key another instance rotated in, and then signs with it too', async () => {
    const first = keyring({ database: testDb.open() });
    const second = keyring({ database: testDb.open() });
    await first.load();
    await second.load();

    const { kid } = await first.rotate();
    const { token } = await first.signAccessToken(CLAIMS);
    expect(second.status().currentKid).not.toBe(kid);

    await expect(second.verifyAccessToken(token)).resolves.toMatchObject({ sub: CLAIMS.sub });
    expect(second.status().currentKid).toBe(kid);
    expect((await second.signAccessToken(CLAIMS)).kid).toBe(kid);
  });

  it('reads the database at most once for a flood of tokens with unknown kids', async () => {
    let keyQueries = 0;
    const ring = keyring({
      database: testDb.open({
        onQuery: (event) => {
          if (event.sql.includes('"signing_keys"')) keyQueries++;
        },
      }),
    });
    await ring.load();
    const loadQueries = keyQueries;
    const stranger = await importSigningKey(await generateSigningKey('EdDSA'));
    const forged = await signAccessToken(CLAIMS, stranger, { issuer: ISSUER, audience: AUDIENCE });

    const concurrent = await Promise.all(
      Array.from({ length: 20 }, () => invalidTokenReason(ring.verifyAccessToken(forged))),
    );
    const sequential: string[] = [];
    for (let i = 0; i < 20; i++) sequential.push(await invalidTokenReason(ring.verifyAccessToken(forged)));

    expect(new Set([...concurrent, ...sequential])).toEqual(new Set(['unknown_kid']));
    expect(keyQueries - loadQueries).toBe(1);
  });
});

describe('startKeyMaintenance', () => {
  it('deletes retired keys on its schedule', async () => {
    const ring = keyring();
    await ring.load();
    // Rotated two days ago: the old key's retire_at is long past.
    await ring.rotate(new Date(Date.now() - 2 * 86_400_000));
    expect(await storedKeys()).toHaveLength(2);

    const maintenance = startKeyMaintenance(ring, { intervalMs: 20 });
    try {
      await expect.poll(async () => (await storedKeys()).length, { timeout: 5_000 }).toBe(1);
    } finally {
      maintenance.stop();
    }
    expect(ring.status().verificationKids).toEqual([ring.status().currentKid]);
  });

  it('logs a failed run instead of throwing', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    });
    const broken = testDb.open();
    const ring = keyring({ database: broken });
    await ring.load();
    await broken.close();

    const maintenance = startKeyMaintenance(ring, { intervalMs: 20, logger });
    try {
      await expect
        .poll(() => lines.find((line) => line.msg === 'signing key maintenance failed'), { timeout: 5_000 })
        .toMatchObject({ level: 'error' });
    } finally {
      maintenance.stop();
    }
  });
});

describe('jwksRoutes', () => {
  it('serves only the public members of every published key, cacheable for five minutes', async () => {
    const ring = keyring({ alg: 'ES256' });
    await ring.load();
    await ring.rotate();
    const app = jwksRoutes(ring);

    const response = await app.request('/.well-known/jwks.json');

    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(body.keys.map((key) => key.kid).sort()).toEqual([...ring.status().verificationKids].sort());
    expect(body.keys).toHaveLength(2);
    for (const key of body.keys) {
      expect(Object.keys(key).every((member) => PUBLIC_MEMBERS.has(member))).toBe(true);
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    }
    const text = JSON.stringify(body);
    for (const row of await storedKeys()) {
      expect(text).not.toContain(openPrivateKey(row.private_sealed, kek).d);
    }
  });
});
