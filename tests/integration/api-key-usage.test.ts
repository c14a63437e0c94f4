import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformDatabase } from '../../db/connect';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { createMetrics } from '../../server/base/metrics/metrics';
import { PostgresRateLimitStore } from '../../server/base/rate-limit/postgres-store';
import { ApiKeyUsage, OUTCOME } from '../../server/services/auth/api-key-usage';
import { ApiKeyService } from '../../server/services/auth/api-keys';
import { API_KEY_OUTCOMES, type ApiKeyUsage as UsageReport } from '../../shared/api-key-usage';
import type { ApiKeyScope } from '../../shared/auth';
import { startTestApp, type TestApp } from '../helpers/app';
import { createOrganization, createUser, login, type SignedIn, type TestUser } from '../helpers/auth';
import { testPoolDefaults } from '../helpers/database';
import { callProcedure } from '../helpers/http';

let t: TestApp;
let admin: SignedIn;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  t = await startTestApp();
  const first = await createOrganization(t);
  admin = await login(t, first);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await t?.close();
});

/** A key of `owner` made through the real service, with the settings given. */
async function keyOf(
  owner: TestUser,
  settings: {
    scopes: ApiKeyScope[];
    remaining?: number;
    rateLimits?: { name: string; limit: number; periodMs: number }[];
  },
) {
  const { key, apiKey } = await t.deps.auth.apiKeys.create(
    { organizationId: owner.organizationId, userId: owner.id, role: owner.role },
    { name: `usage ${Math.random().toString(36).slice(2, 8)}`, ...settings },
  );
  return { key, id: apiKey.id, headers: { 'x-api-key': key } };
}

async function usageOf(id: string, headers: Record<string, string> = admin.headers, range = '24h') {
  return callProcedure(t.app, 'auth.apiKeys.usage', 'query', { id, range }, headers);
}

/** Every outcome at 0 but the ones given. */
function counts(some: Partial<Record<(typeof API_KEY_OUTCOMES)[number], number>>) {
  return Object.fromEntries(API_KEY_OUTCOMES.map((outcome) => [outcome, some[outcome] ?? 0]));
}

/** Another pool on the test app's database, as another instance has. */
function anotherPool(): PlatformDatabase {
  const database = new PlatformDatabase({ ...testPoolDefaults, url: t.database.url });
  closers.push(() => database.close());
  return database;
}

/** A separate instance's key service on the same database: its own pool, memory and metrics. */
function secondInstance(): ApiKeyService {
  const database = anotherPool();
  const metrics = createMetrics({ build: readBuildInfo(), defaultMetrics: false });
  const service = new ApiKeyService({
    database,
    audit: new AuditLog(metrics),
    metrics,
    rateLimits: new PostgresRateLimitStore(database.db),
    environment: 'test',
  });
  closers.push(() => service.stop());
  return service;
}

async function rowsOf(keyId: string) {
  return t.deps.database.db
    .selectFrom('api_key_verifications')
    .select(['minute', 'outcome', 'count'])
    .where('key_id', '=', keyId)
    .orderBy('outcome')
    .execute();
}

