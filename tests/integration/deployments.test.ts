import { randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { AuditLog } from '../../server/base/audit';
import { readBuildInfo } from '../../server/base/build-info';
import { PlatformError } from '../../server/base/errors';
import { createLogger } from '../../server/base/logger';
import { createMetrics } from '../../server/base/metrics/metrics';
import type { Principal } from '../../server/base/principal';
import { appRouter } from '../../server/http/routers/index';
import { createCallerFactory } from '../../server/http/trpc';
import { runAnalysis } from '../../server/services/deployments/analysis';
import { DeploymentEngine } from '../../server/services/deployments/deployment-engine';
import { type DeploymentActor, DeploymentService } from '../../server/services/deployments/deployments';
import {
  type DeploymentStatus,
  type DeploymentWithEvents,
  deploymentCreateInput,
} from '../../shared/devops-deployments';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';
import {
  errorRateAnalysis,
  eventually,
  newOrganizationUser,
  RecordingProvider,
  scriptedQuerier,
  TEST_DEPLOYMENT_KEK,
} from '../helpers/deployments';
import { closeRouterDeps, routerContext, routerDeps } from '../helpers/router-context';

const logger = createLogger({ level: 'silent' });
let testDb: OpenedTestDatabase;
let database: PlatformDatabase;
let service: DeploymentService;
let engine: DeploymentEngine;
const provider = new RecordingProvider();
/** Each version's error rate as the metric source reports it; 1 % unless a test says otherwise. */
const errorRates = new Map<string, number | null>();
const querier = scriptedQuerier((version) =>
  errorRates.has(version) ? (errorRates.get(version) ?? null) : 0.01,
);

beforeAll(async () => {
  testDb = await openTestDatabase();
  database = testDb.database;
  const audit = new AuditLog(createMetrics({ build: readBuildInfo(), defaultMetrics: false }));
  service = new DeploymentService({
    database,
    audit,
    providerFor: provider.providerFor,
    kek: TEST_DEPLOYMENT_KEK,
  });
  engine = new DeploymentEngine({
    database,
    providerFor: provider.providerFor,
    kek: TEST_DEPLOYMENT_KEK,
    querierFor: () => querier,
    runAnalysis,
    audit,
    logger,
    pollMs: 50,
    leaseMs: 2_000,
    providerRetry: { attempts: 3, baseMs: 10, maxMs: 40, timeoutMs: 2_000 },
  });
  engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await testDb?.close();
});

/** Creates a deployment the way the procedure does: the input goes through its schema first. */
function create(actor: DeploymentActor, input: Record<string, unknown>) {
  return service.create(actor, deploymentCreateInput.parse({ provider: { kind: 'memory' }, ...input }));
}

function waitForStatus(
  actor: DeploymentActor,
  id: string,
  status: DeploymentStatus,
): Promise<DeploymentWithEvents> {
  return eventually(`deployment ${id} to be ${status}`, async () => {
    const deployment = await service.get(actor, id);
    return deployment.status === status ? deployment : undefined;
  });
}

async function refusal(work: Promise<unknown>): Promise<PlatformError> {
  const error = await work.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

function auditTypes(organizationId: string) {
  return database.db
    .selectFrom('audit_events')
    .select(['type', 'target_id', 'actor_user_id', 'details'])
    .where('organization_id', '=', organizationId)
    .orderBy('id')
    .execute();
}

describe('canary deployments', () => {
  it('drives a canary through set-weight, pause and analysis steps and promotes it', async () => {
    const actor = await newOrganizationUser(database.db);
    const created = await create(actor, {
      service: 'checkout',
      environment: 'production',
      version: 'v2',
      stableVersion: 'v1',
      spec: {
        strategy: 'canary',
        steps: [
          { setWeight: 20 },
          { pause: { durationSeconds: 0.2 } },
          { analysis: errorRateAnalysis() },
          { setWeight: 50 },
          { analysis: errorRateAnalysis({ count: 2 }) },
        ],
      },
    });
    expect(created).toMatchObject({ status: 'pending', stableVersion: 'v1', currentStep: 0 });
    expect(created.plan.map((step) => step.kind)).toEqual([
      'prepare',
      'setWeight',
      'pause',
      'analysis',
      'setWeight',
      'analysis',
      'promote',
    ]);

    const done = await waitForStatus(actor, created.id, 'promoted');
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'setWeight(20)', 'setWeight(50)', 'promote']);
    expect(done).toMatchObject({ currentStep: 7, requestedAction: null, pausedReason: null });
    expect(done.finishedAt).not.toBeNull();

    const transitions = done.events.filter((e) => e.toStatus).map((e) => `${e.fromStatus}→${e.toStatus}`);
    expect(transitions).toEqual(['null→pending', 'pending→progressing', 'progressing→promoted']);
    const started = done.events.filter((e) => e.type === 'step_started').map((e) => e.step);
    const completed = done.events.filter((e) => e.type === 'step_completed').map((e) => e.step);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(completed).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // The history holds every measured value, and each analysis's verdict with them.
    const measured = done.events.filter((e) => e.type === 'measurement');
    expect(measured.map((e) => [e.step, e.details.value, e.details.phase])).toEqual([
      [3, 0.01, 'successful'],
      [3, 0.01, 'successful'],
      [3, 0.01, 'successful'],
      [5, 0.01, 'successful'],
      [5, 0.01, 'successful'],
    ]);
    const verdicts = done.events.filter((e) => e.type === 'analysis_completed');
    expect(verdicts.map(({ details: { outcome, metrics } }) => ({ outcome, metrics }))).toEqual([
      {
        outcome: 'successful',
        metrics: { 'error-rate': { values: [0.01, 0.01, 0.01], phases: Array(3).fill('successful') } },
      },
      {
        outcome: 'successful',
        metrics: { 'error-rate': { values: [0.01, 0.01], phases: Array(2).fill('successful') } },
      },
    ]);
    // The pause lasted its duration, by the database's clock.
    const pauseStart = done.events.find((e) => e.type === 'step_started' && e.step === 2)!;
    const pauseEnd = done.events.find((e) => e.type === 'step_completed' && e.step === 2)!;
    const { startedAt, until } = pauseStart.details as { startedAt: string; until: string };
    expect(Date.parse(until) - Date.parse(startedAt)).toBe(200);
    expect(Date.parse(pauseEnd.at)).toBeGreaterThanOrEqual(Date.parse(until));
    expect(done.events.every((e) => e.type === 'created' || e.details.instance === engine.instanceId)).toBe(
      true,
    );

    // The promoted version is the stable one of the next deployment.
    const next = await create(actor, {
      service: 'checkout',
      environment: 'production',
      version: 'v3',
      spec: { strategy: 'canary', steps: [{ setWeight: 100 }] },
    });
    expect(next.stableVersion).toBe('v2');
    await waitForStatus(actor, next.id, 'promoted');
    expect((await auditTypes(actor.organizationId)).map((e) => [e.type, e.target_id])).toEqual([
      ['deployment_created', created.id],
      ['deployment_created', next.id],
    ]);
  });

  it('rolls a canary back by itself when its analysis fails, marks the version bad and refuses it afterwards', async () => {
    const actor = await newOrganizationUser(database.db);
    errorRates.set('v3-bad', 0.4);
    const created = await create(actor, {
      service: 'search',
      environment: 'production',
      version: 'v3-bad',
      stableVersion: 'v2',
      spec: {
        strategy: 'canary',
        steps: [{ setWeight: 20 }, { analysis: errorRateAnalysis({ failureLimit: 1 }) }, { setWeight: 100 }],
      },
    });
    const done = await waitForStatus(actor, created.id, 'rolled_back');
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'setWeight(20)', 'rollback']);
    expect(provider.calls.filter((c) => c.deploymentId === created.id).at(-1)).toMatchObject({
      version: 'v3-bad',
      stableVersion: 'v2',
    });
    // failureLimit 1: the second failed measurement decides.
    const measured = done.events.filter((e) => e.type === 'measurement');
    expect(measured.map((e) => [e.details.value, e.details.phase])).toEqual([
      [0.4, 'failed'],
      [0.4, 'failed'],
    ]);
    expect(done.events.find((e) => e.type === 'analysis_completed')?.details.outcome).toBe('failed');
    const types = done.events.map((e) => e.type);
    expect(types.slice(types.indexOf('analysis_completed'))).toEqual([
      'analysis_completed',
      'version_marked_bad',
      'rolled_back',
    ]);
    expect(done.events.at(-1)).toMatchObject({
      type: 'rolled_back',
      fromStatus: 'progressing',
      toStatus: 'rolled_back',
      details: { reason: 'the analysis failed', stableVersion: 'v2' },
    });
    expect(done.stepState.measurements).toHaveLength(2);

    const bad = await database.db
      .selectFrom('bad_versions')
      .selectAll()
      .where('organization_id', '=', actor.organizationId)
      .execute();
    expect(bad).toMatchObject([
      { service: 'search', environment: 'production', version: 'v3-bad', deployment_id: created.id },
    ]);
    const audits = await auditTypes(actor.organizationId);
    expect(audits.at(-1)).toMatchObject({
      type: 'deployment_rolled_back',
      actor_user_id: null,
      details: { automatic: true, version: 'v3-bad' },
    });

    const again = await refusal(
      create(actor, {
        service: 'search',
        environment: 'production',
        version: 'v3-bad',
        spec: { strategy: 'canary', steps: [{ setWeight: 100 }] },
      }),
    );
    expect(again.code).toBe('BAD_REQUEST');
    expect(again.message).toMatch(
      /^version v3-bad is marked bad \(the analysis failed, .+\): deploy a fixed version/,
    );
    // Only for that service and environment: staging may still take it.
    const staging = await create(actor, {
      service: 'search',
      environment: 'staging',
      version: 'v3-bad',
      spec: { strategy: 'canary', steps: [{ setWeight: 100 }] },
    });
    await service.abort(actor, { id: staging.id });
  });

  it('pauses on an inconclusive analysis until an operator promotes it', async () => {
    const actor = await newOrganizationUser(database.db);
    errorRates.set('v4-unsure', 0.07);
    const created = await create(actor, {
      service: 'cart',
      environment: 'production',
      version: 'v4-unsure',
      stableVersion: 'v3',
      spec: {
        strategy: 'canary',
        steps: [{ setWeight: 20 }, { analysis: errorRateAnalysis() }, { setWeight: 50 }],
      },
    });
    const paused = await waitForStatus(actor, created.id, 'paused');
    expect(paused.currentStep).toBe(2);
    expect(paused.pausedReason).toMatch(/inconclusive/);
    expect(paused.stepState.awaiting).toEqual({ kind: 'inconclusive', resume: 'next' });
    expect(paused.stepState.measurements?.map((m) => m.phase)).toEqual(['inconclusive']);
    expect(paused.events.at(-1)).toMatchObject({
      type: 'paused',
      fromStatus: 'progressing',
      toStatus: 'paused',
    });
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'setWeight(20)']);

    const promoting = await service.promote(actor, {
      id: created.id,
      reason: 'the 7 % are one noisy client',
    });
    expect(promoting).toMatchObject({ status: 'progressing', currentStep: 4 });
    await waitForStatus(actor, created.id, 'promoted');
    // Full promotion: the remaining set-weight step is skipped.
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'setWeight(20)', 'promote']);
    const audits = await auditTypes(actor.organizationId);
    expect(audits.at(-1)).toMatchObject({
      type: 'deployment_promoted',
      actor_user_id: actor.userId,
      details: { fromStep: 2, reason: 'the 7 % are one noisy client' },
    });
  });

  it('waits at manual gates and at a pause without duration until each is approved', async () => {
    const actor = await newOrganizationUser(database.db);
    const created = await create(actor, {
      service: 'payments',
      environment: 'production',
      version: 'v8',
      stableVersion: 'v7',
      spec: {
        strategy: 'canary',
        steps: [
          { setWeight: 10, gate: true },
          { pause: {} },
          { gate: { name: 'qa sign-off' } },
          { setWeight: 50 },
        ],
      },
    });
    expect(created.plan).toEqual([
      { kind: 'prepare' },
      { kind: 'setWeight', weight: 10 },
      { kind: 'gate', name: 'after step 1' },
      { kind: 'pause', durationSeconds: null, purpose: 'pause' },
      { kind: 'gate', name: 'qa sign-off' },
      { kind: 'setWeight', weight: 50 },
      { kind: 'promote' },
    ]);
    const atGate = await waitForStatus(actor, created.id, 'paused');
    expect(atGate).toMatchObject({
      currentStep: 2,
      pausedReason: 'waiting for approval at gate "after step 1"',
    });

    // Several engine polls later it still waits, and nothing moved.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await service.get(actor, created.id)).toMatchObject({ status: 'paused', currentStep: 2 });
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'setWeight(10)']);

    const stale = await refusal(service.approve(actor, { id: created.id, step: 1 }));
    expect(stale).toMatchObject({ code: 'CONFLICT', message: 'the deployment waits at step 2, not 1' });

    await service.approve(actor, { id: created.id, step: 2, comment: '10 % looks fine' });
    expect(await waitForStatus(actor, created.id, 'paused')).toMatchObject({ currentStep: 3 });
    await service.approve(actor, { id: created.id, step: 3 });
    const atQa = await waitForStatus(actor, created.id, 'paused');
    expect(atQa).toMatchObject({
      currentStep: 4,
      pausedReason: 'waiting for approval at gate "qa sign-off"',
    });
    await service.approve(actor, { id: created.id });
    const done = await waitForStatus(actor, created.id, 'promoted');
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'setWeight(10)', 'setWeight(50)', 'promote']);
    const approvals = done.events.filter((e) => e.type === 'approved');
    expect(approvals.map((e) => [e.step, e.details.by, e.details.comment])).toEqual([
      [2, actor.userId, '10 % looks fine'],
      [3, actor.userId, undefined],
      [4, actor.userId, undefined],
    ]);

    const late = await refusal(service.approve(actor, { id: created.id }));
    expect(late).toMatchObject({
      code: 'CONFLICT',
      message: 'the deployment is promoted: nothing waits for approval',
    });
    const audits = (await auditTypes(actor.organizationId)).map((e) => e.type);
    expect(audits).toEqual([
      'deployment_created',
      'deployment_approved',
      'deployment_approved',
      'deployment_approved',
    ]);
  });

  it('aborts a deployment under way, cutting its pause short, and returns traffic to the stable version', async () => {
    const actor = await newOrganizationUser(database.db);
    const created = await create(actor, {
      service: 'profile',
      environment: 'production',
      version: 'v5',
      stableVersion: 'v4',
      spec: { strategy: 'canary', steps: [{ setWeight: 30 }, { pause: { durationSeconds: 60 } }] },
    });
    await eventually('the pause to begin', async () => {
      const deployment = await service.get(actor, created.id);
      return deployment.currentStep === 2 && deployment.stepState.until !== undefined;
    });
    const aborting = await service.abort(actor, { id: created.id, reason: 'wrong feature flag' });
    expect(aborting).toMatchObject({ status: 'progressing', requestedAction: 'abort' });
    const again = await service.abort(actor, { id: created.id });
    expect(again.requestedAction).toBe('abort');

    const done = await waitForStatus(actor, created.id, 'aborted');
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'setWeight(30)', 'rollback']);
    expect(done).toMatchObject({ requestedAction: null });
    expect(done.events.slice(-2)).toMatchObject([
      { type: 'abort_requested', details: { by: actor.userId, reason: 'wrong feature flag' } },
      { type: 'aborted', fromStatus: 'progressing', toStatus: 'aborted', details: { stableVersion: 'v4' } },
    ]);
    // An operator's abort is no verdict on the version.
    const bad = await database.db
      .selectFrom('bad_versions')
      .select('version')
      .where('version', '=', 'v5')
      .execute();
    expect(bad).toEqual([]);
    expect(await refusal(service.abort(actor, { id: created.id }))).toMatchObject({ code: 'CONFLICT' });
    expect((await auditTypes(actor.organizationId)).map((e) => e.type)).toEqual([
      'deployment_created',
      'deployment_aborted',
    ]);
  });
});

