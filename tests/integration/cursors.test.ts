import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { deploymentCreateInput } from '../../shared/devops-deployments';
import { startTestApp, type TestApp } from '../helpers/app';
import { createApiKey, createOrganization, createUser, login, type TestUser } from '../helpers/auth';
import { callProcedure } from '../helpers/http';
import { PROCEDURES, procedureAt } from '../helpers/router-walk';

/**
 * Every list procedure's cursor, over HTTP as a client sends it: a malformed one is a 400 with a
 * message (never a 500, never a stack or SQL), and one holding another organization's row (an id,
 * an email, a time) pages through the caller's own rows only, as an unknown one would.
 */

type Headers = Record<string, string>;

interface CursorCase {
  path: string;
  /** The input field holding the cursor. */
  field: 'cursor';
  /** What a well-formed cursor is: an opaque base64url string, a UUID, or digits in a string. */
  kind: 'opaque' | 'uuid' | 'digits';
  /** The rest of the input. */
  input?: Record<string, unknown>;
  /** Someone allowed to list. */
  caller: () => Headers;
  /** Malformed for this procedure only. */
  extra?: Record<string, unknown>;
}

let t: TestApp;
/** Organization A: the test app's first organization; its admin is also the platform's. */
let adminA: Headers;
/** Organization B: a tenant. */
let tenant: TestUser;
let adminB: Headers;

const CASES: CursorCase[] = [
  { path: 'auth.users.list', field: 'cursor', kind: 'opaque', caller: () => adminB },
  { path: 'auth.apiKeys.list', field: 'cursor', kind: 'opaque', caller: () => adminB },
  { path: 'auth.audit.list', field: 'cursor', kind: 'digits', caller: () => adminB },
  { path: 'auth.audit.platform', field: 'cursor', kind: 'digits', caller: () => adminA },
  { path: 'auth.organizations.list', field: 'cursor', kind: 'opaque', caller: () => adminA },
  { path: 'auth.invitations.list', field: 'cursor', kind: 'opaque', caller: () => adminB },
  {
    path: 'system.annotations.list',
    field: 'cursor',
    kind: 'digits',
    caller: () => adminB,
    // Annotation ids are int4 in practice; a cursor beyond a safe integer is refused outright.
    extra: { zero: '0', 'beyond 2^53': '99999999999999999' },
  },
  {
    path: 'devops.environments.history',
    field: 'cursor',
    kind: 'digits',
    input: { name: 'web' },
    caller: () => adminB,
    // Revisions are int4.
    extra: { zero: '0', 'beyond int4': '2147483648' },
  },
  { path: 'devops.deployments.list', field: 'cursor', kind: 'uuid', caller: () => adminB },
  { path: 'devops.backups.list', field: 'cursor', kind: 'uuid', caller: () => adminA },
  { path: 'performance.alerts.history', field: 'cursor', kind: 'digits', caller: () => adminA },
];

/** Cases whose procedure is in the router (some belong to work that may not be merged yet). */
const PRESENT = CASES.filter((c) => PROCEDURES.some((p) => p.path === c.path));

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const A_UUID = '00000000-0000-4000-8000-000000000000';

/** Strings no string cursor of any kind accepts. */
const MALFORMED_STRINGS: Record<string, string> = {
  empty: '',
  'garbage base64': '!!!not*base64%%',
  'base64 padding only': '====',
  'base64 of garbage JSON': b64('{"a":1}'),
  'base64 of a JSON array of numbers': b64('[1,2]'),
  'base64 of JSON null': b64('null'),
  'base64 of a JSON string': b64('"x"'),
  'base64 of an impossible time': b64(`["2026-99-99T99:99:99.000000Z","${A_UUID}"]`),
  'base64 of February 30th': b64(`["2026-02-30T12:00:00.000000Z","${A_UUID}"]`),
  'base64 of year zero': b64(`["0000-01-01T00:00:00.000000Z","${A_UUID}"]`),
  'base64 of a time and a non-UUID': b64('["2026-01-01T00:00:00.000000Z","1; drop table users"]'),
  'base64 of NUL': b64('a\u0000@b'),
  letters: 'abc',
  negative: '-1',
  exponent: '1e99',
  'thirty digits': '9'.repeat(30),
  'a number beyond bigint': '99999999999999999999',
  NUL: '\u0000',
  'NUL inside': '12\u00003',
  'ten kilobytes': 'x'.repeat(10_240),
  'ten kilobytes of base64': b64('y'.repeat(7_680)),
  'a UUID with a tail': `${A_UUID}'--`,
};

/** Values of the wrong JSON type for a string cursor. */
const NOT_STRINGS: Record<string, unknown> = {
  number: 123,
  negative: -1,
  boolean: true,
  object: { id: 1 },
  array: ['x'],
  null: null,
};

function corpus(c: CursorCase): Record<string, unknown> {
  return {
    ...MALFORMED_STRINGS,
    ...NOT_STRINGS,
    ...c.extra,
  };
}

