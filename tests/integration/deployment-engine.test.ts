import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { claimDeployments, releaseLeases } from '../../db/repositories/deployment-leases';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { createLogger } from '../../server/base/logger';
import { createMetrics } from '../../server/base/metrics/metrics';
import { runAnalysis } from '../../server/services/deployments/analysis';
import { DeploymentEngine } from '../../server/services/deployments/deployment-engine';
import { type DeploymentActor, DeploymentService } from '../../server/services/deployments/deployments';
import { type DeploymentWithEvents, deploymentCreateInput } from '../../shared/devops-deployments';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';
import {
  errorRateAnalysis,
  eventually,
  newOrganizationUser,
  RecordingProvider,
  scriptedQuerier,
  TEST_DEPLOYMENT_KEK,
} from '../helpers/deployments';

/**
 * The engine across instances: every engine here is a separate "platform instance" with its own
 * pool and instance id, on one database, as two replicas or a restarted one would be.
 */

const logger = createLogger({ level: 'silent' });
const audit = new AuditLog(createMetrics({ build: readBuildInfo(), defaultMetrics: false }));
const querier = scriptedQuerier(() => 0.01);
const LEASE_MS = 1_000;
let testDb: OpenedTestDatabase;
let database: PlatformDatabase;
let provider: RecordingProvider;
let service: DeploymentService;
const running: DeploymentEngine[] = [];

/** A platform instance's engine: its own pool, a fresh instance id, the test's provider. */
function startEngine(): DeploymentEngine {
  const engine = new DeploymentEngine({
    database: testDb.open(),
    providerFor: provider.providerFor,
    kek: TEST_DEPLOYMENT_KEK,
    querierFor: () => querier,
    runAnalysis,
    audit,
    logger,
    pollMs: 30,
    leaseMs: LEASE_MS,
    renewMs: 200,
    providerRetry: { attempts: 3, baseMs: 10, maxMs: 40, timeoutMs: 2_000 },
  });
  engine.start();
  running.push(engine);
  return engine;
}

beforeAll(async () => {
  testDb = await openTestDatabase();
  database = testDb.database;
});

afterEach(async () => {
  for (const engine of running.splice(0)) await engine.stop();
});

afterAll(async () => {
  await testDb?.close();
});

function newService(): DeploymentService {
  provider = new RecordingProvider();
  service = new DeploymentService({
    database,
    audit,
    providerFor: provider.providerFor,
    kek: TEST_DEPLOYMENT_KEK,
  });
  return service;
}

function create(actor: DeploymentActor, input: Record<string, unknown>) {
  return service.create(
    actor,
    deploymentCreateInput.parse({ environment: 'production', provider: { kind: 'memory' }, ...input }),
  );
}

function waitFor(
  actor: DeploymentActor,
  id: string,
  what: string,
  done: (deployment: DeploymentWithEvents) => boolean,
  timeoutMs?: number,
): Promise<DeploymentWithEvents> {
  return eventually(
    what,
    async () => {
      const deployment = await service.get(actor, id);
      return done(deployment) ? deployment : undefined;
    },
    timeoutMs,
  );
}

