import { TRPCError } from '@trpc/server';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { insertAnnotation, listAnnotations } from '../../db/repositories/annotations';
import type { Role, UserPrincipal } from '../../server/base/principal';
import { appRouter } from '../../server/http/routers/index';
import { createCallerFactory } from '../../server/http/trpc';
import { readPgStatStatements } from '../../server/services/performance/pg-stat-statements';
import { explainShape } from '../../server/services/performance/query-explain';
import { QueryMonitor, type QueryShapeFigures } from '../../server/services/performance/query-monitor';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';
import { closeRouterDeps, routerContext, routerDeps } from '../helpers/router-context';

let testDb: OpenedTestDatabase;
let database: PlatformDatabase;
let organizationId: string;
const monitor = new QueryMonitor({ slowQueryMs: 200 });

const createCaller = createCallerFactory(appRouter);

/**
 * An in-process caller signed in with `role`: the app's router over its own dependencies, with
 * this file's monitor and database in place.
 */
function callerAs(role: Role) {
  const deps = routerDeps((deps) => ({ database, performance: { ...deps.performance, queries: monitor } }));
  const principal: UserPrincipal = {
    kind: 'user',
    userId: 'u',
    organizationId: 'o',
    role,
    // The performance router acts on the platform: its callers are platform operators and admins.
    platformRole: role === 'viewer' ? null : role,
    sessionId: 's',
  };
  return createCaller(routerContext(principal, deps, 'query-monitor-test')).performance;
}

/** The one shape whose normalised text starts with `prefix`. */
function shapeStartingWith(prefix: string): QueryShapeFigures {
  const found = monitor.top(2_000, 'count').filter((shape) => shape.text.startsWith(prefix));
  expect(found, `shapes starting with ${prefix}`).toHaveLength(1);
  return found[0]!;
}

beforeAll(async () => {
  // Hooked up as server/composition/dependencies.ts does it.
  testDb = await openTestDatabase({ onQuery: (event) => monitor.record(event.sql, event.durationMs, event) });
  database = testDb.database;
  // Annotations belong to an organization.
  ({ id: organizationId } = await database.db
    .insertInto('organizations')
    .values({ name: 'query monitor' })
    .returning('id')
    .executeTakeFirstOrThrow());
});

afterAll(async () => {
  await closeRouterDeps();
  await testDb?.close();
});