/** Calls a procedure as a client does: queries by GET with the input in the URL. */
const call = (path: string, input: unknown, headers: Headers) =>
  callProcedure(t.app, path, procedureAt(path).type, input, headers);

async function ok(path: string, input: unknown, headers: Headers) {
  const answer = await call(path, input, headers);
  expect(answer.status, `${path}: ${answer.text}`).toBe(200);
  return answer.data;
}

beforeAll(async () => {
  t = await startTestApp();
  adminA = t.admin;
  tenant = await createOrganization(t);
  adminB = (await login(t, tenant)).headers;

  // Rows in both organizations, several of each so that pages have a next one.
  for (const [organization, headers, owner] of [
    ['A', adminA, undefined],
    ['B', adminB, tenant],
  ] as const) {
    for (const role of ['viewer', 'operator'] as const) {
      const member = await createUser(t, role, owner);
      await createApiKey(t, member);
    }
    for (let i = 1; i <= 3; i++) {
      await ok('system.annotations.create', { text: `${organization} note ${i}`, tags: [] }, headers);
    }
    await ok('devops.environments.create', { name: 'web' }, headers);
    for (let i = 1; i <= 3; i++) {
      await ok(
        'devops.environments.setConfig',
        { name: 'web', values: { LEVEL: `${organization}${i}` }, message: `${organization} change ${i}` },
        headers,
      );
    }
  }
  const organizations = {
    A: { organizationId: t.adminUser.organizationId, userId: t.adminUser.id },
    B: { organizationId: tenant.organizationId, userId: tenant.id },
  };
  for (const [name, actor] of Object.entries(organizations)) {
    for (const service of ['one', 'two', 'three']) {
      await t.deps.devops.deployments.create(
        actor,
        deploymentCreateInput.parse({
          service: `${name.toLowerCase()}-${service}`,
          environment: 'staging',
          version: 'v2',
          stableVersion: 'v1',
          spec: { strategy: 'canary', steps: [{ pause: { durationSeconds: 3600 } }] },
          provider: {
            kind: 'webhook',
            config: { url: 'https://hooks.example.com/x', secret: 'a-secret-0123456789abcd' },
          },
        }),
      );
    }
  }
}, 120_000);

afterAll(async () => {
  await t?.close();
});

describe('the router walk', () => {
  it('covers every procedure that takes a cursor', () => {
    const taking = PROCEDURES.filter((procedure) => {
      const keys = inputKeys(procedure.input);
      return keys.includes('cursor') || keys.includes('before');
    })
      .map((procedure) => procedure.path)
      .sort();
    expect(taking, 'add these procedures to CASES').toEqual(PRESENT.map((c) => c.path).sort());
  });
});

describe('malformed cursors', () => {
  it.each(PRESENT.map((c) => [c.path, c] as const))(
    '%s answers 400 to each, with a message and no stack',
    async (_path, c) => {
      // A well-formed cursor nobody issued is a page (perhaps empty), not an error.
      const wellFormed = { opaque: undefined, uuid: randomUUID(), digits: '1' }[c.kind];
      if (wellFormed !== undefined) await ok(c.path, { ...c.input, [c.field]: wellFormed }, c.caller());

      const answers: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(corpus(c))) {
        const answer = await call(c.path, { ...c.input, [c.field]: value }, c.caller());
        answers[name] = {
          status: answer.status,
          code: answer.code,
          message: typeof answer.message === 'string' && answer.message.length > 0,
          leak: /stack|\n\s+at |node_modules|postgres|\bselect\b|syntax error/i.test(answer.text),
        };
      }
      const expected = Object.fromEntries(
        Object.keys(answers).map((name) => [
          name,
          { status: 400, code: 'BAD_REQUEST', message: true, leak: false },
        ]),
      );
      expect(answers).toEqual(expected);
    },
    60_000,
  );

  it('names the cursor in the message', async () => {
    const users = await call('auth.users.list', { cursor: b64('{"a":1}') }, adminB);
    expect(users.message).toBe('the cursor is not one this service issued');
    const keys = await call('auth.apiKeys.list', { cursor: 'a b' }, adminB);
    expect(keys.message).toMatch(/cursor.*must be the nextCursor of a previous page/);
  });
});

describe('well-formed cursors', () => {
  it('page past a user whose email has 254 characters (a cursor longer than 300)', async () => {
    const email = `${'l'.repeat(64)}@${'d'.repeat(184)}.test`;
    expect(email).toHaveLength(254);
    await t.deps.auth.users.create(
      {
        kind: 'user',
        userId: tenant.id,
        organizationId: tenant.organizationId,
        role: 'admin',
        platformRole: null,
        sessionId: 'test',
      },
      { email, password: 'a-long-enough-password', role: 'viewer' },
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await ok('auth.users.list', { limit: 1, cursor }, adminB);
      seen.push(...page.items.map((u: { email: string }) => u.email));
      cursor = page.nextCursor ?? undefined;
      if (seen.at(-1) === email) expect(cursor?.length).toBeGreaterThan(300);
    } while (cursor);
    const all = await t.deps.database.db
      .selectFrom('users')
      .select('email')
      .where('organization_id', '=', tenant.organizationId)
      .orderBy('email')
      .execute();
    expect(seen).toEqual(all.map((u) => u.email));
  });
});