function leaseOf(id: string) {
  return database.db
    .selectFrom('deployments')
    .select(['lease_owner', 'lease_expires_at'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

/** The steps begun, by index: each exactly once when nothing was repeated. */
const begun = (deployment: DeploymentWithEvents) =>
  deployment.events.filter((e) => e.type === 'step_started').map((e) => e.step);

describe('a restarted instance resumes deployments where they were', () => {
  it('resumes a canary mid-pause from another instance once the lease expires, with the pause’s remainder', async () => {
    newService();
    const actor = await newOrganizationUser(database.db);
    const first = startEngine();
    const created = await create(actor, {
      service: 'checkout',
      version: 'v2',
      stableVersion: 'v1',
      spec: {
        strategy: 'canary',
        steps: [
          { setWeight: 20 },
          { pause: { durationSeconds: 1.5 } },
          { setWeight: 60 },
          { analysis: errorRateAnalysis({ count: 2 }) },
        ],
      },
    });
    await waitFor(
      actor,
      created.id,
      'the pause to begin',
      (d) => d.currentStep === 2 && d.stepState.until !== undefined,
    );
    // A crash: the engine stops driving and leaves its lease behind.
    await first.stop({ releaseLeases: false });
    const abandoned = await leaseOf(created.id);
    expect(abandoned.lease_owner).toBe(first.instanceId);
    const calledBefore = provider.callsFor(created.id);
    expect(calledBefore).toEqual(['prepare', 'setWeight(20)']);

    const second = startEngine();
    const done = await waitFor(actor, created.id, 'promotion', (d) => d.status === 'promoted');
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'setWeight(20)', 'setWeight(60)', 'promote']);
    expect(begun(done)).toEqual([0, 1, 2, 3, 4, 5]);

    const resumed = done.events.filter((e) => e.type === 'resumed');
    expect(resumed).toHaveLength(1);
    const [resumption] = resumed;
    expect(resumption).toMatchObject({
      step: 2,
      details: { instance: second.instanceId, step: 'pause 1.5 s' },
    });
    // Taken over only once the crashed instance's lease had expired.
    expect(Date.parse(resumption!.at)).toBeGreaterThanOrEqual(
      new Date(abandoned.lease_expires_at!).getTime(),
    );
    // The pause went on for what was left of it, and ended at its original deadline, not later.
    const remainingMs = resumption!.details.remainingMs as number;
    expect(remainingMs).toBeLessThan(1_500);
    const pauseStarted = done.events.find((e) => e.type === 'step_started' && e.step === 2)!;
    const pauseEnded = done.events.find((e) => e.type === 'step_completed' && e.step === 2)!;
    expect(pauseEnded.details.instance).toBe(second.instanceId);
    expect(Date.parse(pauseEnded.at)).toBeGreaterThanOrEqual(
      Date.parse(pauseStarted.details.until as string),
    );
    // Everything before the crash was the first instance's, everything after the second's.
    const drivers = done.events.filter((e) => e.type !== 'created').map((e) => e.details.instance);
    const switchAt = drivers.indexOf(second.instanceId);
    expect(new Set(drivers.slice(0, switchAt))).toEqual(new Set([first.instanceId]));
    expect(new Set(drivers.slice(switchAt))).toEqual(new Set([second.instanceId]));
  });

  it('resumes an analysis from the measurements already taken', async () => {
    newService();
    const actor = await newOrganizationUser(database.db);
    const first = startEngine();
    const created = await create(actor, {
      service: 'search',
      version: 'v2',
      stableVersion: 'v1',
      spec: {
        strategy: 'canary',
        steps: [{ analysis: errorRateAnalysis({ count: 6, intervalSeconds: 0.15 }) }],
      },
    });
    await waitFor(actor, created.id, 'two measurements', (d) => (d.stepState.measurements?.length ?? 0) >= 2);
    await first.stop({ releaseLeases: false });
    const taken = (await service.get(actor, created.id)).stepState.measurements?.length ?? 0;
    expect(taken).toBeGreaterThanOrEqual(2);
    expect(taken).toBeLessThan(6);

    const second = startEngine();
    const done = await waitFor(actor, created.id, 'promotion', (d) => d.status === 'promoted');
    const measurements = done.events.filter((e) => e.type === 'measurement');
    expect(measurements).toHaveLength(6);
    expect(measurements.slice(0, taken).every((e) => e.details.instance === first.instanceId)).toBe(true);
    expect(measurements.slice(taken).every((e) => e.details.instance === second.instanceId)).toBe(true);
    expect(done.events.find((e) => e.type === 'resumed')?.details).toMatchObject({ measurements: taken });
    expect(done.events.find((e) => e.type === 'analysis_completed')?.details).toMatchObject({
      outcome: 'successful',
      metrics: { 'error-rate': { values: Array(6).fill(0.01) } },
    });
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'promote']);
  });

  it('hands deployments over at once when an instance stops cleanly', async () => {
    newService();
    const actor = await newOrganizationUser(database.db);
    const first = startEngine();
    const created = await create(actor, {
      service: 'cart',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary', steps: [{ setWeight: 20 }, { pause: { durationSeconds: 2 } }] },
    });
    await waitFor(
      actor,
      created.id,
      'the pause to begin',
      (d) => d.currentStep === 2 && d.stepState.until !== undefined,
    );
    const held = await leaseOf(created.id);
    await first.stop();
    expect(await leaseOf(created.id)).toEqual({ lease_owner: null, lease_expires_at: null });
    const second = startEngine();
    const resumed = await waitFor(actor, created.id, 'the takeover', (d) =>
      d.events.some((e) => e.type === 'resumed'),
    );
    const resumption = resumed.events.find((e) => e.type === 'resumed')!;
    expect(resumption.details.instance).toBe(second.instanceId);
    // Before the released lease would have run out.
    expect(Date.parse(resumption.at)).toBeLessThan(new Date(held.lease_expires_at!).getTime());
    await service.abort(actor, { id: created.id });
    await waitFor(actor, created.id, 'the abort', (d) => d.status === 'aborted');
  });
});