describe('auth.apiKeys.usage: outcomes of calls made with a key', () => {
  it('counts valid, rate-limited, insufficient-scope, usage-exceeded and revoked calls against their key', async () => {
    const owner = admin.user;
    const limited = await keyOf(owner, {
      scopes: ['auth:read'],
      rateLimits: [{ name: 'burst', limit: 2, periodMs: 3_600_000 }],
    });
    const metered = await keyOf(owner, { scopes: ['auth:read'], remaining: 2 });
    const revoked = await keyOf(owner, { scopes: ['auth:read'] });

    const statuses = async (key: { headers: Record<string, string> }, path: string, n: number) => {
      const seen: number[] = [];
      for (let i = 0; i < n; i++)
        seen.push((await callProcedure(t.app, path, 'query', undefined, key.headers)).status);
      return seen;
    };
    // Scope first (Unkey's order): a call the key may not make spends none of its limit.
    expect(await statuses(limited, 'system.annotations.list', 1)).toEqual([403]);
    expect(await statuses(limited, 'auth.apiKeys.list', 3)).toEqual([200, 200, 429]);
    expect(await statuses(metered, 'auth.apiKeys.list', 3)).toEqual([200, 200, 429]);
    expect(await statuses(revoked, 'auth.apiKeys.list', 1)).toEqual([200]);
    await t.deps.auth.apiKeys.revoke(
      { organizationId: owner.organizationId, userId: owner.id, role: 'admin' },
      revoked.id,
    );
    expect(await statuses(revoked, 'auth.apiKeys.list', 2)).toEqual([401, 401]);

    const answer = await usageOf(limited.id);
    expect(answer.status).toBe(200);
    const report = answer.data as UsageReport;
    expect(report.totals).toEqual(counts({ valid: 2, rate_limited: 1, insufficient_scope: 1 }));
    expect(report.buckets).toHaveLength(24);
    expect(report.bucketSeconds).toBe(3_600);
    // The calls fall in the last hour's bucket (or, across an hour's turn, the two last).
    const summed = counts({});
    for (const bucket of report.buckets)
      for (const outcome of API_KEY_OUTCOMES) summed[outcome]! += bucket.counts[outcome];
    expect(summed).toEqual(report.totals);
    expect(Date.parse(report.buckets.at(-1)!.start)).toBeLessThanOrEqual(Date.now());
    expect(report.lastUsedAt).not.toBeNull();
    expect(report.remaining).toBeNull();

    const meteredReport = (await usageOf(metered.id)).data as UsageReport;
    expect(meteredReport.totals).toEqual(counts({ valid: 2, usage_exceeded: 1 }));
    expect(meteredReport.remaining).toBe(0);

    const revokedReport = (await usageOf(revoked.id)).data as UsageReport;
    expect(revokedReport.totals).toEqual(counts({ valid: 1, revoked: 2 }));
    // Refusals are no use: the last use stays the valid call's.
    const row = await t.deps.database.db
      .selectFrom('api_keys')
      .select('last_used_at')
      .where('id', '=', revoked.id)
      .executeTakeFirstOrThrow();
    expect(row.last_used_at?.toISOString()).toBe(revokedReport.lastUsedAt);
  });

  it('counts a disabled key and an expired one, and nothing for another organization’s verify', async () => {
    const owner = admin.user;
    const actor = { organizationId: owner.organizationId, userId: owner.id, role: 'admin' as const };
    const key = await keyOf(owner, { scopes: ['auth:read'] });
    await t.deps.auth.apiKeys.update(actor, key.id, { enabled: false });
    expect((await callProcedure(t.app, 'auth.me', 'query', undefined, key.headers)).status).toBe(401);
    await t.deps.auth.apiKeys.update(actor, key.id, {
      enabled: true,
      expiresAt: new Date(Date.now() - 1000),
    });
    expect((await callProcedure(t.app, 'auth.me', 'query', undefined, key.headers)).status).toBe(401);

    const stranger = await login(t, await createOrganization(t));
    const verified = await callProcedure(
      t.app,
      'auth.apiKeys.verify',
      'mutation',
      { key: key.key },
      stranger.headers,
    );
    expect(verified.data).toEqual({ valid: false, code: 'NOT_FOUND' });

    expect(((await usageOf(key.id)).data as UsageReport).totals).toEqual(counts({ disabled: 1, expired: 1 }));
  });
});

describe('auth.apiKeys.usage: authority and input', () => {
  it('answers another organization’s key as one that does not exist, and another user’s key FORBIDDEN to an operator', async () => {
    const key = await keyOf(admin.user, { scopes: [] });
    const stranger = await login(t, await createOrganization(t));
    const theirs = await usageOf(key.id, stranger.headers);
    const get = await callProcedure(t.app, 'auth.apiKeys.get', 'query', { id: key.id }, stranger.headers);
    expect([theirs.status, theirs.code]).toEqual([404, 'NOT_FOUND']);
    expect([get.status, get.code]).toEqual([404, 'NOT_FOUND']);

    const operator = await login(t, await createUser(t, 'operator', admin.user));
    const refused = await usageOf(key.id, operator.headers);
    expect([refused.status, refused.code]).toEqual([403, 'FORBIDDEN']);
    // The operator's own key is theirs to read.
    const own = await keyOf(operator.user, { scopes: [] });
    expect((await usageOf(own.id, operator.headers)).status).toBe(200);

    // A key with the right scope but not auth:read is refused as any other procedure would.
    const narrow = await keyOf(admin.user, { scopes: ['system:read'] });
    expect((await usageOf(key.id, narrow.headers)).status).toBe(403);
  });

  it('refuses an unknown range and an id that is not a UUID with 400, an unknown key with 404', async () => {
    const key = await keyOf(admin.user, { scopes: [] });
    const badRange = await usageOf(key.id, admin.headers, '1y');
    expect([badRange.status, badRange.code]).toEqual([400, 'BAD_REQUEST']);
    const badId = await usageOf('not-a-uuid');
    expect([badId.status, badId.code]).toEqual([400, 'BAD_REQUEST']);
    const unknown = await usageOf('00000000-0000-4000-8000-000000000000');
    expect([unknown.status, unknown.code]).toEqual([404, 'NOT_FOUND']);
    for (const [range, buckets, seconds] of [
      ['7d', 28, 21_600],
      ['30d', 30, 86_400],
    ] as const) {
      const report = (await usageOf(key.id, admin.headers, range)).data as UsageReport;
      expect([report.buckets.length, report.bucketSeconds]).toEqual([buckets, seconds]);
    }
  });

  it('is served by REST at GET /api/v1/api-keys/{id}/usage', async () => {
    const key = await keyOf(admin.user, { scopes: ['auth:read'] });
    await callProcedure(t.app, 'auth.me', 'query', undefined, key.headers);
    const response = await t.app.request(`/api/v1/api-keys/${key.id}/usage?range=7d`, {
      headers: admin.headers,
    });
    expect(response.status).toBe(200);
    const report = (await response.json()) as UsageReport;
    expect(report.totals.valid).toBe(1);
  });
});

