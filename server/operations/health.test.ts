import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { PlatformDatabase } from '../../db/connect';
import type { HealthCheckResult } from '../../shared/system';
import { readBuildInfo } from '../base/build-info';
import { type Component, Initializer } from '../base/initializer';
import { Lifecycle } from '../base/lifecycle';
import { createLogger } from '../base/logger';
import {
  buildHealthReport,
  type HealthSources,
  HealthTimeoutError,
  publicMessage,
  withTimeout,
  worst,
} from './health';

const logger = createLogger({
  level: 'silent',
  destination: new Writable({ write: (_c, _e, done) => done() }),
});

describe('worst', () => {
  it('is pass for no statuses and for passes only', () => {
    expect(worst([])).toBe('pass');
    expect(worst(['pass', 'pass'])).toBe('pass');
  });

  it('is warn when something warns and nothing fails', () => {
    expect(worst(['pass', 'warn', 'pass'])).toBe('warn');
  });

  it('is fail when anything fails', () => {
    expect(worst(['warn', 'pass', 'fail'])).toBe('fail');
    expect(worst(['fail'])).toBe('fail');
  });
});

describe('withTimeout', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves with the value of a promise that settles in time', async () => {
    await expect(withTimeout(Promise.resolve(42), 1_000)).resolves.toBe(42);
  });

  it("rejects with the promise's own error when it fails in time", async () => {
    const error = new Error('boom');
    await expect(withTimeout(Promise.reject(error), 1_000)).rejects.toBe(error);
  });

  it('rejects with HealthTimeoutError when the promise never settles', async () => {
    const hung = new Promise<never>(() => undefined);
    const error = await withTimeout(hung, 20).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HealthTimeoutError);
    expect((error as Error).message).toBe('no answer within 20 ms');
  });

  it('leaves no timer behind once the promise has settled', async () => {
    vi.useFakeTimers();
    await withTimeout(Promise.resolve('done'), 60_000);
    await withTimeout(Promise.reject(new Error('x')), 60_000).catch(() => undefined);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('publicMessage', () => {
  it('gives the error code of a driver error and nothing of its message', () => {
    const error = Object.assign(new Error('password authentication failed for user "admin" at 10.1.2.3'), {
      code: '28P01',
    });
    expect(publicMessage(error)).toBe('error 28P01');
  });

  it('says only "unavailable" when there is no code', () => {
    expect(publicMessage(new Error('connect to db.internal:5432 as admin failed'))).toBe('unavailable');
    expect(publicMessage('a string with a secret')).toBe('unavailable');
    expect(publicMessage(null)).toBe('unavailable');
    expect(publicMessage({ code: 5432 })).toBe('unavailable');
  });
});

describe('buildHealthReport', () => {
  const databases: PlatformDatabase[] = [];
  const initializers: Initializer[] = [];
  let base: Omit<HealthSources, 'initializer' | 'lifecycle'> & { lifecycle: Lifecycle };
  let closedPort: number;

  beforeAll(async () => {
    // Exactly what the report reads: no platform around it.
    base = {
      build: readBuildInfo(),
      config: { HEALTH_DB_TIMEOUT_MS: 50 },
      lifecycle: new Lifecycle(),
      startedAt: new Date(),
    };
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closedPort = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
  });

  afterAll(async () => {
    await Promise.all(initializers.map((i) => i.stop()));
    await Promise.all(databases.map((d) => d.close()));
  });

  /** The report's sources with an initializer of these components, started; waits for `settled`. */
  async function depsWith(components: Component[]): Promise<HealthSources> {
    const initializer = new Initializer({ logger, retry: { baseMs: 1, maxMs: 5 } });
    initializers.push(initializer);
    for (const c of components) initializer.register(c);
    void initializer.start();
    await vi.waitFor(() => {
      for (const state of initializer.states()) expect(state.attempts).toBeGreaterThan(0);
      for (const state of initializer.states()) expect(state.status).not.toBe('initializing');
    });
    return { ...base, initializer };
  }

  const pass = (): HealthCheckResult => ({ status: 'pass', time: new Date().toISOString() });

  function healthy(name: string, critical = true): Component {
    return {
      name,
      phase: 'core',
      critical,
      async start() {},
      async health() {
        return { [`${name}:latency`]: [{ ...pass(), observedValue: 1, observedUnit: 'ms' }] };
      },
    };
  }

  function checking(name: string, critical: boolean, health: () => Promise<never>): Component {
    return { name, phase: 'core', critical, async start() {}, health };
  }

  it('passes, with uptime, each component status and its measurements, when all is well', async () => {
    const deps = await depsWith([healthy('database'), healthy('cache', false)]);
    const report = await buildHealthReport(deps);
    expect(report.status).toBe('pass');
    expect(Object.keys(report.checks).sort()).toEqual([
      'cache:latency',
      'cache:status',
      'database:latency',
      'database:status',
      'uptime:duration',
    ]);
    expect(report.checks['uptime:duration']?.[0]).toMatchObject({ status: 'pass', observedUnit: 's' });
    expect(report.checks['database:status']?.[0]).toMatchObject({ status: 'pass', observedValue: 'ready' });
    expect(report.serviceId).toBe('beauty-crafter-platform');
    expect(report.releaseId).toBe(`${base.build.version}+${base.build.commit}`);
    expect(report.version).toBe(base.build.version.split('.')[0]);
  });

  it('turns a hung check of a critical component into fail, bounded by its timeout', async () => {
    // The database check is bounded by HEALTH_DB_TIMEOUT_MS (50 ms here).
    const hung = checking('database', true, () => new Promise<never>(() => undefined));
    const report = await buildHealthReport(await depsWith([hung, healthy('cache', false)]));
    expect(report.status).toBe('fail');
    expect(report.checks['database:responseTime']?.[0]).toMatchObject({
      componentId: 'database',
      status: 'fail',
      output: 'no answer within 50 ms',
    });
    expect(report.checks['cache:latency']?.[0]?.status).toBe('pass');
  });

  it('turns a hung check of a non-critical component into warn, bounded by the default timeout', async () => {
    const hung = checking('search', false, () => new Promise<never>(() => undefined));
    const report = await buildHealthReport(await depsWith([healthy('database'), hung]));
    expect(report.status).toBe('warn');
    expect(report.checks['search:responseTime']?.[0]).toMatchObject({
      status: 'warn',
      output: 'no answer within 1000 ms',
    });
  });

  it('never includes a driver message in public output, only its code', async () => {
    const secretName = `health_secret_${process.pid}`;
    const missing = new URL(inject('adminDatabaseUrl'));
    missing.pathname = `/${secretName}`;
    const refused = `postgres://reporter:pw-${process.pid}@127.0.0.1:${closedPort}/app`;
    const probe = (name: string, url: string): Component => {
      const database = new PlatformDatabase({
        url,
        poolMax: 1,
        connectTimeoutMs: 2_000,
        statementTimeoutMs: 0,
        idleTimeoutMs: 1_000,
        retry: { attempts: 1, baseMs: 1, maxMs: 1 },
      });
      databases.push(database);
      return {
        name,
        phase: 'core',
        critical: true,
        async start() {},
        async health() {
          await database.ping(2_000);
          return {};
        },
      };
    };
    const deps = await depsWith([probe('database', missing.toString()), probe('replica', refused)]);
    // The real driver errors, to know what must not leak.
    const driverMessages = await Promise.all(
      deps.initializer.components().map((c) => c.health?.().catch((e: Error) => e.message)),
    );
    expect(driverMessages[0]).toContain(secretName);
    expect(driverMessages[1]).toContain(`127.0.0.1:${closedPort}`);

    const report = await buildHealthReport(deps);
    expect(report.status).toBe('fail');
    expect(report.checks['database:responseTime']?.[0]?.output).toBe('error 3D000');
    expect(report.checks['replica:responseTime']?.[0]?.output).toBe('error ECONNREFUSED');
    const text = JSON.stringify(report);
    for (const message of driverMessages) expect(text).not.toContain(String(message));
    expect(text).not.toContain(secretName);
    expect(text).not.toContain(String(closedPort));
    expect(text).not.toContain('reporter');
  });

  it('says "unavailable" for a check that throws something without a code', async () => {
    const odd = checking('search', false, () => {
      throw 'a thrown string naming db.internal';
    });
    const report = await buildHealthReport(await depsWith([healthy('database'), odd]));
    expect(report.checks['search:responseTime']?.[0]).toMatchObject({
      status: 'warn',
      output: 'unavailable',
    });
    expect(JSON.stringify(report)).not.toContain('db.internal');
  });

  it("never shows a failed component's last error, only where to read it", async () => {
    const failing: Component = {
      name: 'database',
      phase: 'core',
      critical: true,
      async start() {
        throw new Error('no pg_hba.conf entry for host "10.9.8.7", user "platform_admin"');
      },
    };
    const deps = await depsWith([failing]);
    await vi.waitFor(() => expect(deps.initializer.states()[0]?.status).toBe('failed'));
    const report = await buildHealthReport(deps);
    expect(report.status).toBe('fail');
    expect(report.checks['database:status']?.[0]).toMatchObject({
      status: 'fail',
      output: expect.stringMatching(/; details in GET \/api\/system\/status$/),
    });
    expect(JSON.stringify(report)).not.toContain('10.9.8.7');
    expect(JSON.stringify(report)).not.toContain('platform_admin');
  });

  it('warns with instance:draining while the instance drains', async () => {
    const deps = await depsWith([healthy('database')]);
    const { lifecycle } = base;
    lifecycle.beginDrain();
    try {
      const report = await buildHealthReport(deps);
      expect(report.status).toBe('warn');
      expect(report.checks['instance:draining']?.[0]).toMatchObject({ status: 'warn', observedValue: true });
    } finally {
      lifecycle.endDrain();
    }
    expect((await buildHealthReport(deps)).status).toBe('pass');
  });
});