describe('the rules', () => {
  it('lets one deployment per service and environment be active, enforced by the database', async () => {
    const actor = await newOrganizationUser(database.db);
    const input = {
      service: 'orders',
      environment: 'production',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary', steps: [{ pause: {} }] },
    };
    const attempts = await Promise.allSettled(Array.from({ length: 6 }, () => create(actor, input)));
    const won = attempts.filter((a) => a.status === 'fulfilled');
    const lost = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(5);
    const winner = (won[0] as PromiseFulfilledResult<{ id: string }>).value;
    for (const { reason } of lost) {
      expect(reason).toBeInstanceOf(PlatformError);
      expect(reason).toMatchObject({ code: 'CONFLICT' });
      expect(reason.message).toContain(winner.id);
    }
    // Another environment is another rollout.
    const staging = await create(actor, { ...input, environment: 'staging' });

    // Written around the service, the database itself still refuses it.
    const direct = await database.db
      .insertInto('deployments')
      .values({
        organization_id: actor.organizationId,
        service: 'orders',
        environment: 'production',
        version: 'v9',
        strategy: 'canary',
        spec: JSON.stringify(input.spec),
        provider: JSON.stringify({ kind: 'memory', config: {} }),
      })
      .execute()
      .then(
        () => null,
        (error: { code?: string; constraint?: string }) => error,
      );
    expect(direct).toMatchObject({ code: '23505', constraint: 'deployments_one_active_idx' });

    await waitForStatus(actor, winner.id, 'paused');
    await service.abort(actor, { id: winner.id });
    await waitForStatus(actor, winner.id, 'aborted');
    const next = await create(actor, { ...input, version: 'v3' });
    expect(next.status).toBe('pending');
    for (const id of [next.id, staging.id]) await service.abort(actor, { id });
  });

  it('retries a provider call that fails for a while, and pauses on one that keeps failing until approved', async () => {
    const actor = await newOrganizationUser(database.db);
    const spec = { strategy: 'canary', steps: [{ setWeight: 20 }] };
    provider.failNext('setWeight', 2, 'load balancer busy');
    const flaky = await create(actor, {
      service: 'mailer',
      environment: 'production',
      version: 'v2',
      stableVersion: 'v1',
      spec,
    });
    const recovered = await waitForStatus(actor, flaky.id, 'promoted');
    expect(provider.callsFor(flaky.id)).toEqual(['prepare', 'setWeight(20)', 'promote']);
    expect(recovered.events.filter((e) => e.type === 'provider_error').map((e) => e.details)).toMatchObject([
      { call: 'setWeight(20)', attempt: 1, error: 'load balancer busy' },
      { call: 'setWeight(20)', attempt: 2, error: 'load balancer busy' },
    ]);

    provider.failNext('setWeight', 3, 'load balancer down');
    const broken = await create(actor, { service: 'mailer', environment: 'production', version: 'v3', spec });
    const paused = await waitForStatus(actor, broken.id, 'paused');
    expect(paused.pausedReason).toBe(
      'setWeight(20) failed 3 times; last error: load balancer down; approve to try again, or abort',
    );
    expect(paused.stepState.awaiting).toEqual({ kind: 'providerError', resume: 'same' });
    expect(
      paused.events.filter((e) => e.type === 'provider_error').map((e) => e.details.retryInMs === null),
    ).toEqual([false, false, true]);
    await service.approve(actor, { id: broken.id });
    await waitForStatus(actor, broken.id, 'promoted');
    expect(provider.callsFor(broken.id)).toEqual(['prepare', 'setWeight(20)', 'promote']);
  });

  it('fails a deployment whose rollback keeps failing, says why, and rolls it back when asked again', async () => {
    const actor = await newOrganizationUser(database.db);
    const created = await create(actor, {
      service: 'billing',
      environment: 'production',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary', steps: [{ setWeight: 20 }, { pause: {} }] },
    });
    await waitForStatus(actor, created.id, 'paused');
    provider.failNext('rollback', 3, 'cluster unreachable');
    await service.abort(actor, { id: created.id });
    const failed = await waitForStatus(actor, created.id, 'failed');
    expect(failed.events.at(-1)).toMatchObject({
      type: 'failed',
      fromStatus: 'paused',
      toStatus: 'failed',
      details: { during: 'aborted', error: 'rollback failed 3 times; last error: cluster unreachable' },
    });
    await service.rollback(actor, { id: created.id, markBad: false });
    await waitForStatus(actor, created.id, 'rolled_back');
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'setWeight(20)', 'rollback']);
  });

  it('rolls a promoted deployment back to the version it replaced, never to a version marked bad', async () => {
    const actor = await newOrganizationUser(database.db);
    const deploy = async (version: string, extra: Record<string, unknown> = {}) => {
      const created = await create(actor, {
        service: 'catalog',
        environment: 'production',
        version,
        spec: { strategy: 'canary', steps: [{ setWeight: 100 }] },
        ...extra,
      });
      return waitForStatus(actor, created.id, 'promoted');
    };
    const first = await deploy('v1', { stableVersion: 'v0' });
    const second = await deploy('v2');
    expect(second.stableVersion).toBe('v1');

    const replaced = await refusal(service.rollback(actor, { id: first.id, markBad: false }));
    expect(replaced).toMatchObject({ code: 'CONFLICT' });
    expect(replaced.message).toContain(`a later deployment (${second.id}, version v2) replaced this one`);

    const rolling = await service.rollback(actor, { id: second.id, reason: 'slow queries', markBad: true });
    expect(rolling).toMatchObject({ status: 'promoted', requestedAction: 'rollback' });
    const rolledBack = await waitForStatus(actor, second.id, 'rolled_back');
    expect(provider.calls.filter((c) => c.deploymentId === second.id).at(-1)).toMatchObject({
      call: 'rollback',
      version: 'v2',
      stableVersion: 'v1',
    });
    expect(rolledBack.events.map((e) => e.type).slice(-3)).toEqual([
      'rollback_requested',
      'version_marked_bad',
      'rolled_back',
    ]);
    expect((await refusal(deploy('v2'))).message).toMatch(/^version v2 is marked bad \(slow queries/);

    // v1 serves again: it is the next deployment's stable version.
    const third = await deploy('v3');
    expect(third.stableVersion).toBe('v1');
    // v1 goes bad through a failed analysis of a redeployment of it...
    errorRates.set('v1', 0.5);
    const redeploy = await create(actor, {
      service: 'catalog',
      environment: 'production',
      version: 'v1',
      spec: { strategy: 'canary', steps: [{ setWeight: 10 }, { analysis: errorRateAnalysis({ count: 1 }) }] },
    });
    await waitForStatus(actor, redeploy.id, 'rolled_back');
    // ...so v3 can no longer be rolled back to it.
    const toBad = await refusal(service.rollback(actor, { id: third.id, markBad: false }));
    expect(toBad.code).toBe('CONFLICT');
    expect(toBad.message).toMatch(
      /^version v1 is marked bad \(the analysis failed, .+\): deploy a fixed version/,
    );

    const firstEver = await deploy('v1', { service: 'catalog-new', stableVersion: undefined });
    expect(await refusal(service.rollback(actor, { id: firstEver.id, markBad: false }))).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'this was the first deployment of the service: there is no earlier version',
    });
  });

  it('seals provider secrets at rest, opens them for the provider only, and shows them to nobody', async () => {
    const actor = await newOrganizationUser(database.db);
    const secret = `hmac-${randomBytes(16).toString('hex')}`;
    const token = `kube-${randomBytes(16).toString('hex')}`;
    const config = {
      url: 'https://deploy.example/hooks/checkout',
      secret,
      cluster: { token, namespace: 'shop' },
    };
    const created = await create(actor, {
      service: 'vault',
      environment: 'production',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary', steps: [{ setWeight: 100 }] },
      provider: { kind: 'memory', config },
    });
    const redacted = {
      url: config.url,
      secret: '[redacted]',
      cluster: { token: '[redacted]', namespace: 'shop' },
    };
    expect(created.provider).toEqual({ kind: 'memory', config: redacted });
    const done = await waitForStatus(actor, created.id, 'promoted');
    expect(done.provider.config).toEqual(redacted);
    expect((await service.list(actor, { limit: 10 })).items[0]?.provider.config).toEqual(redacted);
    // The registry got them as given: once to check them at create, then for each of the three calls.
    expect(provider.configs.filter((c) => c.url === config.url)).toEqual(Array(4).fill(config));

    const stored = await database.db
      .selectFrom('deployments')
      .select('provider')
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    const everything = JSON.stringify([
      stored,
      await database.db.selectFrom('deployment_events').selectAll().execute(),
      await database.db.selectFrom('audit_events').selectAll().execute(),
    ]);
    for (const value of [secret, token]) expect(everything).not.toContain(value);
    expect(stored.provider.config).toMatchObject({
      url: config.url,
      secret: { $sealed: expect.stringMatching(/^v1\./) },
    });

    // Sealed for one deployment, a secret does not open for another: it is bound to the row.
    const other = await create(actor, {
      service: 'vault',
      environment: 'staging',
      version: 'v2',
      spec: { strategy: 'canary', steps: [{ pause: {} }, { setWeight: 50 }] },
      provider: { kind: 'memory', config: { url: config.url } },
    });
    await waitForStatus(actor, other.id, 'paused');
    await database.db
      .updateTable('deployments')
      .set({ provider: sql`${JSON.stringify(stored.provider)}::jsonb` })
      .where('id', '=', other.id)
      .execute();
    await service.approve(actor, { id: other.id });
    const refused = await eventually('the refusal', async () => {
      const deployment = await service.get(actor, other.id);
      return deployment.status === 'paused' && deployment.currentStep === 2 ? deployment : undefined;
    });
    expect(refused.pausedReason).toMatch(
      /^setWeight\(50\) failed 1 times; last error: the memory provider could not be set up: the sealed secret failed authentication/,
    );
    expect(provider.callsFor(other.id)).toEqual(['prepare']);
    await service.abort(actor, { id: other.id });
  });

  it('keeps every deployment within its organization', async () => {
    const owner = await newOrganizationUser(database.db);
    const stranger = await newOrganizationUser(database.db);
    const created = await create(owner, {
      service: 'reports',
      environment: 'production',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary', steps: [{ pause: {} }] },
    });
    await waitForStatus(owner, created.id, 'paused');
    for (const attempt of [
      () => service.get(stranger, created.id),
      () => service.approve(stranger, { id: created.id }),
      () => service.promote(stranger, { id: created.id }),
      () => service.abort(stranger, { id: created.id }),
      () => service.rollback(stranger, { id: created.id, markBad: true }),
    ]) {
      expect(await refusal(attempt())).toMatchObject({ code: 'NOT_FOUND', message: 'no such deployment' });
    }
    expect((await service.list(stranger, { limit: 50 })).items).toEqual([]);
    expect((await service.get(owner, created.id)).status).toBe('paused');
    // The same service name in another organization is another service.
    const theirs = await create(stranger, {
      service: 'reports',
      environment: 'production',
      version: 'v2',
      spec: { strategy: 'canary', steps: [{ pause: {} }] },
    });
    for (const [actor, id] of [
      [owner, created.id],
      [stranger, theirs.id],
    ] as const)
      await service.abort(actor, { id });
  });
});

