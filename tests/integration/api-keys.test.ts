import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { ChangeFeed } from '../../server/base/change-feed';
import { PlatformError } from '../../server/base/errors';
import { createMetrics, type Metrics } from '../../server/base/metrics/metrics';
import { PostgresRateLimitStore } from '../../server/base/rate-limit/postgres-store';
import type { ApiKeyActor, VerifyResult } from '../../server/services/auth/api-key-types';
import { ApiKeyService } from '../../server/services/auth/api-keys';
import { generateApiKey } from '../../server/services/auth/secrets';
import type { Role } from '../../shared/auth';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';

let testDb: OpenedTestDatabase;
/** Instance A's pool; also where the tests read rows from. */
let database: PlatformDatabase;
/** Instance A: its own pool and change feed. */
let service: ApiKeyService;
const closers: (() => Promise<void>)[] = [];

function newMetrics(): Metrics {
  return createMetrics({ build: readBuildInfo(), defaultMetrics: false });
}

/** One app instance: its own pool, metrics and (unless told otherwise) change feed. */
async function instance({
  environment = 'live',
  feed = true,
  startFeed = true,
  metrics = newMetrics(),
}: {
  environment?: 'live' | 'test';
  feed?: boolean;
  startFeed?: boolean;
  metrics?: Metrics;
} = {}) {
  const counter = { queries: 0 };
  const own = testDb.open({
    onQuery: () => {
      counter.queries++;
    },
  });
  const applicationName = `api-keys-test-${randomBytes(4).toString('hex')}`;
  const changes = feed
    ? new ChangeFeed({ url: testDb.url, applicationName, reconnect: { baseMs: 20, maxMs: 200 } })
    : undefined;
  if (changes) closers.push(() => changes.stop());
  if (changes && startFeed) await changes.start();
  const created = new ApiKeyService({
    database: own,
    audit: new AuditLog(metrics),
    metrics,
    rateLimits: new PostgresRateLimitStore(own.db),
    changes,
    environment,
  });
  closers.push(() => created.stop());
  return { service: created, metrics, counter, changes, applicationName };
}

beforeAll(async () => {
  testDb = await openTestDatabase();
  database = testDb.database;
  ({ service } = await instance());
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await testDb?.close();
});

