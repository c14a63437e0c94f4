import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type PlatformClient } from '../../client';
import type {
  AnalysisSpec,
  CanaryStep,
  DeploymentCreateInput,
  DeploymentEvent,
  DeploymentWithEvents,
} from '../../shared/devops-deployments';
import { startTestApp, type TestApp } from '../helpers/app';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { type DemoService, startDemoService, TrafficRouter } from '../helpers/demo-service';
import { eventually } from '../helpers/deployments';
import { prometheusSkipReason, startTestPrometheus, type TestPrometheus } from '../helpers/prometheus-server';
import {
  adminHeaders,
  type Runtime,
  runtimeAvailable,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process';

/**
 * Canary deployments end to end: two builds of a small HTTP service as separate processes (a
 * stable one, and a canary failing a set share of its requests), a traffic router driven by the
 * platform's webhook provider, a steady synthetic load through the router, and the platform
 * measuring the canary (its own /metrics, or a real Prometheus scraping both builds). Nothing is
 * scripted on the platform's side: analysis reads what the load produced.
 */

const SECRET = 'e2e-webhook-secret-0123456789abcdef';
const FAILING_SHARE = 0.3;

/** Error ratio of the version under test: below 5 % passes; anything else fails. */
function errorRateAnalysis(query: string, overrides: Partial<AnalysisSpec> = {}): AnalysisSpec {
  return {
    metrics: [{ name: 'error-rate', query, successCondition: { op: '<', value: 0.05 } }],
    intervalSeconds: 1,
    count: 3,
    failureLimit: 0,
    inconclusiveLimit: 0,
    ...overrides,
  };
}

/** Over the canary's own /metrics: the expression language adds up the targets' series itself. */
const TARGET_ERROR_RATE =
  'rate(demo_requests_total{version="{{version}}",code="500"}[5s]) / rate(demo_requests_total{version="{{version}}"}[5s])';
/** PromQL over everything Prometheus scrapes, the stable build included: the version label picks the canary. */
const PROMQL_ERROR_RATE =
  'sum(rate(demo_requests_total{version="{{version}}",code="500"}[5s])) / sum(rate(demo_requests_total{version="{{version}}"}[5s]))';

const FINISHED = ['promoted', 'aborted', 'rolled_back', 'failed'];

function inProcessClient(t: TestApp): PlatformClient {
  return createClient({
    url: 'http://platform.test',
    headers: t.admin,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => t.app.request(input, init)) as typeof fetch,
  });
}

async function waitForDeployment(
  client: PlatformClient,
  id: string,
  what: string,
  done: (deployment: DeploymentWithEvents) => boolean,
  timeoutMs = 30_000,
): Promise<DeploymentWithEvents> {
  return eventually(
    what,
    async () => {
      const deployment = (await client.devops.deployments.get.query({ id })) as DeploymentWithEvents;
      return done(deployment) ? deployment : undefined;
    },
    timeoutMs,
  );
}

