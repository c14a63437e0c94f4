import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareQuery, statementNameOf } from '../../db/compiled-query';
import type { PlatformDatabase } from '../../db/connect';
import { findApiKeyByHash, findApiKeyInOrganization, insertApiKey } from '../../db/repositories/api-keys';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';

let testDb: OpenedTestDatabase;
let organizationId: string;
let otherOrganizationId: string;
const keys: { id: string; hash: string }[] = [];

/** The same read as `findApiKeyInOrganization`, through Kysely's builder on every call. */
function uncompiled(database: PlatformDatabase, id: string, organization: string) {
  return database.db
    .selectFrom('api_keys')
    .selectAll()
    .where('id', '=', id)
    .where('organization_id', '=', organization)
    .executeTakeFirst();
}

beforeAll(async () => {
  testDb = await openTestDatabase();
  const { database } = testDb;
  const [first, second] = await database.db
    .insertInto('organizations')
    .values([{ name: 'first' }, { name: 'second' }])
    .returning('id')
    .execute();
  organizationId = first!.id;
  otherOrganizationId = second!.id;
  const owner = await database.db
    .insertInto('users')
    .values({
      organization_id: organizationId,
      email: 'owner@compiled.test',
      password_hash: 'not a real hash',
      role: 'admin',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  for (let i = 0; i < 3; i++) {
    const hash = `hash-${i}-${randomUUID()}`;
    const row = await insertApiKey(database.db, {
      organization_id: organizationId,
      owner_id: owner.id,
      name: `key ${i}`,
      key_hash: hash,
      prefix: `bc_test_${i}`,
      scopes: ['auth:read'],
      expires_at: null,
      remaining: i === 0 ? null : 10 * i,
      rate_limits: [{ name: 'default', limit: 10, periodMs: 1_000 }],
      enabled: true,
    });
    keys.push({ id: row.id, hash });
  }
});

afterAll(async () => {
  await testDb?.close();
});

describe('prepared (compiled-once) queries', () => {
  it('answer exactly what the same query built on every call answers', async () => {
    const database = testDb.open();
    const cases: [string, string][] = [
      ...keys.map((key): [string, string] => [key.id, organizationId]),
      // Another organization's id behaves like an id that does not exist.
      [keys[0]!.id, otherOrganizationId],
      [randomUUID(), organizationId],
    ];
    for (const [id, organization] of cases) {
      const expected = await uncompiled(database, id, organization);
      expect(await findApiKeyInOrganization(database.db, id, organization)).toEqual(expected);
    }
    expect(await findApiKeyInOrganization(database.db, randomUUID(), organizationId)).toBeUndefined();
    const byHash = await findApiKeyByHash(database.db, keys[1]!.hash);
    expect(byHash).toMatchObject({ id: keys[1]!.id, owner_role: 'admin', organization_suspended_at: null });
  });

  it('compiles a shape once, however many values it runs with', async () => {
    const database = testDb.open();
    const query = prepareQuery(2, (db, id: string, organization: string) =>
      db.selectFrom('api_keys').select('id').where('id', '=', id).where('organization_id', '=', organization),
    );
    for (const key of keys) {
      expect(await query.executeTakeFirst(database.db, key.id, organizationId)).toEqual({ id: key.id });
      expect(await query.executeTakeFirst(database.db, key.id, otherOrganizationId)).toBeUndefined();
    }
    expect(query.compilations).toBe(1);
  });

  it('never puts a value into the SQL text, so a hostile value is only a value', async () => {
    const database = testDb.open();
    const query = prepareQuery(1, (db, name: string) =>
      db.selectFrom('api_keys').select('id').where('name', '=', name).where('enabled', '=', true),
    );
    const hostile = `' or 1=1 --`;
    expect(await query.execute(database.db, hostile)).toEqual([]);
    expect(await query.execute(database.db, 'key 2')).toEqual([{ id: keys[2]!.id }]);
    const compiled = query.compile(database.db);
    expect(compiled.sql).toBe('select "id" from "api_keys" where "name" = $1 and "enabled" = $2');
    expect(compiled.sql).not.toContain('key 2');
    // A constant of the shape stays a parameter of its own, bound on every run.
    expect(compiled.parameters).toHaveLength(2);
  });

  it('refuses a builder that splices a value into the text or keeps it from the compiler', async () => {
    const database = testDb.open();
    // sql.lit refuses anything but a plain value itself; sql.raw takes any text it is given.
    const literal = prepareQuery(1, (db, name: string) =>
      db
        .selectFrom('api_keys')
        .select('id')
        .where(sql<boolean>`name = ${sql.lit(name)}`),
    );
    await expect(literal.execute(database.db, 'x')).rejects.toThrow(/invalid immediate value/);
    const spliced = prepareQuery(1, (db, name: string) =>
      db
        .selectFrom('api_keys')
        .select('id')
        .where(sql<boolean>`name = '${sql.raw(String(name))}'`),
    );
    await expect(spliced.execute(database.db, 'x')).rejects.toThrow(/spliced one of its values/);
    const dropped = prepareQuery(2, (db, id: string, _unused: string) =>
      db.selectFrom('api_keys').select('id').where('id', '=', id),
    );
    await expect(dropped.execute(database.db, keys[0]!.id, 'y')).rejects.toThrow(
      /never reached the compiler/,
    );
  });

  it('runs as a named statement, planned once on each connection', async () => {
    const database = testDb.open({ poolMax: 1 });
    await findApiKeyInOrganization(database.db, keys[0]!.id, organizationId);
    await findApiKeyInOrganization(database.db, keys[1]!.id, organizationId);
    const name = statementNameOf(
      'select * from "api_keys" where "id" = $1 and "organization_id" = $2',
    ) as string;
    expect(name).toMatch(/^bc_[0-9a-f]{24}$/);
    // The pool's one connection: the one that ran the reads.
    const { rows } = await sql<{ name: string; generic_plans: string; custom_plans: string }>`
      select name, generic_plans, custom_plans from pg_prepared_statements`.execute(database.db);
    expect(rows.find((row) => row.name === name)).toMatchObject({ name });
    const unnamed = testDb.open({ poolMax: 1, namedStatements: false });
    await findApiKeyInOrganization(unnamed.db, keys[0]!.id, organizationId);
    const none = await sql<{ name: string }>`select name from pg_prepared_statements`.execute(unnamed.db);
    expect(none.rows).toEqual([]);
  });

  it('tells the query monitor of every run, with its rows, inside a transaction or not', async () => {
    const events: { sql: string; rows?: number; failed: boolean }[] = [];
    const database = testDb.open({
      onQuery: (event) =>
        events.push({ sql: event.sql, rows: event.rows, failed: event.error !== undefined }),
    });
    const text = 'select * from "api_keys" where "id" = $1 and "organization_id" = $2';
    await findApiKeyInOrganization(database.db, keys[0]!.id, organizationId);
    await findApiKeyInOrganization(database.db, randomUUID(), organizationId);
    await database.transaction((trx) => findApiKeyInOrganization(trx, keys[1]!.id, organizationId));
    await expect(findApiKeyInOrganization(database.db, 'not a uuid', organizationId)).rejects.toMatchObject({
      code: '22P02',
    });
    expect(events.filter((event) => event.sql === text)).toEqual([
      { sql: text, rows: 1, failed: false },
      { sql: text, rows: 0, failed: false },
      { sql: text, rows: 1, failed: false },
      { sql: text, rows: undefined, failed: true },
    ]);
    expect(events.map((event) => event.sql)).toEqual([text, text, 'begin', text, 'commit', text]);
  });

  it('stays under the statement timeout as a named statement', async () => {
    const database = testDb.open({ poolMax: 1, statementTimeoutMs: 200 });
    const sleep = prepareQuery(1, (db, seconds: number) =>
      db.selectNoFrom(sql<string>`pg_sleep(${seconds})::text`.as('slept')),
    );
    expect(await sleep.executeTakeFirst(database.db, 0)).toEqual({ slept: '' });
    await expect(sleep.executeTakeFirst(database.db, 2)).rejects.toMatchObject({ code: '57014' });
    // The connection stays usable, with its statement still prepared.
    expect(await sleep.executeTakeFirst(database.db, 0)).toEqual({ slept: '' });
  });

  it('keeps answering when a migration changes the columns behind a statement already prepared', async () => {
    const outside = testDb.open({ poolMax: 1 });
    const inside = testDb.open({ poolMax: 1 });
    const query = prepareQuery(1, (db, id: string) =>
      db.selectFrom('organizations').selectAll().where('id', '=', id),
    );
    // Each connection prepares the statement before the change.
    expect(await query.executeTakeFirst(outside.db, organizationId)).toMatchObject({ name: 'first' });
    expect(await query.executeTakeFirst(inside.db, organizationId)).toMatchObject({ name: 'first' });
    await sql`alter table organizations add column compiled_test_note text`.execute(outside.db);
    try {
      // Outside a transaction: sent again unnamed by the connection itself.
      expect(await query.executeTakeFirst(outside.db, organizationId)).toMatchObject({
        name: 'first',
        compiled_test_note: null,
      });
      // Inside one: the transaction is aborted, and run again by `transaction`'s retry.
      const row = await inside.transaction((trx) => query.executeTakeFirst(trx, otherOrganizationId));
      expect(row).toMatchObject({ name: 'second', compiled_test_note: null });
    } finally {
      await sql`alter table organizations drop column if exists compiled_test_note`.execute(outside.db);
    }
  });
});