describe('two instances on one database', () => {
  it('never claims one deployment for two instances, however the claims interleave', async () => {
    newService();
    const actor = await newOrganizationUser(database.db);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const created = await create(actor, {
        service: `claim-${i}`,
        version: 'v2',
        spec: { strategy: 'canary', steps: [{ setWeight: 50 }] },
      });
      ids.push(created.id);
    }
    const claimed = new Map<string, string>();
    // As an engine does: what it already drives is excluded, so each claim looks for more.
    const claim = (owner: string) =>
      claimDeployments(database.db, {
        owner,
        leaseMs: 60_000,
        limit: 5,
        exclude: [...claimed].filter(([, holder]) => holder === owner).map(([id]) => id),
      });
    for (let round = 0; round < 6 && claimed.size < ids.length; round++) {
      const [a, b] = await Promise.all([claim('instance-a'), claim('instance-b')]);
      for (const [owner, rows] of [
        ['instance-a', a],
        ['instance-b', b],
      ] as const) {
        for (const row of rows) {
          // Never a row the other instance holds.
          expect(claimed.get(row.id) ?? owner).toBe(owner);
          claimed.set(row.id, owner);
        }
      }
    }
    expect([...claimed.keys()].sort()).toEqual([...ids].sort());
    const leases = await database.db
      .selectFrom('deployments')
      .select(['id', 'lease_owner'])
      .where('id', 'in', ids)
      .execute();
    for (const lease of leases) expect(lease.lease_owner).toBe(claimed.get(lease.id));
    await releaseLeases(database.db, 'instance-a');
    await releaseLeases(database.db, 'instance-b');
    for (const id of ids) await service.abort(actor, { id });
  });

  it('drives each deployment with exactly one instance: every provider call made once, none overlapping', async () => {
    newService();
    const actor = await newOrganizationUser(database.db);
    const engines = [startEngine(), startEngine()];
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const created = await create(actor, {
        service: `fleet-${i}`,
        version: 'v2',
        stableVersion: 'v1',
        spec: {
          strategy: 'canary',
          steps: [
            { setWeight: 10 },
            { pause: { durationSeconds: 0.1 } },
            { analysis: errorRateAnalysis({ count: 2 }) },
            { setWeight: 50 },
          ],
        },
      });
      ids.push(created.id);
    }
    const instances = engines.map((engine) => engine.instanceId);
    for (const id of ids) {
      const done = await waitFor(actor, id, `promotion of ${id}`, (d) => d.status === 'promoted', 20_000);
      expect(provider.callsFor(id)).toEqual(['prepare', 'setWeight(10)', 'setWeight(50)', 'promote']);
      expect(begun(done)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(done.events.filter((e) => e.type === 'measurement')).toHaveLength(2);
      // Leases renewed in time never change hands: one instance wrote every engine event.
      const drivers = new Set(done.events.filter((e) => e.type !== 'created').map((e) => e.details.instance));
      expect(drivers.size).toBe(1);
      expect(instances).toContain([...drivers][0]);
    }
    expect(provider.overlaps).toBe(0);
  });
});