function waitUntilFinished(client: PlatformClient, id: string, timeoutMs = 30_000) {
  return waitForDeployment(
    client,
    id,
    `deployment ${id} to finish`,
    (d) => FINISHED.includes(d.status),
    timeoutMs,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const iso = (ms: number) => new Date(ms).toISOString();
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const eventsOf = (deployment: DeploymentWithEvents, type: DeploymentEvent['type']) =>
  deployment.events.filter((event) => event.type === type);

/** The error-rate metric's measured values and phases, as an analysis_completed event records them. */
function errorRateOf(event: DeploymentEvent | undefined): { values: (number | null)[]; phases: string[] } {
  const metrics = (event?.details.metrics ?? {}) as Record<
    string,
    { values: (number | null)[]; phases: string[] }
  >;
  return metrics['error-rate'] ?? { values: [], phases: [] };
}

/** One service's world: its stable build, and the router that will start and weigh its canary. */
interface Fleet {
  stable: DemoService;
  router: TrafficRouter;
  stop(): Promise<void>;
}

async function startFleet(
  service: string,
  canaryFailureRate: number,
  stableVersion = '1.0.0',
): Promise<Fleet> {
  const stable = await startDemoService({ version: stableVersion });
  const router = await TrafficRouter.start({ service, secret: SECRET, stable, canaryFailureRate });
  return {
    stable,
    router,
    async stop() {
      await router.stop();
      await stable.stop();
    },
  };
}

const fleets: Fleet[] = [];
async function fleet(service: string, canaryFailureRate: number): Promise<Fleet> {
  const started = await startFleet(service, canaryFailureRate);
  fleets.push(started);
  return started;
}
afterAll(async () => {
  await Promise.all(fleets.splice(0).map((f) => f.stop()));
  await stopAllServers();
});

function canaryInput(
  service: string,
  version: string,
  router: TrafficRouter,
  steps: CanaryStep[],
  { metricsTargets = true }: { metricsTargets?: boolean } = {},
): DeploymentCreateInput {
  return {
    service,
    environment: 'production',
    version,
    stableVersion: '1.0.0',
    spec: { strategy: 'canary', steps },
    provider: {
      kind: 'webhook',
      config: {
        url: router.url,
        secret: SECRET,
        ...(metricsTargets ? { metricsTargets: [router.canaryMetricsUrl] } : {}),
      },
    },
  };
}

/**
 * The bad canary's timeline: T0 the first 500 the load saw from the canary, T1 the router's
 * rollback call (traffic off the canary), T2 the rolled_back status as recorded (the event's time).
 */
function reportBadCanaryTimings(label: string, router: TrafficRouter, rolledBack: DeploymentWithEvents) {
  const t0 = router.firstCanaryError()?.at;
  const t1 = router.calls.find((c) => c.action === 'rollback')?.at;
  const t2at = eventsOf(rolledBack, 'rolled_back')[0]?.at;
  expect(t0).toBeDefined();
  expect(t1).toBeDefined();
  expect(t2at).toBeDefined();
  const [T0, T1, T2] = [t0 as number, t1 as number, Date.parse(t2at as string)];
  const decidedAt = Date.parse(eventsOf(rolledBack, 'version_marked_bad')[0]?.at ?? '');
  const measured = errorRateOf(eventsOf(rolledBack, 'analysis_completed')[0]).values;
  console.log(
    `${label}: first canary errors at ${iso(T0)}, rollback call at ${iso(T1)}, status rolled_back at ${iso(T2)}` +
      ` — detection ${seconds(T1 - T0)}, rollback ${seconds(T2 - T1)} (first error to rolled_back ${seconds(T2 - T0)};` +
      ` analysis failed ${seconds(decidedAt - T0)} after the first error, measured error rates ` +
      `${measured.map((v) => (v === null ? 'none' : v.toFixed(3))).join(', ')})`,
  );
  return { T0, T1, T2 };
}

/** What every bad-canary run must show, whatever measured it. */
async function expectRolledBackByItself(
  client: PlatformClient,
  input: DeploymentCreateInput,
  { router, stable }: Fleet,
  deployment: DeploymentWithEvents,
) {
  expect(deployment.status).toBe('rolled_back');
  // Nobody asked: the engine decided on the measurements.
  expect(eventsOf(deployment, 'rollback_requested')).toEqual([]);
  expect(eventsOf(deployment, 'abort_requested')).toEqual([]);
  const analysis = eventsOf(deployment, 'analysis_completed');
  expect(analysis).toHaveLength(1);
  expect(analysis[0]?.details.outcome).toBe('failed');
  const failing = errorRateOf(analysis[0]).values.filter((v): v is number => v !== null && v >= 0.05);
  // failureLimit 1: two failed measurements, each near the canary's real share of errors.
  expect(failing.length).toBeGreaterThanOrEqual(2);
  for (const value of failing) expect(value).toBeGreaterThan(0.15);
  expect(eventsOf(deployment, 'version_marked_bad')[0]?.details.version).toBe(input.version);

  // The router moved traffic to the canary, then back; it was never promoted.
  expect(router.callsFor(deployment.id)).toEqual(['prepare', 'setWeight(20)', 'rollback']);
  expect(router.refused).toBe(0);
  expect(router.canaryRunning).toBe(false);
  for (const call of router.calls) {
    expect(call.version).toBe(input.version);
    expect(call.stableVersion).toBe('1.0.0');
  }

  // The stable build kept serving, before, during and after: every one of its answers a 200.
  const rollbackAt = router.calls.find((c) => c.action === 'rollback')?.at as number;
  await sleep(500);
  const toStable = router.samples.filter((s) => s.to === 'stable');
  expect(toStable.length).toBeGreaterThan(50);
  expect(toStable.filter((s) => s.status !== 200)).toEqual([]);
  const afterRollback = router.samples.filter((s) => s.sentAt > rollbackAt + 100);
  expect(afterRollback.length).toBeGreaterThan(10);
  expect(afterRollback.every((s) => s.to === 'stable' && s.version === stable.version)).toBe(true);

  // A version marked bad cannot be deployed again.
  await expect(client.devops.deployments.create.mutate(input)).rejects.toThrow(/marked bad/);
}

describe('canary deployments end to end, analysis over the canary’s own /metrics', () => {
  let t: TestApp;
  let client: PlatformClient;

  beforeAll(async () => {
    t = await startTestApp({ DEPLOY_ALLOW_PRIVATE_NETWORKS: 'true', OUTBOUND_ALLOW_METRICS: '127.0.0.0/8' });
    client = inProcessClient(t);
  });
  afterAll(() => t?.close());

  it('catches a canary failing 30 % of its requests and rolls it back by itself; the stable build keeps serving', async () => {
    const shop = await fleet('storefront', FAILING_SHARE);
    const analysis = errorRateAnalysis(TARGET_ERROR_RATE, { count: 4, failureLimit: 1 });
    const input = canaryInput('storefront', '1.1.0', shop.router, [
      { setWeight: 20 },
      { pause: { durationSeconds: 1 } },
      { analysis },
      { setWeight: 50 },
      { analysis },
    ]);
    const created = await client.devops.deployments.create.mutate(input);
    const done = await waitUntilFinished(client, created.id);

    await expectRolledBackByItself(client, input, shop, done);
    reportBadCanaryTimings('bad canary (targets’ /metrics)', shop.router, done);
  });

  it('promotes a healthy canary through every step, with the measured values in its history', async () => {
    const catalog = await fleet('catalog', 0);
    const analysis = errorRateAnalysis(TARGET_ERROR_RATE, { count: 3 });
    const input = canaryInput('catalog', '2.0.0', catalog.router, [
      { setWeight: 20 },
      { pause: { durationSeconds: 1 } },
      { analysis },
      { setWeight: 50 },
      { analysis },
    ]);
    const created = await client.devops.deployments.create.mutate(input);
    const done = await waitUntilFinished(client, created.id);

    expect(done.status).toBe('promoted');
    expect(catalog.router.callsFor(done.id)).toEqual([
      'prepare',
      'setWeight(20)',
      'setWeight(50)',
      'promote',
    ]);
    expect(catalog.router.calls.every((c) => !c.duplicate)).toBe(true);

    // Every step of the plan, in order, each begun and completed once.
    const kinds = eventsOf(done, 'step_completed').map((e) => e.details.kind);
    expect(kinds).toEqual(['prepare', 'setWeight', 'pause', 'analysis', 'setWeight', 'analysis', 'promote']);
    expect(eventsOf(done, 'step_started').map((e) => e.step)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // The measured values: no errors at all, three measurements per analysis.
    const analyses = eventsOf(done, 'analysis_completed');
    expect(analyses.map((e) => e.details.outcome)).toEqual(['successful', 'successful']);
    for (const event of analyses) {
      const metric = errorRateOf(event);
      expect(metric.values).toEqual([0, 0, 0]);
      expect(metric.phases).toEqual(['successful', 'successful', 'successful']);
    }
    expect(eventsOf(done, 'measurement')).toHaveLength(6);
    expect(eventsOf(done, 'promoted')).toHaveLength(1);

    // After the promotion the new build takes all the traffic, and answers it.
    const promotedAt = catalog.router.calls.find((c) => c.action === 'promote')?.at as number;
    await sleep(500);
    const after = catalog.router.samples.filter((s) => s.sentAt > promotedAt + 100);
    expect(after.length).toBeGreaterThan(10);
    expect(after.every((s) => s.to === 'canary' && s.version === '2.0.0' && s.status === 200)).toBe(true);
    expect(catalog.router.samples.filter((s) => s.status !== 200)).toEqual([]);
  });
});

describe.skipIf(prometheusSkipReason() !== null)(
  'canary deployments end to end, analysis through a real Prometheus',
  () => {
    let t: TestApp;
    let client: PlatformClient;
    let prometheus: TestPrometheus;
    let checkout: Fleet;

    beforeAll(async () => {
      checkout = await fleet('checkout', FAILING_SHARE);
      // The canary's port is known before it runs: Prometheus scrapes it from the start (down until then).
      prometheus = await startTestPrometheus({
        targets: [checkout.stable.target, checkout.router.canaryTarget],
      });
      t = await startTestApp({
        DEPLOY_ALLOW_PRIVATE_NETWORKS: 'true',
        DEPLOY_PROMETHEUS_URL: prometheus.url,
      });
      client = inProcessClient(t);
      // Prometheus applies its targets a few seconds after start: wait for the stable build's first rate.
      await eventually(
        'Prometheus to have scraped the stable build twice',
        async () => {
          const url = new URL('/api/v1/query', prometheus.url);
          url.searchParams.set('query', 'sum(rate(demo_requests_total{version="1.0.0"}[5s]))');
          const body = (await (await fetch(url)).json()) as {
            data?: { result?: { value: [number, string] }[] };
          };
          return Number(body.data?.result?.[0]?.value[1] ?? 0) > 0;
        },
        20_000,
      );
    });
    afterAll(async () => {
      await t?.close();
      await prometheus?.stop();
    });

    it('catches the bad canary from PromQL over the scraped builds and rolls it back by itself', async () => {
      // Prometheus sees the canary a scrape or two after it starts: a first "no data" is tolerated.
      const analysis = errorRateAnalysis(PROMQL_ERROR_RATE, {
        count: 5,
        failureLimit: 1,
        inconclusiveLimit: 3,
      });
      const input = canaryInput(
        'checkout',
        '1.1.0',
        checkout.router,
        [{ setWeight: 20 }, { pause: { durationSeconds: 2 } }, { analysis }, { setWeight: 50 }],
        { metricsTargets: false },
      );
      const created = await client.devops.deployments.create.mutate(input);
      const done = await waitUntilFinished(client, created.id);

      await expectRolledBackByItself(client, input, checkout, done);
      reportBadCanaryTimings('bad canary (Prometheus)', checkout.router, done);
    });
  },
);

describe('canary deployments across platform processes', () => {
  // Bun is the primary runtime; Node runs the same server where Bun is missing.
  const runtime: Runtime = runtimeAvailable('bun') ? 'bun' : 'node';
  let database: TestDatabase;
  const serverEnv = () => ({
    DATABASE_URL: database.url,
    DEPLOY_ALLOW_PRIVATE_NETWORKS: 'true',
    OUTBOUND_ALLOW_METRICS: '127.0.0.0/8',
  });

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(() => stopAllServers());
  afterAll(async () => {
    await stopAllServers();
    await database?.drop();
  });

  async function clientOf(server: ServerProcess): Promise<PlatformClient> {
    return createClient({ url: server.url, headers: await adminHeaders(server) });
  }

  /** How many deployments the server's engine drives now, from its health report (which says the engine runs). */
  async function engineOf(server: ServerProcess): Promise<{ status: string; driving: number }> {
    const report = (await (await fetch(`${server.url}/api/health`)).json()) as {
      checks: Record<string, { status: string; observedValue: number }[]>;
    };
    const [engine] = report.checks['deployments:engine'] ?? [];
    return { status: engine?.status ?? 'missing', driving: engine?.observedValue ?? Number.NaN };
  }

  /** The engine instances that acted on a deployment, in the order they first did. */
  function instancesOf(deployment: DeploymentWithEvents): string[] {
    const seen: string[] = [];
    for (const event of deployment.events) {
      const instance = event.details.instance;
      if (typeof instance === 'string' && !seen.includes(instance)) seen.push(instance);
    }
    return seen;
  }

  it('resumes a canary after its server is killed mid-pause, on another server, and promotes it once', async () => {
    const first = await startServer({ runtime, env: serverEnv() });
    const firstClient = await clientOf(first);
    const orders = await fleet('orders', 0);
    const input = canaryInput('orders', '3.0.0', orders.router, [
      { setWeight: 20 },
      { pause: { durationSeconds: 6 } },
      { analysis: errorRateAnalysis(TARGET_ERROR_RATE, { count: 2 }) },
      { setWeight: 50 },
    ]);
    const created = await firstClient.devops.deployments.create.mutate(input);
    // Plan: 0 prepare, 1 setWeight 20, 2 pause, 3 analysis, 4 setWeight 50, 5 promote.
    await waitForDeployment(
      firstClient,
      created.id,
      'the deployment to be in its pause',
      (d) => d.currentStep === 2 && d.status === 'progressing' && eventsOf(d, 'step_started').length === 3,
    );
    await sleep(500);
    const killedAt = Date.now();
    await first.stop('SIGKILL');

    const second = await startServer({ runtime, env: serverEnv() });
    const secondClient = await clientOf(second);
    const done = await waitUntilFinished(secondClient, created.id, 40_000);

    expect(done.status).toBe('promoted');
    // Each step once, in order, the promotion once: nothing repeated across the restart.
    expect(orders.router.callsFor(done.id)).toEqual(['prepare', 'setWeight(20)', 'setWeight(50)', 'promote']);
    expect(orders.router.calls.filter((c) => c.action === 'promote')).toHaveLength(1);
    expect(orders.router.calls.every((c) => !c.duplicate)).toBe(true);
    expect(orders.router.overlaps).toBe(0);

    // The killed server drove the start, another instance resumed the pause and finished.
    const [killed, successor, ...others] = instancesOf(done);
    expect(others).toEqual([]);
    expect(successor).toBeDefined();
    expect(successor).not.toBe(killed);
    const resumed = eventsOf(done, 'resumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]?.details.instance).toBe(successor);
    expect(resumed[0]?.step).toBe(2);
    for (const event of eventsOf(done, 'step_started').filter((e) => (e.step ?? 0) <= 2))
      expect(event.details.instance).toBe(killed);
    for (const event of eventsOf(done, 'step_started').filter((e) => (e.step ?? 0) > 2))
      expect(event.details.instance).toBe(successor);
    expect(eventsOf(done, 'promoted')[0]?.details.instance).toBe(successor);
    const resumedAt = Date.parse(resumed[0]?.at as string);
    console.log(
      `restart mid-canary: server killed at ${iso(killedAt)}, resumed by another instance at ${iso(resumedAt)}` +
        ` (${seconds(resumedAt - killedAt)}, the lease running out), promoted at ${done.finishedAt}`,
    );
  });

  it('with two servers on one database, each deployment is driven by exactly one of them', async () => {
    const [one, two] = await Promise.all([
      startServer({ runtime, env: serverEnv() }),
      startServer({ runtime, env: serverEnv() }),
    ]);
    const clients: PlatformClient[] = [await clientOf(one), await clientOf(two)];
    const reader = clients[0] as PlatformClient;
    const services = ['billing', 'search'] as const;
    const fleetsHere = await Promise.all(services.map((service) => fleet(service, 0)));
    const created = await Promise.all(
      services.map((service, i) =>
        (clients[i] as PlatformClient).devops.deployments.create.mutate(
          canaryInput(service, '4.0.0', (fleetsHere[i] as Fleet).router, [
            { setWeight: 20 },
            { pause: { durationSeconds: 2 } },
            { analysis: errorRateAnalysis(TARGET_ERROR_RATE, { count: 2 }) },
            { setWeight: 60 },
            { pause: { durationSeconds: 1 } },
          ]),
        ),
      ),
    );
    // Both engines report how many deployments they drive, the whole time: never more than two in all.
    const load: { status: string; driving: number }[][] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        load.push(await Promise.all([engineOf(one), engineOf(two)]));
        await sleep(200);
      }
    })();
    const done = await Promise.all(created.map((d) => waitUntilFinished(reader, d.id))).finally(() => {
      sampling = false;
    });
    await sampler;
    expect(load.length).toBeGreaterThan(10);
    expect(load.flat().every((engine) => engine.status === 'pass')).toBe(true);
    expect(load.filter((round) => round[0]!.driving + round[1]!.driving > 2)).toEqual([]);

    const drivers: string[] = [];
    for (const [i, deployment] of done.entries()) {
      const { router } = fleetsHere[i] as Fleet;
      expect(deployment.status).toBe('promoted');
      expect(router.callsFor(deployment.id)).toEqual([
        'prepare',
        'setWeight(20)',
        'setWeight(60)',
        'promote',
      ]);
      // Every call once (one Idempotency-Key each, none repeated), never two at a time.
      const keys = router.calls.map((c) => c.idempotencyKey);
      expect(new Set(keys).size).toBe(keys.length);
      expect(router.overlaps).toBe(0);
      // One engine instance took the deployment and kept it to the end.
      const instances = instancesOf(deployment);
      expect(instances).toHaveLength(1);
      drivers.push(instances[0] as string);
      expect(eventsOf(deployment, 'resumed')).toEqual([]);
    }
    console.log(
      `two servers, two canaries: ${services.map((s, i) => `${s} driven by ${drivers[i]}`).join(', ')}` +
        ` (${new Set(drivers).size} distinct instance(s))`,
    );
  });
});