describe('blue-green and rolling deployments', () => {
  it('analyses the blue-green preview, waits for the cut-over approval, then keeps the old version through the scale-down delay', async () => {
    const actor = await newOrganizationUser(database.db);
    const created = await create(actor, {
      service: 'storefront',
      environment: 'production',
      version: 'green-2',
      stableVersion: 'blue-1',
      spec: {
        strategy: 'blueGreen',
        previewAnalysis: errorRateAnalysis({ count: 2 }),
        autoPromote: false,
        scaleDownDelaySeconds: 0.2,
      },
    });
    expect(created.plan.map((s) => s.kind)).toEqual(['prepare', 'analysis', 'gate', 'promote', 'pause']);
    const waiting = await waitForStatus(actor, created.id, 'paused');
    expect(waiting).toMatchObject({
      currentStep: 2,
      pausedReason: 'waiting for approval at gate "promotion"',
    });
    expect(provider.callsFor(created.id)).toEqual(['prepare']);
    await service.approve(actor, { id: created.id });
    const done = await waitForStatus(actor, created.id, 'promoted');
    expect(provider.callsFor(created.id)).toEqual(['prepare', 'promote']);
    const delay = done.events.find((e) => e.type === 'step_started' && e.step === 4);
    expect(delay?.details).toMatchObject({ kind: 'pause', step: 'pause 0.2 s' });
  });

  it('updates a rolling deployment in batches of maxSurge + maxUnavailable with an analysis after each', async () => {
    const actor = await newOrganizationUser(database.db);
    const created = await create(actor, {
      service: 'workers',
      environment: 'production',
      version: 'v6',
      stableVersion: 'v5',
      spec: {
        strategy: 'rolling',
        replicas: 5,
        maxSurge: 1,
        maxUnavailable: 1,
        analysisPerBatch: errorRateAnalysis({ count: 1 }),
        pauseBetweenBatchesSeconds: 0.05,
      },
    });
    const done = await waitForStatus(actor, created.id, 'promoted');
    expect(provider.callsFor(created.id)).toEqual([
      'prepare',
      'scale(2/5)',
      'scale(4/5)',
      'scale(5/5)',
      'promote',
    ]);
    expect(done.events.filter((e) => e.type === 'analysis_completed')).toHaveLength(3);
  });
});