/** A fresh organization with an admin and an operator, as the actors the procedures would pass. */
async function newOrganization(): Promise<{
  admin: ApiKeyActor;
  operator: ApiKeyActor;
  organizationId: string;
}> {
  const organization = await database.db
    .insertInto('organizations')
    .values({ name: `org-${randomBytes(3).toString('hex')}` })
    .returning('id')
    .executeTakeFirstOrThrow();
  const user = async (role: Role): Promise<ApiKeyActor> => {
    const row = await database.db
      .insertInto('users')
      .values({
        organization_id: organization.id,
        email: `${role}-${randomBytes(6).toString('hex')}@example.com`,
        password_hash: 'not-a-real-hash',
        role,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return {
      organizationId: organization.id,
      userId: row.id,
      role,
      ip: '203.0.113.7',
      userAgent: 'api-keys-test',
    };
  };
  return { admin: await user('admin'), operator: await user('operator'), organizationId: organization.id };
}

async function expectNotFound(work: Promise<unknown>): Promise<void> {
  const error = await work.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PlatformError);
  expect((error as PlatformError).code).toBe('NOT_FOUND');
}

/** Calls `probe` until `done` holds; returns how long that took. Throws after `timeoutMs`. */
async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number) {
  const started = performance.now();
  while (!done(await probe())) {
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - started;
}

const HOUR = 3_600_000;

describe('ApiKeyService: issuing and managing keys', () => {
  it('issues a prefixed key of 192 random bits and stores only its SHA-256 hash', async () => {
    const { admin } = await newOrganization();
    const { key, apiKey } = await service.create(admin, { name: 'ci deploys', scopes: ['devops:write'] });

    expect(key).toMatch(/^bc_live_[A-Za-z0-9_-]{32}$/);
    expect(Buffer.from(key.slice('bc_live_'.length), 'base64url').length * 8).toBeGreaterThanOrEqual(128);
    expect(apiKey.prefix).toBe(key.slice(0, 12));
    expect(apiKey.ownerId).toBe(admin.userId);
    expect(Object.keys(apiKey).sort()).toEqual([
      'createdAt',
      'enabled',
      'expiresAt',
      'id',
      'lastUsedAt',
      'name',
      'ownerId',
      'prefix',
      'rateLimits',
      'remaining',
      'replacedBy',
      'revokedAt',
      'scopes',
      'updatedAt',
    ]);

    const rows = await database.db.selectFrom('api_keys').selectAll().execute();
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice('bc_live_'.length));
    const row = rows.find((r) => r.id === apiKey.id);
    expect(row?.key_hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(JSON.stringify(apiKey)).not.toContain(row!.key_hash);

    const testInstance = await instance({ environment: 'test', feed: false });
    const testKey = await testInstance.service.create(admin, { name: 'sandbox', scopes: [] });
    expect(testKey.key).toMatch(/^bc_test_[A-Za-z0-9_-]{32}$/);
    expect(testKey.apiKey.prefix).toBe(testKey.key.slice(0, 12));
  });

  it('refuses an owner from another organization as if the user did not exist', async () => {
    const { admin } = await newOrganization();
    const other = await newOrganization();
    await expectNotFound(service.create(admin, { name: 'x', scopes: [], ownerId: other.operator.userId }));
    await expectNotFound(service.create(admin, { name: 'x', scopes: [], ownerId: 'not-a-uuid' }));
    const owned = await database.db
      .selectFrom('api_keys')
      .select('id')
      .where('owner_id', '=', other.operator.userId)
      .execute();
    expect(owned).toEqual([]);
  });

  it('lists an organization’s keys newest first, page by page and by owner', async () => {
    const { admin, operator } = await newOrganization();
    const first = await service.create(admin, { name: 'first', scopes: [] });
    const second = await service.create(admin, { name: 'second', scopes: [], ownerId: operator.userId });
    const third = await service.create(admin, { name: 'third', scopes: [] });

    const page1 = await service.list(admin, { limit: 2 });
    expect(page1.items.map((k) => k.name)).toEqual(['third', 'second']);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await service.list(admin, { limit: 2, cursor: page1.nextCursor! });
    expect(page2.items.map((k) => k.id)).toEqual([first.apiKey.id]);
    expect(page2.nextCursor).toBeNull();

    const operators = await service.list(admin, { limit: 10, ownerId: operator.userId });
    expect(operators.items.map((k) => k.id)).toEqual([second.apiKey.id]);

    await expect(service.list(admin, { limit: 10, cursor: 'garbage' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    expect((await service.get(admin, third.apiKey.id)).name).toBe('third');
  });

  it('updates a key’s settings and verification follows them at once', async () => {
    const { admin } = await newOrganization();
    const { key, apiKey } = await service.create(admin, { name: 'before', scopes: ['system:read'] });
    expect((await service.verify(key, { scope: 'system:read' })).code).toBe('VALID');

    const updated = await service.update(admin, apiKey.id, {
      name: 'after',
      scopes: ['system:write'],
      rateLimits: [{ name: 'burst', limit: 5, periodMs: 1_000 }],
    });
    expect(updated).toMatchObject({
      name: 'after',
      scopes: ['system:write'],
      rateLimits: [{ name: 'burst', limit: 5, periodMs: 1_000 }],
    });
    expect(updated.updatedAt.getTime()).toBeGreaterThan(apiKey.updatedAt.getTime());
    expect(await service.get(admin, apiKey.id)).toEqual(updated);
    // The cached verification was forgotten: the new scopes apply to the very next call.
    expect((await service.verify(key, { scope: 'system:read' })).code).toBe('INSUFFICIENT_SCOPE');
    expect((await service.verify(key, { scope: 'system:write' })).code).toBe('VALID');
  });

  it('writes last_used_at in one batch at flush time, not on every verification', async () => {
    const { admin } = await newOrganization();
    const { key, apiKey } = await service.create(admin, { name: 'usage', scopes: [] });
    const lastUsed = () =>
      database.db
        .selectFrom('api_keys')
        .select('last_used_at')
        .where('id', '=', apiKey.id)
        .executeTakeFirstOrThrow()
        .then((row) => row.last_used_at);

    const before = Date.now();
    for (let i = 0; i < 5; i++) expect((await service.verify(key)).code).toBe('VALID');
    expect(await lastUsed()).toBeNull();
    // The view already knows: it merges this instance's pending uses.
    expect((await service.get(admin, apiKey.id)).lastUsedAt?.getTime()).toBeGreaterThanOrEqual(before);

    await service.flushUsage();
    const written = await lastUsed();
    expect(written?.getTime()).toBeGreaterThanOrEqual(before);
    expect(written?.getTime()).toBeLessThanOrEqual(Date.now());
  });
});

describe('ApiKeyService: verification codes', () => {
  it('answers VALID with a principal acting for the owner within the key’s scopes', async () => {
    const { admin, operator, organizationId } = await newOrganization();
    const { key, apiKey } = await service.create(admin, {
      name: 'reader',
      scopes: ['system:read', 'devops:read'],
      ownerId: operator.userId,
    });
    const result = await service.verify(key, { scope: 'devops:read' });
    expect(result).toMatchObject({
      code: 'VALID',
      keyId: apiKey.id,
      remaining: null,
      principal: {
        kind: 'apiKey',
        keyId: apiKey.id,
        userId: operator.userId,
        organizationId,
        role: 'operator',
        scopes: ['system:read', 'devops:read'],
      },
    });
    expect((await service.verify(key)).code).toBe('VALID');
  });

  it('answers NOT_FOUND for unknown, malformed and revoked keys', async () => {
    const { admin } = await newOrganization();
    const { key, apiKey } = await service.create(admin, { name: 'doomed', scopes: [] });
    const unknown = generateApiKey({ environment: 'live' }).key;
    const malformed = [
      '',
      'nope',
      `${key}x`,
      ` ${key}`,
      key.replace('bc_live_', 'bc_prod_'),
      'x'.repeat(100_000),
    ];

    expect((await service.verify(unknown)).code).toBe('NOT_FOUND');
    for (const candidate of malformed) expect((await service.verify(candidate)).code).toBe('NOT_FOUND');

    expect((await service.verify(key)).code).toBe('VALID');
    const revoked = await service.revoke(admin, apiKey.id);
    expect(revoked.revokedAt).not.toBeNull();
    const afterRevoke = await service.verify(key);
    expect(afterRevoke).toEqual({ code: 'NOT_FOUND' });
    // Revoking twice changes nothing.
    expect((await service.revoke(admin, apiKey.id)).revokedAt).toEqual(revoked.revokedAt);
  });

  it('answers EXPIRED from the expiry on, and VALID before it', async () => {
    const { admin } = await newOrganization();
    const expiresAt = new Date(Date.now() + HOUR);
    const { key } = await service.create(admin, { name: 'short-lived', scopes: [], expiresAt });
    expect((await service.verify(key)).code).toBe('VALID');
    expect((await service.verify(key, { now: new Date(expiresAt.getTime() - 1) })).code).toBe('VALID');
    expect((await service.verify(key, { now: expiresAt })).code).toBe('EXPIRED');
    expect((await service.verify(key, { now: new Date(expiresAt.getTime() + HOUR) })).code).toBe('EXPIRED');
  });

  it('answers DISABLED for a disabled key and for a key whose owner is disabled', async () => {
    const { admin, operator } = await newOrganization();
    const off = await service.create(admin, { name: 'off', scopes: [], enabled: false });
    expect((await service.verify(off.key)).code).toBe('DISABLED');
    await service.update(admin, off.apiKey.id, { enabled: true });
    expect((await service.verify(off.key)).code).toBe('VALID');

    const owned = await service.create(admin, { name: 'operator key', scopes: [], ownerId: operator.userId });
    expect((await service.verify(owned.key)).code).toBe('VALID');
    await database.transaction(async (trx) => {
      await trx.updateTable('users').set({ disabled: true }).where('id', '=', operator.userId).execute();
      await service.notifyOwnerChanged(trx, operator.userId);
    });
    const elapsed = await eventually(
      () => service.verify(owned.key),
      (result) => result.code === 'DISABLED',
      1_000,
    );
    expect(elapsed).toBeLessThan(1_000);
  });

  it('answers INSUFFICIENT_SCOPE when the key lacks the scope asked for', async () => {
    const { admin } = await newOrganization();
    const { key, apiKey } = await service.create(admin, { name: 'reader', scopes: ['system:read'] });
    expect(await service.verify(key, { scope: 'system:write' })).toEqual({
      code: 'INSUFFICIENT_SCOPE',
      keyId: apiKey.id,
      organizationId: admin.organizationId,
    });
    expect((await service.verify(key, { scope: 'system:read' })).code).toBe('VALID');
  });

  it('answers RATE_LIMITED by whichever of two named limits runs out, and reports it', async () => {
    const { admin } = await newOrganization();
    const { key } = await service.create(admin, {
      name: 'limited',
      scopes: [],
      rateLimits: [
        { name: 'burst', limit: 2, periodMs: 1_000 },
        { name: 'hourly', limit: 3, periodMs: HOUR },
      ],
    });
    const t0 = Date.now() + 10 * HOUR;
    const at = (ms: number) => service.verify(key, { now: new Date(t0 + ms) });

    const first = await at(0);
    expect(first.code).toBe('VALID');
    // The hourly limit has 2 left, the burst 1: the burst is the tighter one.
    expect(first.rateLimit).toMatchObject({ allowed: true, limit: 2, remaining: 1 });
    expect((await at(0)).code).toBe('VALID');
    const burstRefusal = await at(0);
    expect(burstRefusal.code).toBe('RATE_LIMITED');
    expect(burstRefusal.rateLimit).toMatchObject({ allowed: false, limit: 2 });
    expect(burstRefusal.rateLimit!.retryAfterMs).toBeGreaterThan(0);
    expect(burstRefusal.principal).toBeUndefined();

    // A second later the burst has refilled; the refused call was not charged to the hourly limit.
    const third = await at(1_000);
    expect(third.code).toBe('VALID');
    expect(third.rateLimit).toMatchObject({ limit: 3, remaining: 0 });
    const hourlyRefusal = await at(2_000);
    expect(hourlyRefusal.code).toBe('RATE_LIMITED');
    expect(hourlyRefusal.rateLimit).toMatchObject({ allowed: false, limit: 3 });
  });

  it('spends limited uses atomically: 3 uses under 20 concurrent verifications are exactly 3 VALID', async () => {
    const { admin } = await newOrganization();
    const { key, apiKey } = await service.create(admin, { name: 'three uses', scopes: [], remaining: 3 });
    const results = await Promise.all(Array.from({ length: 20 }, () => service.verify(key)));

    const valid = results.filter((r) => r.code === 'VALID');
    expect(valid).toHaveLength(3);
    expect(valid.map((r) => r.remaining).sort()).toEqual([0, 1, 2]);
    expect(results.filter((r) => r.code === 'USAGE_EXCEEDED')).toHaveLength(17);
    expect((await service.get(admin, apiKey.id)).remaining).toBe(0);
    expect((await service.verify(key)).code).toBe('USAGE_EXCEEDED');
  });

  it('counts every verification in auth_api_key_verifications_total by code', async () => {
    const { admin } = await newOrganization();
    const counted = await instance({ feed: false });
    const { key } = await counted.service.create(admin, { name: 'metered', scopes: ['auth:read'] });
    await counted.service.verify(key);
    await counted.service.verify(key, { scope: 'auth:read' });
    await counted.service.verify(key, { scope: 'auth:write' });
    await counted.service.verify('bc_live_short');
    await counted.service.verify(generateApiKey({ environment: 'live' }).key);

    const { values } = await counted.metrics.auth.keyVerifications.get();
    const byCode = Object.fromEntries(values.map((v) => [v.labels.code, v.value]));
    expect(byCode).toEqual({ VALID: 2, INSUFFICIENT_SCOPE: 1, NOT_FOUND: 2 });
  });
});

describe('ApiKeyService: rotation', () => {
  it('issues a new key with the same settings; the old one works through the grace period only', async () => {
    const { admin, operator } = await newOrganization();
    const original = await service.create(admin, {
      name: 'partner',
      scopes: ['devops:read'],
      ownerId: operator.userId,
      rateLimits: [{ name: 'burst', limit: 100, periodMs: 1_000 }],
    });
    expect((await service.verify(original.key)).code).toBe('VALID');

    const rotatedAt = Date.now();
    const rotated = await service.rotate(admin, original.apiKey.id, { gracePeriodSeconds: 60 });
    expect(rotated.key).not.toBe(original.key);
    expect(rotated.key).toMatch(/^bc_live_/);
    expect(rotated.apiKey).toMatchObject({
      name: 'partner',
      scopes: ['devops:read'],
      ownerId: operator.userId,
      rateLimits: [{ name: 'burst', limit: 100, periodMs: 1_000 }],
      expiresAt: null,
      replacedBy: null,
    });
    expect(rotated.previous.replacedBy).toBe(rotated.apiKey.id);
    const graceEnd = rotated.previous.expiresAt!.getTime();
    expect(graceEnd).toBeGreaterThanOrEqual(rotatedAt + 59_000);
    expect(graceEnd).toBeLessThanOrEqual(Date.now() + 61_000);

    expect((await service.verify(original.key, { now: new Date(rotatedAt + 30_000) })).code).toBe('VALID');
    expect((await service.verify(original.key, { now: new Date(graceEnd + 60_000) })).code).toBe('EXPIRED');
    const replacement = await service.verify(rotated.key, { now: new Date(graceEnd + 60_000) });
    expect(replacement.code).toBe('VALID');
    expect(replacement.keyId).toBe(rotated.apiKey.id);

    await expect(service.rotate(admin, original.apiKey.id, { gracePeriodSeconds: 0 })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
  });

  it('never extends an earlier expiry', async () => {
    const { admin } = await newOrganization();
    const expiresAt = new Date(Date.now() + 10_000);
    const original = await service.create(admin, { name: 'soon', scopes: [], expiresAt });
    const rotated = await service.rotate(admin, original.apiKey.id, { gracePeriodSeconds: 3_600 });
    expect(rotated.previous.expiresAt).toEqual(expiresAt);
  });
});

describe('ApiKeyService: organizations and audit', () => {
  it('answers NOT_FOUND for another organization’s key, a missing key and a malformed id', async () => {
    const mine = await newOrganization();
    const theirs = await newOrganization();
    const { key, apiKey } = await service.create(mine.admin, { name: 'mine', scopes: [] });
    const ids = [
      apiKey.id,
      '6f1d3c1e-8f7a-4c2b-9a51-0d2f1e3b4c5d',
      'not-a-uuid',
      "'; drop table api_keys; --",
    ];

    for (const id of ids) {
      await expectNotFound(service.get(theirs.admin, id));
      await expectNotFound(service.update(theirs.admin, id, { name: 'stolen', enabled: false }));
      await expectNotFound(service.revoke(theirs.admin, id));
      await expectNotFound(service.rotate(theirs.admin, id, { gracePeriodSeconds: 0 }));
    }
    expect((await service.list(theirs.admin, { limit: 100 })).items).toEqual([]);
    expect(await service.get(mine.admin, apiKey.id)).toMatchObject({
      name: 'mine',
      enabled: true,
      revokedAt: null,
    });
    expect((await service.verify(key)).code).toBe('VALID');
  });

  it('records create, update, rotate and revoke in audit_events with actor and organization', async () => {
    const { admin, organizationId } = await newOrganization();
    const { apiKey } = await service.create(admin, { name: 'audited', scopes: [] });
    await service.update(admin, apiKey.id, { name: 'audited again' });
    const rotated = await service.rotate(admin, apiKey.id, { gracePeriodSeconds: 10 });
    await service.revoke(admin, rotated.apiKey.id);

    const events = await database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .orderBy('id')
      .execute();
    expect(events.map((e) => [e.type, e.target_id])).toEqual([
      ['api_key_created', apiKey.id],
      ['api_key_updated', apiKey.id],
      ['api_key_rotated', apiKey.id],
      ['api_key_revoked', rotated.apiKey.id],
    ]);
    for (const event of events) {
      expect(event).toMatchObject({
        actor_user_id: admin.userId,
        result: 'success',
        target_type: 'api_key',
        ip: '203.0.113.7',
        user_agent: 'api-keys-test',
      });
    }
    expect(events[2]!.details).toEqual({ replacementId: rotated.apiKey.id, gracePeriodSeconds: 10 });
    // No event carries a key or its hash.
    const hashes = await database.db.selectFrom('api_keys').select('key_hash').execute();
    const text = JSON.stringify(events);
    for (const { key_hash } of hashes) expect(text).not.toContain(key_hash);
  });
});

describe('ApiKeyService: caches across instances', () => {
  it('serves a hot key from memory, and another instance’s revocation reaches it within a second', async () => {
    const { admin } = await newOrganization();
    const b = await instance();
    const { key, apiKey } = await service.create(admin, { name: 'shared', scopes: [] });

    expect((await b.service.verify(key)).code).toBe('VALID');
    const queriesAfterFirst = b.counter.queries;
    for (let i = 0; i < 50; i++) expect((await b.service.verify(key)).code).toBe('VALID');
    expect(b.counter.queries).toBe(queriesAfterFirst);

    await service.revoke(admin, apiKey.id);
    const elapsed = await eventually(
      () => b.service.verify(key),
      (result: VerifyResult) => result.code === 'NOT_FOUND',
      1_000,
    );
    expect(elapsed).toBeLessThan(1_000);
  });

  it('reaches another instance with an update and an owner change within a second', async () => {
    const { admin, operator } = await newOrganization();
    const b = await instance();
    const first = await service.create(admin, { name: 'one', scopes: [] });
    const second = await service.create(admin, { name: 'two', scopes: [], ownerId: operator.userId });
    expect((await b.service.verify(first.key)).code).toBe('VALID');
    expect((await b.service.verify(second.key)).principal?.role).toBe('operator');

    await service.update(admin, first.apiKey.id, { enabled: false });
    await database.transaction(async (trx) => {
      await trx.updateTable('users').set({ role: 'viewer' }).where('id', '=', operator.userId).execute();
      await service.notifyOwnerChanged(trx, operator.userId);
    });
    const elapsed = await eventually(
      async () => [await b.service.verify(first.key), await b.service.verify(second.key)],
      ([one, two]) => one!.code === 'DISABLED' && two!.principal?.role === 'viewer',
      1_000,
    );
    expect(elapsed).toBeLessThan(1_000);
  });

  it('remembers an unknown key briefly, so repeating it costs no query', async () => {
    const b = await instance();
    const unknown = generateApiKey({ environment: 'live' }).key;
    expect((await b.service.verify(unknown)).code).toBe('NOT_FOUND');
    const queries = b.counter.queries;
    for (let i = 0; i < 20; i++) expect((await b.service.verify(unknown)).code).toBe('NOT_FOUND');
    expect((await b.service.verify('bc_live_garbage')).code).toBe('NOT_FOUND');
    expect(b.counter.queries).toBe(queries);
  });

  it('does not trust its cache while its change feed is not listening', async () => {
    const { admin } = await newOrganization();
    const deaf = await instance({ startFeed: false });
    const { key } = await service.create(admin, { name: 'uncached', scopes: [] });
    expect((await deaf.service.verify(key)).code).toBe('VALID');
    const queries = deaf.counter.queries;
    expect((await deaf.service.verify(key)).code).toBe('VALID');
    expect(deaf.counter.queries).toBe(queries + 1);
  });

  it('forgets everything it cached when its change feed reconnects, since changes may have been missed', async () => {
    const { admin } = await newOrganization();
    const b = await instance();
    let reconnects = 0;
    b.changes!.onReconnect(() => {
      reconnects++;
    });
    const { key, apiKey } = await service.create(admin, { name: 'missed', scopes: [] });
    expect((await b.service.verify(key)).code).toBe('VALID');

    // A change that announces itself to nobody: only the cache stands between B and the row.
    await database.db.updateTable('api_keys').set({ enabled: false }).where('id', '=', apiKey.id).execute();
    expect((await b.service.verify(key)).code).toBe('VALID');

    await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${b.applicationName}`.execute(
      database.db,
    );
    await eventually(
      async () => reconnects === 1 && b.changes!.connected,
      (done) => done,
      10_000,
    );
    expect((await b.service.verify(key)).code).toBe('DISABLED');
  });
});
