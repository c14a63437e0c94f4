import { createHash, randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { PlatformDatabase } from '../../db/connect';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { createMetrics } from '../../server/base/metrics/metrics';
import type { Principal } from '../../server/base/principal';
import { SealedSecretError } from '../../server/base/sealed-secret';
import { appRouter } from '../../server/http/routers/index';
import { createCallerFactory } from '../../server/http/trpc';
import { ConfigSecretSealer } from '../../server/services/devops/config-secrets';
import { EnvironmentService } from '../../server/services/devops/environments';
import type { Role } from '../../shared/auth';
import { REDACTED } from '../../shared/devops-environments';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';
import { closeRouterDeps, routerContext, routerDeps } from '../helpers/router-context';

const KEK = new Uint8Array(randomBytes(32));
const OTHER_KEK = new Uint8Array(randomBytes(32));

let testDb: OpenedTestDatabase;
let database: PlatformDatabase;
let service: EnvironmentService;

beforeAll(async () => {
  // Room for the ten concurrent writers and the reads beside them.
  testDb = await openTestDatabase({ poolMax: 16 });
  database = testDb.database;
  const metrics = createMetrics({ build: readBuildInfo(), defaultMetrics: false });
  service = new EnvironmentService({ database, audit: new AuditLog(metrics), kek: KEK });
});

afterAll(async () => {
  await closeRouterDeps();
  await testDb?.close();
});

/**
 * A context of an in-process call by `principal` (the policy trusts the given principal): the
 * app's dependencies (maintenance off), with this file's environment service in place.
 */
function contextOf(principal: Principal) {
  const deps = routerDeps((deps) => ({ devops: { ...deps.devops, environments: service } }));
  return routerContext(principal, deps, 'environments-test');
}

/** The procedures as `principal` calls them, in process, through the app's router. */
function callerAs(principal: Principal) {
  return createCallerFactory(appRouter)(contextOf(principal)).devops.environments;
}

interface Member {
  principal: Principal;
  userId: string;
  email: string;
}

/** A fresh organization with a user of each role, and an API key of its admin. */
async function newOrganization() {
  const organization = await database.db
    .insertInto('organizations')
    .values({ name: `org-${randomBytes(3).toString('hex')}` })
    .returning('id')
    .executeTakeFirstOrThrow();
  const member = async (role: Role): Promise<Member> => {
    const email = `${role}-${randomBytes(4).toString('hex')}@example.com`;
    const row = await database.db
      .insertInto('users')
      .values({ organization_id: organization.id, email, password_hash: 'not-a-real-hash', role })
      .returning('id')
      .executeTakeFirstOrThrow();
    const principal: Principal = {
      kind: 'user',
      userId: row.id,
      organizationId: organization.id,
      role,
      platformRole: null,
      sessionId: 'environments-test',
    };
    return { principal, userId: row.id, email };
  };
  const admin = await member('admin');
  const key = await database.db
    .insertInto('api_keys')
    .values({
      organization_id: organization.id,
      owner_id: admin.userId,
      name: 'deploy bot',
      key_hash: createHash('sha256').update(randomBytes(32)).digest('hex'),
      prefix: 'bc_live_test',
      scopes: ['devops:read', 'devops:write'],
      rate_limits: '[]',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const adminKey: Principal = {
    kind: 'apiKey',
    keyId: key.id,
    userId: admin.userId,
    organizationId: organization.id,
    role: 'admin',
    platformRole: null,
    scopes: ['devops:read', 'devops:write'],
  };
  return {
    organizationId: organization.id,
    admin,
    adminKey: { principal: adminKey, keyId: key.id },
    operator: await member('operator'),
    viewer: await member('viewer'),
  };
}

/** The error a call fails with; fails the test if it succeeds. */
async function failureOf(call: Promise<unknown>): Promise<TRPCError> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  return error as TRPCError;
}

async function codeOf(call: Promise<unknown>): Promise<string> {
  return (await failureOf(call)).code;
}

/** The zod issues of a BAD_REQUEST, flattened as the error formatter sends them in data.validation. */
async function validationOf(call: Promise<unknown>) {
  const error = await failureOf(call);
  expect(error.code).toBe('BAD_REQUEST');
  expect(error.cause).toBeInstanceOf(z.ZodError);
  const flattened = z.flattenError(error.cause as z.ZodError);
  return { message: error.message, fieldErrors: flattened.fieldErrors as Record<string, string[]> };
}

async function revisionsOf(organizationId: string, name: string): Promise<number[]> {
  const rows = await database.db
    .selectFrom('config_revisions as r')
    .innerJoin('environments as e', 'e.id', 'r.environment_id')
    .select('r.revision')
    .where('e.organization_id', '=', organizationId)
    .where('e.name', '=', name)
    .orderBy('r.revision')
    .execute();
  return rows.map((row) => row.revision);
}

async function auditEvents(organizationId: string) {
  return database.db
    .selectFrom('audit_events')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .orderBy('id')
    .execute();
}

describe('environments', () => {
  it('gives every organization development, staging and production (protected), each at revision 1', async () => {
    const org = await newOrganization();
    const list = await callerAs(org.viewer.principal).list();
    expect(
      list.map(({ name, protected: isProtected, revision }) => ({ name, isProtected, revision })),
    ).toEqual([
      { name: 'development', isProtected: false, revision: 1 },
      { name: 'staging', isProtected: false, revision: 1 },
      { name: 'production', isProtected: true, revision: 1 },
    ]);
    const production = await callerAs(org.viewer.principal).get({ name: 'production' });
    expect(production.current).toMatchObject({ revision: 1, values: {}, secrets: {}, rolledBackFrom: null });

    // Instances starting together: the defaults are made once, whoever gets there first.
    const other = await newOrganization();
    const created = await Promise.all(
      Array.from({ length: 5 }, () => service.ensureDefaults(other.organizationId)),
    );
    expect(created.flat().sort()).toEqual(['development', 'production', 'staging']);
    const events = await auditEvents(other.organizationId);
    expect(events.filter((event) => event.type === 'environment_created')).toHaveLength(3);
  });

  it('creates an environment at revision 1, refusing a name taken or malformed', async () => {
    const org = await newOrganization();
    const admin = callerAs(org.admin.principal);
    const qa = await admin.create({ name: 'qa-eu', description: 'QA in Europe' });
    expect(qa).toMatchObject({ name: 'qa-eu', description: 'QA in Europe', protected: false });
    expect(qa.current.revision).toBe(1);
    expect(qa.current.author.userId).toBe(org.admin.userId);
    expect(await codeOf(admin.create({ name: 'qa-eu' }))).toBe('CONFLICT');
    expect(await codeOf(admin.create({ name: 'production' }))).toBe('CONFLICT');
    expect(await codeOf(admin.create({ name: 'Prod' }))).toBe('BAD_REQUEST');
    expect(await codeOf(admin.create({ name: 'a'.repeat(64) }))).toBe('BAD_REQUEST');
    expect((await admin.list()).map((environment) => environment.name)).toContain('qa-eu');
  });

  it('makes revision 2 from a change and answers its diff; a change that changes nothing makes none', async () => {
    const org = await newOrganization();
    const admin = callerAs(org.admin.principal);
    const change = await admin.setConfig({
      name: 'staging',
      values: { LOG_LEVEL: 'info', PORT: 8080, FEATURE_CHECKOUT: true },
      secrets: { DATABASE_PASSWORD: 'correct horse battery staple' },
      message: 'first configuration',
    });
    expect(change).toEqual({
      environment: 'staging',
      revision: 2,
      created: true,
      rolledBackFrom: null,
      diff: {
        values: {
          added: { FEATURE_CHECKOUT: true, LOG_LEVEL: 'info', PORT: 8080 },
          removed: {},
          changed: {},
        },
        secrets: { added: ['DATABASE_PASSWORD'], removed: [], changed: [] },
      },
    });

    const second = await admin.setConfig({ name: 'staging', values: { LOG_LEVEL: 'warn', PORT: 8080 } });
    expect(second.revision).toBe(3);
    expect(second.diff.values).toEqual({
      added: {},
      removed: { FEATURE_CHECKOUT: true },
      changed: { LOG_LEVEL: { from: 'info', to: 'warn' } },
    });
    // Secrets not named stay as they were.
    expect(second.diff.secrets).toEqual({ added: [], removed: [], changed: [] });

    const same = await admin.setConfig({ name: 'staging', values: { PORT: 8080, LOG_LEVEL: 'warn' } });
    expect(same).toMatchObject({ revision: 3, created: false });
    expect(await revisionsOf(org.organizationId, 'staging')).toEqual([1, 2, 3]);

    const current = await callerAs(org.viewer.principal).get({ name: 'staging' });
    expect(current.current).toMatchObject({
      revision: 3,
      values: { LOG_LEVEL: 'warn', PORT: 8080 },
      author: { userId: org.admin.userId, apiKeyId: null, email: org.admin.email },
    });
    expect(Object.keys(current.current.values)).toEqual(['LOG_LEVEL', 'PORT']);
  });

  it('stores secrets sealed, shows them redacted, and makes changes visible by fingerprint', async () => {
    const org = await newOrganization();
    const admin = callerAs(org.admin.principal);
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const token = `tok-${randomBytes(12).toString('hex')}`;
    await admin.setConfig({
      name: 'development',
      values: { REGION: 'eu-west-1' },
      secrets: { DATABASE_PASSWORD: password, STRIPE_TOKEN: token },
      message: 'secrets',
    });

    // At rest: no row of the revisions, nor of the audit log, holds either value.
    const rows = await sql<{ row: string }>`
      select row_to_json(r)::text as row from config_revisions r
      join environments e on e.id = r.environment_id where e.organization_id = ${org.organizationId}`.execute(
      database.db,
    );
    const audit = await sql<{ row: string }>`
      select row_to_json(a)::text as row from audit_events a where organization_id = ${org.organizationId}`.execute(
      database.db,
    );
    expect(rows.rows.length).toBeGreaterThan(0);
    for (const { row } of [...rows.rows, ...audit.rows]) {
      expect(row).not.toContain(password);
      expect(row).not.toContain(token);
    }

    const environment = await database.db
      .selectFrom('environments')
      .select('id')
      .where('organization_id', '=', org.organizationId)
      .where('name', '=', 'development')
      .executeTakeFirstOrThrow();
    const stored = await database.db
      .selectFrom('config_revisions')
      .select('secrets')
      .where('environment_id', '=', environment.id)
      .orderBy('revision', 'desc')
      .executeTakeFirstOrThrow();
    const sealed = stored.secrets.DATABASE_PASSWORD!;
    expect(sealed.sealed).toMatch(/^v1\./);
    // The right key opens it; another key-encryption key cannot, nor can it under another key name.
    expect(
      new ConfigSecretSealer(KEK).open({ environmentId: environment.id }, 'DATABASE_PASSWORD', sealed),
    ).toBe(password);
    expect(() =>
      new ConfigSecretSealer(OTHER_KEK).open({ environmentId: environment.id }, 'DATABASE_PASSWORD', sealed),
    ).toThrow(SealedSecretError);
    expect(() =>
      new ConfigSecretSealer(KEK).open({ environmentId: environment.id }, 'STRIPE_TOKEN', sealed),
    ).toThrow(SealedSecretError);
    const wrongKey = new EnvironmentService({
      database,
      audit: new AuditLog(createMetrics({ build: readBuildInfo(), defaultMetrics: false })),
      kek: OTHER_KEK,
    });
    await expect(wrongKey.resolve(org.admin.principal, 'development')).rejects.toThrow(SealedSecretError);
    // Only resolve (internal) opens them.
    expect(await service.resolve(org.admin.principal, 'development')).toEqual({
      environment: 'development',
      revision: 2,
      values: { REGION: 'eu-west-1' },
      secrets: { DATABASE_PASSWORD: password, STRIPE_TOKEN: token },
    });

    const shown = await callerAs(org.viewer.principal).get({ name: 'development' });
    expect(JSON.stringify(shown)).not.toContain(password);
    const before = shown.current.secrets;
    expect(before.DATABASE_PASSWORD).toEqual({
      value: REDACTED,
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(before.DATABASE_PASSWORD!.fingerprint).not.toBe(before.STRIPE_TOKEN!.fingerprint);

    // The same value again: nothing changed, no revision, the same fingerprint.
    const unchanged = await admin.setConfig({
      name: 'development',
      secrets: { DATABASE_PASSWORD: password },
    });
    expect(unchanged).toMatchObject({ revision: 2, created: false });

    const rotated = await admin.setConfig({
      name: 'development',
      secrets: { DATABASE_PASSWORD: `${password}-rotated`, STRIPE_TOKEN: null },
    });
    expect(rotated.diff.secrets).toEqual({
      added: [],
      removed: ['STRIPE_TOKEN'],
      changed: ['DATABASE_PASSWORD'],
    });
    expect(JSON.stringify(rotated)).not.toContain(password);
    const after = (await callerAs(org.viewer.principal).get({ name: 'development' })).current.secrets;
    expect(Object.keys(after)).toEqual(['DATABASE_PASSWORD']);
    expect(after.DATABASE_PASSWORD!.fingerprint).not.toBe(before.DATABASE_PASSWORD!.fingerprint);
  });

  it('keeps a history with authors, messages and diffs, page by page', async () => {
    const org = await newOrganization();
    const byUser = callerAs(org.admin.principal);
    const byKey = callerAs(org.adminKey.principal);
    await byUser.setConfig({ name: 'staging', values: { REPLICAS: 2 }, message: 'two replicas' });
    await byKey.setConfig({
      name: 'staging',
      values: { REPLICAS: 3 },
      secrets: { API_SECRET: 's3cr3t-value' },
      message: 'scale up',
    });
    await byUser.setConfig({ name: 'staging', secrets: { API_SECRET: 'another-s3cr3t' }, message: 'rotate' });

    const operator = callerAs(org.operator.principal);
    const first = await operator.history({ name: 'staging', limit: 2 });
    expect(first.items.map((entry) => entry.revision)).toEqual([4, 3]);
    expect(first.nextCursor).toBe('3');
    expect(first.items[0]).toMatchObject({
      message: 'rotate',
      author: { userId: org.admin.userId, apiKeyId: null, email: org.admin.email },
      diff: { values: { added: {}, removed: {}, changed: {} }, secrets: { changed: ['API_SECRET'] } },
    });
    expect(first.items[1]).toMatchObject({
      message: 'scale up',
      // A key acts for its owner: both are recorded.
      author: { userId: org.admin.userId, apiKeyId: org.adminKey.keyId, email: org.admin.email },
      diff: { values: { changed: { REPLICAS: { from: 2, to: 3 } } }, secrets: { added: ['API_SECRET'] } },
    });
    expect(JSON.stringify(first)).not.toContain('s3cr3t');

    const second = await operator.history({ name: 'staging', limit: 2, cursor: first.nextCursor! });
    expect(second.items.map((entry) => entry.revision)).toEqual([2, 1]);
    expect(second.nextCursor).toBeNull();
    expect(second.items[0]!.diff.values.added).toEqual({ REPLICAS: 2 });
    expect(second.items[1]).toMatchObject({ author: { userId: null, apiKeyId: null, email: null } });

    const diff = await operator.diff({ name: 'staging', from: 1, to: 4 });
    expect(diff.diff).toEqual({
      values: { added: { REPLICAS: 3 }, removed: {}, changed: {} },
      secrets: { added: ['API_SECRET'], removed: [], changed: [] },
    });
    expect(await codeOf(operator.diff({ name: 'staging', from: 1, to: 99 }))).toBe('NOT_FOUND');
  });

  it('rolls back to an older revision as a new revision with its values and secrets', async () => {
    const org = await newOrganization();
    const admin = callerAs(org.admin.principal);
    await admin.setConfig({
      name: 'staging',
      values: { LOG_LEVEL: 'info', WORKERS: 4 },
      secrets: { DATABASE_PASSWORD: 'good-password' },
    });
    const good = await callerAs(org.viewer.principal).get({ name: 'staging' });
    await admin.setConfig({
      name: 'staging',
      values: { LOG_LEVEL: 'info', WORKERS: 64, CACHE: 'off' },
      secrets: { DATABASE_PASSWORD: 'bad-password', EXTRA_SECRET: 'x' },
      message: 'a bad idea',
    });

    const rollback = await admin.rollback({ name: 'staging', toRevision: 2, expectedRevision: 3 });
    expect(rollback).toMatchObject({ revision: 4, created: true, rolledBackFrom: 2 });
    expect(rollback.diff).toEqual({
      values: { added: {}, removed: { CACHE: 'off' }, changed: { WORKERS: { from: 64, to: 4 } } },
      secrets: { added: [], removed: ['EXTRA_SECRET'], changed: ['DATABASE_PASSWORD'] },
    });
    const restored = await callerAs(org.viewer.principal).get({ name: 'staging' });
    expect(restored.current).toMatchObject({
      revision: 4,
      rolledBackFrom: 2,
      message: 'rollback to revision 2',
      values: good.current.values,
      secrets: good.current.secrets,
    });
    expect((await callerAs(org.operator.principal).diff({ name: 'staging', from: 2, to: 4 })).diff).toEqual({
      values: { added: {}, removed: {}, changed: {} },
      secrets: { added: [], removed: [], changed: [] },
    });
    expect((await service.resolve(org.admin.principal, 'staging')).secrets).toEqual({
      DATABASE_PASSWORD: 'good-password',
    });
    // The old revisions stay: a rollback adds, never rewrites.
    expect(await revisionsOf(org.organizationId, 'staging')).toEqual([1, 2, 3, 4]);

    expect(await codeOf(admin.rollback({ name: 'staging', toRevision: 9 }))).toBe('NOT_FOUND');
    expect(await codeOf(admin.rollback({ name: 'staging', toRevision: 1, expectedRevision: 3 }))).toBe(
      'CONFLICT',
    );
  });

  it('compares two environments: keys on one side only, different values, secrets by fingerprint', async () => {
    const org = await newOrganization();
    const admin = callerAs(org.admin.principal);
    await admin.setConfig({
      name: 'staging',
      values: { LOG_LEVEL: 'debug', PORT: 8080, REPLICAS: 2, STAGING_ONLY: true },
      secrets: { DATABASE_PASSWORD: 'staging-pw', SHARED_TOKEN: 'same', STAGING_SECRET: 'only-here' },
    });
    const production = await callerAs(org.viewer.principal).get({ name: 'production' });
    await admin.setConfig({
      name: 'production',
      values: { LOG_LEVEL: 'warn', PORT: 8080, REPLICAS: '2' },
      secrets: { DATABASE_PASSWORD: 'production-pw', SHARED_TOKEN: 'same', PRODUCTION_SECRET: 'p' },
      expectedRevision: production.current.revision,
    });
    const comparison = await callerAs(org.operator.principal).compare({ a: 'staging', b: 'production' });
    expect(comparison).toEqual({
      a: { name: 'staging', revision: 2 },
      b: { name: 'production', revision: 2 },
      values: {
        onlyInA: { STAGING_ONLY: true },
        onlyInB: {},
        // 2 and '2' are different values: configuration is typed.
        different: { LOG_LEVEL: { a: 'debug', b: 'warn' }, REPLICAS: { a: 2, b: '2' } },
        same: ['PORT'],
      },
      secrets: {
        onlyInA: ['STAGING_SECRET'],
        onlyInB: ['PRODUCTION_SECRET'],
        different: ['DATABASE_PASSWORD'],
        same: ['SHARED_TOKEN'],
      },
    });
    expect(JSON.stringify(comparison)).not.toContain('staging-pw');
    expect(await codeOf(callerAs(org.operator.principal).compare({ a: 'staging', b: 'nowhere' }))).toBe(
      'NOT_FOUND',
    );
  });

  it('lets exactly one of ten concurrent changes against the same revision win; without one, all land in turn', async () => {
    const org = await newOrganization();
    const admin = callerAs(org.admin.principal);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        admin.setConfig({ name: 'staging', values: { WRITER: i }, expectedRevision: 1 }),
      ),
    );
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const lost = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(won[0]!.value.revision).toBe(2);
    expect(lost.map((outcome) => (outcome.reason as TRPCError).code)).toEqual(Array(9).fill('CONFLICT'));
    expect(await revisionsOf(org.organizationId, 'staging')).toEqual([1, 2]);
    const winner = (won[0]!.value.diff.values.added as Record<string, number>).WRITER;
    expect((await admin.get({ name: 'staging' })).current.values).toEqual({ WRITER: winner });

    const blind = await Promise.all(
      Array.from({ length: 10 }, (_, i) => admin.setConfig({ name: 'development', values: { WRITER: i } })),
    );
    expect(blind.map((change) => change.revision).sort((a, b) => a - b)).toEqual([
      2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    expect(await revisionsOf(org.organizationId, 'development')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('refuses invalid configuration with BAD_REQUEST and its issues, writing nothing', async () => {
    const org = await newOrganization();
    const admin = callerAs(org.admin.principal);

    const badKey = await validationOf(admin.setConfig({ name: 'staging', values: { log_level: 'info' } }));
    expect(badKey.fieldErrors.values).toEqual([
      '"log_level": a key must be 1-64 characters: an upper-case letter, then A-Z, 0-9 and _',
    ]);
    const tooMany = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`KEY_${i}`, i]));
    expect((await validationOf(admin.setConfig({ name: 'staging', values: tooMany }))).message).toContain(
      'at most 200 keys',
    );
    const tooLong = await validationOf(
      admin.setConfig({ name: 'staging', values: { BANNER: 'é'.repeat(2049) } }),
    );
    expect(tooLong.message).toContain('4096 bytes');
    expect(
      await codeOf(admin.setConfig({ name: 'staging', values: { NESTED: { a: 1 } as unknown as string } })),
    ).toBe('BAD_REQUEST');
    expect(await codeOf(admin.setConfig({ name: 'staging', values: { RATE: Number.NaN } }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(admin.setConfig({ name: 'staging', secrets: { TOKEN: 'a\u0000b' } }))).toBe(
      'BAD_REQUEST',
    );

    // Rules over the whole configuration, checked by the service against what is stored.
    await admin.setConfig({ name: 'staging', secrets: { SMTP_PASSWORD: 'pw' } });
    const both = await validationOf(admin.setConfig({ name: 'staging', values: { SMTP_PASSWORD: 'plain' } }));
    expect(both.message).toContain('SMTP_PASSWORD');
    expect(both.fieldErrors).toHaveProperty('values');
    const credential = await validationOf(
      admin.setConfig({ name: 'staging', values: { GITHUB_TOKEN: 'ghp_x' } }),
    );
    expect(credential.message).toContain('GITHUB_TOKEN: names a credential, so it must be given as a secret');

    // Production's own rules: no verbose logging, no debug switch, no blind writes.
    const production = (await admin.get({ name: 'production' })).current.revision;
    const verbose = await validationOf(
      admin.setConfig({ name: 'production', values: { LOG_LEVEL: 'debug' }, expectedRevision: production }),
    );
    expect(verbose.message).toContain('LOG_LEVEL: production is protected');
    expect(verbose.fieldErrors.values).toHaveLength(1);
    expect(
      await codeOf(
        admin.setConfig({ name: 'production', values: { DEBUG: 'on' }, expectedRevision: production }),
      ),
    ).toBe('BAD_REQUEST');
    const blind = await failureOf(admin.setConfig({ name: 'production', values: { LOG_LEVEL: 'info' } }));
    expect(blind.code).toBe('BAD_REQUEST');
    expect(blind.message).toContain('expectedRevision');
    expect(await codeOf(admin.rollback({ name: 'production', toRevision: 1 }))).toBe('BAD_REQUEST');
    // Over the wire, through the error formatter: a readable message and the issues flattened.
    const response = await fetchRequestHandler({
      endpoint: '/trpc',
      router: appRouter,
      createContext: () => contextOf(org.admin.principal),
      req: new Request('http://platform.test/trpc/devops.environments.setConfig', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'production',
          values: { LOG_LEVEL: 'trace' },
          expectedRevision: production,
        }),
      }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as {
      error: {
        message: string;
        data: { code: string; validation: { fieldErrors: Record<string, string[]> } };
      };
    };
    expect(body.error.message).toBe(
      'invalid input: values: LOG_LEVEL: production is protected, so it must not be debug or trace',
    );
    expect(body.error.data.code).toBe('BAD_REQUEST');
    expect(body.error.data.validation.fieldErrors).toEqual({
      values: ['LOG_LEVEL: production is protected, so it must not be debug or trace'],
    });

    // Staging may log at debug level.
    expect((await admin.setConfig({ name: 'staging', values: { LOG_LEVEL: 'debug' } })).revision).toBe(3);

    expect(await revisionsOf(org.organizationId, 'production')).toEqual([1]);
    expect(await revisionsOf(org.organizationId, 'staging')).toEqual([1, 2, 3]);
  });

  it("answers NOT_FOUND for another organization's environment, and keeps each organization's own apart", async () => {
    const mine = await newOrganization();
    const theirs = await newOrganization();
    await callerAs(theirs.admin.principal).create({ name: 'secret-project' });
    await callerAs(theirs.admin.principal).setConfig({ name: 'staging', values: { OWNER: 'theirs' } });

    const admin = callerAs(mine.admin.principal);
    expect(await codeOf(admin.get({ name: 'secret-project' }))).toBe('NOT_FOUND');
    expect(await codeOf(admin.setConfig({ name: 'secret-project', values: { X: 1 } }))).toBe('NOT_FOUND');
    expect(await codeOf(admin.history({ name: 'secret-project' }))).toBe('NOT_FOUND');
    expect(await codeOf(admin.diff({ name: 'secret-project', from: 1, to: 1 }))).toBe('NOT_FOUND');
    expect(await codeOf(admin.rollback({ name: 'secret-project', toRevision: 1 }))).toBe('NOT_FOUND');
    expect(await codeOf(admin.compare({ a: 'staging', b: 'secret-project' }))).toBe('NOT_FOUND');
    await expect(service.resolve(mine.admin.principal, 'secret-project')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // Same name, different environment.
    expect((await admin.get({ name: 'staging' })).current).toMatchObject({ revision: 1, values: {} });
    expect((await admin.list()).map((environment) => environment.name)).not.toContain('secret-project');
    expect(await revisionsOf(theirs.organizationId, 'secret-project')).toEqual([1]);
  });

  it('records every change in the audit log, by key name, never by value', async () => {
    const org = await newOrganization();
    await service.ensureDefaults(org.organizationId);
    const admin = callerAs(org.admin.principal);
    await admin.create({ name: 'preview', protected: true });
    await admin.setConfig({
      name: 'preview',
      values: { COLOR: 'blue' },
      secrets: { DB_PASSWORD: 'audit-pw' },
      expectedRevision: 1,
    });
    await callerAs(org.adminKey.principal).setConfig({
      name: 'preview',
      values: { COLOR: 'green' },
      expectedRevision: 2,
    });
    await admin.rollback({ name: 'preview', toRevision: 2, expectedRevision: 3, message: 'revert' });
    // Refused changes leave no event.
    await admin
      .setConfig({ name: 'preview', values: { COLOR: 'red' }, expectedRevision: 1 })
      .catch(() => null);

    const events = await auditEvents(org.organizationId);
    expect(events.map((event) => event.type)).toEqual([
      'environment_created',
      'environment_created',
      'environment_created',
      'environment_created',
      'config_changed',
      'config_changed',
      'config_rolled_back',
    ]);
    const preview = await database.db
      .selectFrom('environments')
      .select('id')
      .where('organization_id', '=', org.organizationId)
      .where('name', '=', 'preview')
      .executeTakeFirstOrThrow();
    const [created, changed, changedByKey, rolledBack] = events.slice(3);
    expect(created).toMatchObject({
      actor_user_id: org.admin.userId,
      target_type: 'environment',
      target_id: preview.id,
      details: { environment: 'preview', protected: true },
    });
    expect(changed).toMatchObject({
      actor_user_id: org.admin.userId,
      actor_api_key_id: null,
      result: 'success',
      details: { environment: 'preview', revision: 2, valuesAdded: ['COLOR'], secretsAdded: ['DB_PASSWORD'] },
    });
    expect(changedByKey).toMatchObject({
      actor_api_key_id: org.adminKey.keyId,
      details: { revision: 3, valuesChanged: ['COLOR'] },
    });
    expect(rolledBack).toMatchObject({
      details: { revision: 4, previousRevision: 3, rolledBackFrom: 2, valuesChanged: ['COLOR'] },
    });
    const text = JSON.stringify(events);
    expect(text).not.toContain('audit-pw');
    expect(text).not.toContain('green');
  });

  it('lets viewers read, operators read history, and only admins change', async () => {
    const org = await newOrganization();
    const viewer = callerAs(org.viewer.principal);
    const operator = callerAs(org.operator.principal);
    expect((await viewer.list()).length).toBe(3);
    expect((await viewer.get({ name: 'staging' })).name).toBe('staging');
    for (const caller of [viewer, operator]) {
      expect(await codeOf(caller.create({ name: 'nope' }))).toBe('FORBIDDEN');
      expect(await codeOf(caller.setConfig({ name: 'staging', values: { A: 1 } }))).toBe('FORBIDDEN');
      expect(await codeOf(caller.rollback({ name: 'staging', toRevision: 1 }))).toBe('FORBIDDEN');
    }
    expect(await codeOf(viewer.history({ name: 'staging' }))).toBe('FORBIDDEN');
    expect(await codeOf(viewer.diff({ name: 'staging', from: 1, to: 1 }))).toBe('FORBIDDEN');
    expect(await codeOf(viewer.compare({ a: 'staging', b: 'development' }))).toBe('FORBIDDEN');
    expect((await operator.history({ name: 'staging' })).items).toHaveLength(1);
    expect(await revisionsOf(org.organizationId, 'staging')).toEqual([1]);
    expect((await auditEvents(org.organizationId)).map((event) => event.type)).not.toContain(
      'config_changed',
    );
  });
});