describe('devops.deployments procedures', () => {
  afterAll(closeRouterDeps);
  // The app's router over its own dependencies (maintenance off), with this file's deployment service in place.
  const callerFor = (principal: Principal) =>
    createCallerFactory(appRouter)(
      routerContext(
        principal,
        routerDeps((deps) => ({ devops: { ...deps.devops, deployments: service } })),
      ),
    ).devops;
  const user = (actor: { organizationId: string; userId: string }, role: Principal['role']): Principal => ({
    kind: 'user',
    userId: actor.userId,
    organizationId: actor.organizationId,
    role,
    platformRole: null,
    sessionId: 'test',
  });

  it('lets viewers read, operators create and steer, and validates the spec', async () => {
    const actor = await newOrganizationUser(database.db);
    const viewer = callerFor(user(actor, 'viewer'));
    const operator = callerFor(user(actor, 'operator'));
    const input = {
      service: 'gateway',
      environment: 'staging',
      version: 'v2',
      stableVersion: 'v1',
      spec: { strategy: 'canary' as const, steps: [{ pause: {} }] },
      provider: { kind: 'memory', config: { namespace: 'shop' } },
    };
    const forbidden = await viewer.deployments.create(input).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(TRPCError);
    expect((forbidden as TRPCError).code).toBe('FORBIDDEN');

    const invalid = await operator.deployments
      .create({ ...input, spec: { strategy: 'rolling', replicas: 3, maxSurge: 0, maxUnavailable: 0 } })
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({ code: 'BAD_REQUEST' });
    const unknownProvider = await operator.deployments
      .create({ ...input, provider: { kind: 'nomad', config: {} } })
      .catch((e: unknown) => e);
    expect(unknownProvider).toMatchObject({
      code: 'BAD_REQUEST',
      message: "provider: unknown provider kind 'nomad': use memory",
    });

    const created = await operator.deployments.create(input);
    expect(created.provider).toEqual({ kind: 'memory', config: { namespace: 'shop' } });
    const listed = await viewer.deployments.list({
      service: 'gateway',
      status: ['pending', 'progressing', 'paused'],
    });
    expect(listed.items.map((d) => d.id)).toEqual([created.id]);
    expect((await viewer.deployments.get({ id: created.id })).events[0]).toMatchObject({ type: 'created' });
    const viewerAbort = await viewer.deployments.abort({ id: created.id }).catch((e: unknown) => e);
    expect(viewerAbort).toMatchObject({ code: 'FORBIDDEN' });
    await operator.deployments.abort({ id: created.id, reason: 'test over' });
    await waitForStatus(actor, created.id, 'aborted');
  });

  it('lists deployments newest first, page by page', async () => {
    const actor = await newOrganizationUser(database.db);
    const ids: string[] = [];
    for (const service_ of ['a-svc', 'b-svc', 'c-svc']) {
      const created = await create(actor, {
        service: service_,
        environment: 'production',
        version: 'v1',
        spec: { strategy: 'canary', steps: [{ setWeight: 100 }] },
      });
      ids.push(created.id);
      await waitForStatus(actor, created.id, 'promoted');
    }
    const first = await service.list(actor, { limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual([ids[2], ids[1]]);
    const second = await service.list(actor, { limit: 2, cursor: first.nextCursor! });
    expect(second).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    expect((await service.list(actor, { limit: 10, service: 'b-svc' })).items.map((d) => d.id)).toEqual([
      ids[1],
    ]);
    expect((await service.list(actor, { limit: 10, status: ['aborted'] })).items).toEqual([]);
  });
});