describe("another organization's cursor", () => {
  it("auth.users.list: a page after A's email lists B's users only", async () => {
    const pageA = await ok('auth.users.list', { limit: 1 }, adminA);
    expect(pageA.nextCursor).toEqual(expect.any(String));
    const usersB = await t.deps.database.db
      .selectFrom('users')
      .select('id')
      .where('organization_id', '=', tenant.organizationId)
      .execute();
    const page = await ok('auth.users.list', { limit: 100, cursor: pageA.nextCursor }, adminB);
    for (const user of page.items) expect(usersB.map((u) => u.id)).toContain(user.id);
  });

  it("auth.apiKeys.list: a page after A's key lists B's keys only", async () => {
    const pageA = await ok('auth.apiKeys.list', { limit: 1 }, adminA);
    expect(pageA.nextCursor).toEqual(expect.any(String));
    const keysB = await t.deps.database.db
      .selectFrom('api_keys')
      .select('id')
      .where('organization_id', '=', tenant.organizationId)
      .execute();
    const page = await ok('auth.apiKeys.list', { limit: 100, cursor: pageA.nextCursor }, adminB);
    for (const key of page.items) expect(keysB.map((k) => k.id)).toContain(key.id);
    // B's first page holds keys of B, so the check above is not vacuous.
    expect((await ok('auth.apiKeys.list', { limit: 100 }, adminB)).items.length).toBeGreaterThan(0);
  });

  it("auth.audit.list: before A's newest event lists B's events only", async () => {
    const newestA = await t.deps.database.db
      .selectFrom('audit_events')
      .select('id')
      .where('organization_id', '=', t.adminUser.organizationId)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    const cursor = String(Number(newestA.id) + 1);
    const events = (await ok('auth.audit.list', { limit: 100, cursor }, adminB)).items;
    expect(events.length).toBeGreaterThan(0);
    const eventsB = await t.deps.database.db
      .selectFrom('audit_events')
      .select('id')
      .where('organization_id', '=', tenant.organizationId)
      .where('scope', '=', 'organization')
      .execute();
    const idsB = new Set(eventsB.map((e) => String(e.id)));
    for (const event of events) expect(idsB.has(event.id), event.type).toBe(true);
  });

  it("system.annotations.list: before an annotation of A lists B's only", async () => {
    // Newer than every note of B: every one of them is before it.
    const newest = await ok('system.annotations.create', { text: 'A note 4', tags: [] }, adminA);
    const cursor = String(newest.id);
    const notes = (await ok('system.annotations.list', { limit: 100, cursor }, adminB)).items;
    expect(notes.map((n: { text: string }) => n.text).sort()).toEqual(['B note 1', 'B note 2', 'B note 3']);
  });

  it("devops.environments.history: A's revision cursor pages through B's environment of that name", async () => {
    const pageA = await ok('devops.environments.history', { name: 'web', limit: 1 }, adminA);
    expect(pageA.nextCursor).toEqual(expect.any(String));
    const page = await ok(
      'devops.environments.history',
      { name: 'web', limit: 100, cursor: pageA.nextCursor },
      adminB,
    );
    expect(page.items.length).toBeGreaterThan(0);
    for (const entry of page.items) expect(entry.message).not.toMatch(/^A /);
  });

  it("devops.deployments.list: A's deployment id answers as an unknown id does", async () => {
    const pageA = await ok('devops.deployments.list', { limit: 1 }, adminA);
    expect(pageA.nextCursor).toEqual(expect.any(String));
    const foreign = await ok('devops.deployments.list', { limit: 100, cursor: pageA.nextCursor }, adminB);
    const unknown = await ok('devops.deployments.list', { limit: 100, cursor: randomUUID() }, adminB);
    expect(foreign).toEqual(unknown);
    // While B's own cursor pages on through B's deployments.
    const pageB = await ok('devops.deployments.list', { limit: 1 }, adminB);
    const rest = await ok('devops.deployments.list', { limit: 100, cursor: pageB.nextCursor }, adminB);
    expect(rest.items.map((d: { service: string }) => d.service).sort()).toEqual(
      ['b-one', 'b-three', 'b-two'].filter((s) => s !== pageB.items[0].service).sort(),
    );
  });
});

/** The keys of a procedure's object input, through defaults, optionals and pipes. */
function inputKeys(schema: z.ZodType | undefined): string[] {
  let current: unknown = schema;
  for (let depth = 0; depth < 10 && current; depth++) {
    const candidate = current as { shape?: Record<string, unknown>; def?: Record<string, unknown> };
    if (candidate.shape) return Object.keys(candidate.shape);
    current = candidate.def?.innerType ?? candidate.def?.in;
  }
  return [];
}
