import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, errorDetails, type PlatformClient } from '../../client';
import { startTestApp, type TestApp } from '../helpers/app';

let t: TestApp;
let client: PlatformClient;
let admin: PlatformClient;

beforeAll(async () => {
  t = await startTestApp();
  const fetch = ((input: RequestInfo | URL, init?: RequestInit) =>
    t.app.request(input, init)) as typeof globalThis.fetch;
  client = createClient({ url: 'http://platform.test', fetch });
  admin = createClient({ url: 'http://platform.test', fetch, headers: t.admin });
});
afterAll(() => t.close());

describe('system router', () => {
  it('system.info names the version, runtime, commit and uptime', async () => {
    const info = await client.system.info.query();
    expect(info.name).toBe('beauty-crafter-platform');
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.runtime.name).toBe('node');
    expect(info.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(info.commit.length).toBeGreaterThan(0);
  });

  it('system.health reports every component ready and the database measured', async () => {
    const health = await client.system.health.query();
    expect(health.status).toBe('pass');
    expect(health.checks['database:status']?.[0]?.observedValue).toBe('ready');
    expect(health.checks['database:responseTime']?.[0]?.observedUnit).toBe('ms');
  });

  it('system.selfTest writes, reads and deletes for real and passes every check', async () => {
    const report = await admin.system.selfTest.mutate();
    expect(report.status).toBe('pass');
    const names = report.checks.map((c) => `${c.component}: ${c.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'database: write, read and delete a row',
        'database: pool acquire',
        'cache: set, get and delete an entry',
        'monitoring: metrics render in Prometheus text format',
      ]),
    );
    const { rows } = await t.deps.database.pool.query('select count(*)::int as n from self_test_scratch');
    expect(rows[0].n).toBe(0);
  });

  it('system.selfTest reports a failing component without failing the others', async () => {
    await t.deps.database.pool.query('alter table self_test_scratch rename to self_test_scratch_moved');
    try {
      const report = await admin.system.selfTest.mutate();
      expect(report.status).toBe('fail');
      const write = report.checks.find((c) => c.name === 'write, read and delete a row');
      expect(write?.status).toBe('fail');
      expect(write?.error).toMatch(/self_test_scratch/);
      expect(report.checks.find((c) => c.component === 'cache')?.status).toBe('pass');
    } finally {
      await t.deps.database.pool.query('alter table self_test_scratch_moved rename to self_test_scratch');
    }
  });

  it('admin procedures answer UNAUTHORIZED without a token and FORBIDDEN with a wrong one', async () => {
    const anonymous = await client.system.status.query().catch((e) => e);
    expect(errorDetails(anonymous)?.code).toBe('UNAUTHORIZED');
    const wrong = createClient({
      url: 'http://platform.test',
      fetch: ((i: RequestInfo | URL, init?: RequestInit) => t.app.request(i, init)) as typeof fetch,
      headers: { authorization: 'Bearer not-a-valid-token' },
    });
    expect(errorDetails(await wrong.system.selfTest.mutate().catch((e) => e))?.code).toBe('UNAUTHORIZED');
  });

  it('system.status shows components, pool statistics and redacted configuration', async () => {
    const status = await admin.system.status.query();
    expect(status.status).toBe('ready');
    expect(status.components.map((c) => c.name)).toEqual([
      'database',
      'cache',
      'auth',
      'ratelimit',
      'monitoring',
      'performance',
      'alerts',
      'deployments',
      'backups',
      'maintenance',
    ]);
    expect(status.database.max).toBe(10);
    expect(status.database.acquired).toBeGreaterThan(0);
    expect(String(status.configuration.DATABASE_URL)).not.toContain(
      new URL(t.database.url).password || '\u0000',
    );
  });

  it('annotations: an idempotency key makes a repeated create return the first row', async () => {
    const first = await admin.system.annotations.create.mutate({
      text: 'deploy 1.2.3 started',
      tags: ['deploy'],
      idempotencyKey: 'deploy-1.2.3-start',
    });
    const again = await admin.system.annotations.create.mutate({
      text: 'deploy 1.2.3 started',
      tags: ['deploy'],
      idempotencyKey: 'deploy-1.2.3-start',
    });
    expect(again.id).toBe(first.id);
    const listed = await admin.system.annotations.list.query({ tag: 'deploy' });
    expect(listed.items.filter((a) => a.text === 'deploy 1.2.3 started')).toHaveLength(1);
  });
});