describe('ApiKeyUsage: recording into PostgreSQL', () => {
  it('adds two instances’ counts of one minute into the same rows', async () => {
    const key = await keyOf(admin.user, { scopes: [] });
    const options = { usageFlushIntervalMs: 60_000, usageRetentionDays: 30 };
    const a = new ApiKeyUsage({ database: t.deps.database, ...options });
    const b = new ApiKeyUsage({ database: anotherPool(), ...options });
    closers.push(() => b.stop());
    const at = Date.UTC(2026, 11, 6, 12, 30, 15);
    for (let i = 0; i < 3; i++) a.record(key.id, OUTCOME.valid, at);
    for (let i = 0; i < 4; i++) b.record(key.id, OUTCOME.valid, at + i * 1000);
    b.record(key.id, OUTCOME.rate_limited, at);
    await Promise.all([a.flush(), b.flush()]);
    // A second flush of the same minute adds again.
    a.record(key.id, OUTCOME.valid, at + 30_000);
    await a.flush();
    const rows = await rowsOf(key.id);
    expect(rows.map((row) => [row.minute.toISOString(), row.outcome, row.count])).toEqual([
      ['2026-12-06T12:30:00.000Z', 'rate_limited', 1],
      ['2026-12-06T12:30:00.000Z', 'valid', 8],
    ]);
  });

  it('keeps each minute apart, and writes what it holds when stopped', async () => {
    const key = await keyOf(admin.user, { scopes: ['auth:read'] });
    const service = secondInstance();
    service.start();
    for (let i = 0; i < 3; i++)
      expect((await service.verify(key.key, { scope: 'auth:read' })).code).toBe('VALID');
    expect((await service.verify(key.key, { scope: 'devops:read' })).code).toBe('INSUFFICIENT_SCOPE');
    expect(await rowsOf(key.id)).toEqual([]);
    await service.stop();
    const rows = await rowsOf(key.id);
    expect(rows.reduce((sum, row) => sum + row.count, 0)).toBe(4);
    expect(rows.filter((row) => row.outcome === 'valid').reduce((sum, row) => sum + row.count, 0)).toBe(3);

    const usage = new ApiKeyUsage({
      database: t.deps.database,
      usageFlushIntervalMs: 60_000,
      usageRetentionDays: 30,
    });
    const minute = Date.UTC(2026, 11, 6, 9, 0, 0);
    usage.record(key.id, OUTCOME.expired, minute + 59_000);
    usage.record(key.id, OUTCOME.expired, minute + 60_000);
    usage.record(key.id, OUTCOME.expired, minute + 61_000);
    await usage.stop();
    const expired = (await rowsOf(key.id)).filter((row) => row.outcome === 'expired');
    expect(expired.map((row) => [row.minute.toISOString(), row.count]).sort()).toEqual([
      ['2026-12-06T09:00:00.000Z', 1],
      ['2026-12-06T09:01:00.000Z', 2],
    ]);
  });

  it('forgets the counts of a key that goes with its owner, and drops counts flushed after it went', async () => {
    const member = await createUser(t, 'operator', admin.user);
    const gone = await keyOf(member, { scopes: [] });
    const kept = await keyOf(admin.user, { scopes: [] });
    const usage = new ApiKeyUsage({
      database: t.deps.database,
      usageFlushIntervalMs: 60_000,
      usageRetentionDays: 30,
    });
    usage.record(gone.id, OUTCOME.valid, Date.now());
    await usage.flush();
    expect(await rowsOf(gone.id)).toHaveLength(1);

    usage.record(gone.id, OUTCOME.valid, Date.now());
    usage.record(kept.id, OUTCOME.revoked, Date.now());
    await t.deps.auth.users.remove(
      {
        kind: 'user',
        userId: admin.user.id,
        organizationId: admin.user.organizationId,
        role: 'admin',
        platformRole: null,
        sessionId: 'test',
      },
      member.id,
    );
    expect(await rowsOf(gone.id)).toEqual([]);
    await usage.flush();
    expect(await rowsOf(gone.id)).toEqual([]);
    expect((await rowsOf(kept.id)).map((row) => [row.outcome, row.count])).toEqual([['revoked', 1]]);
  });

  it('deletes counts older than the retention on the flush timer', async () => {
    const key = await keyOf(admin.user, { scopes: [] });
    const usage = new ApiKeyUsage({
      database: t.deps.database,
      usageFlushIntervalMs: 20,
      usageRetentionDays: 30,
    });
    const now = Date.now();
    usage.record(key.id, OUTCOME.valid, now - 31 * 86_400_000);
    usage.record(key.id, OUTCOME.valid, now - 29 * 86_400_000);
    await usage.flush();
    expect(await rowsOf(key.id)).toHaveLength(2);
    usage.start();
    try {
      const deadline = performance.now() + 10_000;
      while ((await rowsOf(key.id)).length !== 1 && performance.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await usage.stop();
    }
    const left = await rowsOf(key.id);
    expect(left).toHaveLength(1);
    expect(left[0]!.minute.getTime()).toBeGreaterThan(now - 30 * 86_400_000);
  });
});