describe('query monitoring over a real PostgreSQL', () => {
  it('logs a pg_sleep query as slow, with its normalised text and a duration of at least 300 ms', async () => {
    await sql`select pg_sleep(0.3)`.execute(database.db);
    await sql`select 1 as quick`.execute(database.db);
    const slow = monitor.slow();
    const sleep = slow.find((entry) => entry.text === 'select pg_sleep(?)');
    expect(sleep).toBeDefined();
    expect(sleep!.durationMs).toBeGreaterThanOrEqual(300);
    expect(sleep!.error).toBe(false);
    expect(sleep!.rows).toBe(1);
    expect(slow.some((entry) => entry.text.includes('quick'))).toBe(false);
    expect(monitor.shape(sleep!.fingerprint)).toMatchObject({ count: 1, text: 'select pg_sleep(?)' });
  });

  it('counts 50 inserts with different values as one shape of 50, with the rows they returned', async () => {
    for (let i = 0; i < 50; i++) {
      await insertAnnotation(database.db, {
        organization_id: organizationId,
        text: `note ${i}`,
        tags: [`tag-${i}`],
        idempotency_key: `key-${i}`,
      });
    }
    const insert = shapeStartingWith('insert into "annotations"');
    expect(insert).toMatchObject({ count: 50, errors: 0, rows: 50, meanRows: 1, operation: 'insert' });
    expect(insert.text).toContain('values (?, ?, ?, ?)');
    expect(insert.totalMs).toBeGreaterThan(0);
    expect(insert.p95Ms).toBeLessThanOrEqual(insert.maxMs);
    expect(insert.meanMs).toBeLessThanOrEqual(insert.maxMs);
  });

  it('counts rows returned by selects and rows affected by updates without returning', async () => {
    expect(await listAnnotations(database.db, organizationId, { limit: 10 })).toHaveLength(10);
    expect(await listAnnotations(database.db, organizationId, { limit: 30 })).toHaveLength(30);
    expect(shapeStartingWith('select * from "annotations" where')).toMatchObject({ count: 2, rows: 40 });

    const edit = (texts: string[]) =>
      database.db.updateTable('annotations').set({ text: 'edited' }).where('text', 'in', texts).execute();
    await edit(['note 1', 'note 2', 'note 3']);
    await edit(['note 4', 'note 5']);
    const update = shapeStartingWith('update "annotations"');
    expect(update.text).toBe('update "annotations" set "text" = ? where "text" in (?)');
    expect(update).toMatchObject({ count: 2, rows: 5 });
  });

  it('counts a failing query as an error of its shape', async () => {
    await expect(sql`select * from no_such_table`.execute(database.db)).rejects.toThrow(/no_such_table/);
    expect(shapeStartingWith('select * from no_such_table')).toMatchObject({ count: 1, errors: 1, rows: 0 });
  });

  it('explains a captured select as a JSON plan, as an admin', async () => {
    const select = shapeStartingWith('select * from "annotations" where');
    const result = await callerAs('admin').explain({ fingerprint: select.fingerprint });
    expect(result.fingerprint).toBe(select.fingerprint);
    expect(result.text).toBe(select.text);
    const [top] = result.plan as { Plan: { 'Node Type': string } }[];
    expect(top?.Plan['Node Type']).toBe('Limit');
  });

  it('explains an insert without running it', async () => {
    const before = await database.db
      .selectFrom('annotations')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    const insert = shapeStartingWith('insert into "annotations"');
    const { plan } = await explainShape(database, monitor, insert.fingerprint);
    expect((plan as { Plan: { 'Node Type': string } }[])[0]?.Plan['Node Type']).toBe('ModifyTable');
    const after = await database.db
      .selectFrom('annotations')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it('answers NOT_FOUND for a fingerprint it never captured, and BAD_REQUEST for what has no plan', async () => {
    const admin = callerAs('admin');
    await expect(admin.explain({ fingerprint: '0123456789abcdef' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await sql`create temporary table scratch (id int)`.execute(database.db);
    const ddl = shapeStartingWith('create temporary table scratch');
    await expect(admin.explain({ fingerprint: ddl.fingerprint })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    // Only a fingerprint is accepted: SQL text is refused before anything runs.
    await expect(admin.explain({ fingerprint: 'select 1' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('lets operators list shapes and slow queries, but only admins explain', async () => {
    const operator = callerAs('operator');
    const listed = await operator.queries({ sort: 'count', limit: 5 });
    expect(listed.slowQueryMs).toBe(200);
    expect(listed.shapes).toHaveLength(5);
    expect(listed.shapes[0]).toMatchObject({
      text: expect.stringMatching(/^insert into "annotations"/),
      count: 50,
    });
    expect(listed.slow?.some((entry) => entry.text === 'select pg_sleep(?)')).toBe(true);
    expect(listed.totals.count).toBeGreaterThanOrEqual(50);
    expect((await operator.queries({ includeSlow: false })).slow).toBeNull();
    const defaults = await operator.queries();
    expect(defaults.shapes.length).toBeGreaterThan(5);
    expect(defaults.shapes.length).toBeLessThanOrEqual(20);
    expect(defaults.shapes.map((s) => s.totalMs)).toEqual(
      [...defaults.shapes.map((s) => s.totalMs)].sort((a, b) => b - a),
    );

    const fingerprint = listed.shapes[0]!.fingerprint;
    await expect(operator.explain({ fingerprint })).rejects.toSatisfy(
      (error) => error instanceof TRPCError && error.code === 'FORBIDDEN',
    );
    await expect(callerAs('viewer').queries()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(operator.queries({ limit: 201 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it("reports this database's statements from pg_stat_statements", async () => {
    const report = await readPgStatStatements(database, { limit: 200, createExtension: true });
    // The test server is the embedded one, started with pg_stat_statements preloaded; only a
    // DATABASE_URL server outside CI may lack it.
    const required = process.env.CI === 'true' || !process.env.DATABASE_URL;
    if (!report.available) {
      expect(required, `pg_stat_statements unavailable: ${report.reason}`).toBe(false);
      expect(report.reason).toMatch(/pg_stat_statements/);
      return;
    }
    const insert = report.statements.find((s) => s.query.startsWith('insert into "annotations"'));
    expect(insert).toBeDefined();
    expect(insert!.calls).toBeGreaterThanOrEqual(50);
    expect(insert!.rows).toBeGreaterThanOrEqual(50);
    expect(insert!.totalMs).toBeGreaterThan(0);

    const listed = await callerAs('operator').queries({ limit: 200 });
    expect(listed.pgStatStatements.available).toBe(true);
  });
});
