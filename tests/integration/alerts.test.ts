import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRPCError } from '@trpc/server';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformDatabase } from '../../db/connect';
import { readBuildInfo } from '../../server/base/build-info';
import { PlatformError } from '../../server/base/errors';
import { parseExpression } from '../../server/base/expressions/expression';
import { evaluateExpression } from '../../server/base/expressions/expression-eval';
import { registryMetricsSource } from '../../server/base/expressions/metrics-source';
import { SampleHistory } from '../../server/base/expressions/sample-history';
import { createLogger } from '../../server/base/logger';
import { createMetrics, httpSeriesKey } from '../../server/base/metrics/metrics';
import { createOutboundPolicy } from '../../server/base/outbound/index';
import { verifyWebhookSignature } from '../../server/base/outbound/webhook-signature';
import type { Principal } from '../../server/base/principal';
import { appRouter } from '../../server/http/routers/index';
import { createCallerFactory } from '../../server/http/trpc';
import type { AlertmanagerMessage } from '../../server/services/alerts/alertmanager-payload';
import { alertsComponent } from '../../server/services/alerts/component';
import { DEFAULT_ALERT_RULES } from '../../server/services/alerts/default-rules';
import { AlertEvaluator, type EvaluationRound } from '../../server/services/alerts/evaluator';
import { AlertNotifier } from '../../server/services/alerts/notifier';
import { type AlertServices, buildAlertServices } from '../../server/services/alerts/services';
import { bindPointInTimeMetrics } from '../../server/services/backups/pitr/metrics';
import { LocalObjectStore } from '../../server/services/backups/pitr/object-store';
import { WalShipper } from '../../server/services/backups/pitr/wal-shipper';
import { type OpenedTestDatabase, openTestDatabase } from '../helpers/database';
import { closeRouterDeps, routerContext, routerDeps } from '../helpers/router-context';

const logger = createLogger({ level: 'silent' });
// The receivers listen on 127.0.0.1: allowed as an operator allows a receiver next door.
const loopbackAllowed = createOutboundPolicy({ privateNetworks: { alert_webhook: true } });
const kek = new Uint8Array(randomBytes(32));

let testDb: OpenedTestDatabase;
/** The metrics the rules read: a registry of the test's own, whose gauge the test moves. */
const registry = new client.Registry();
const queueDepth = new client.Gauge({
  name: 'test_queue_depth',
  help: 'Jobs waiting, by queue.',
  labelNames: ['queue'],
  registers: [registry],
});
let alerts: AlertServices;
let receiver: Receiver;

function buildServices(database: PlatformDatabase): AlertServices {
  return buildAlertServices({
    database,
    registry,
    kek,
    logger,
    evalIntervalMs: 60_000, // rounds are driven by the tests
    defaultRules: true,
    externalUrl: 'https://platform.test',
    webhookTimeoutMs: 2_000,
    webhookMaxAttempts: 5,
    outbound: loopbackAllowed,
    backoff: { baseMs: 20, maxMs: 40 },
    notifierPollMs: 50,
  });
}

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on a local port: records every request and answers 200, or the statuses queued for its path. */
interface Receiver {
  url(path: string): string;
  deliveries(path: string): Delivery[];
  /** Statuses to answer a path with, first request first; 200 once they are used up. */
  answers: Map<string, number[]>;
  server: Server;
}

async function startReceiver(): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const answers = new Map<string, number[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      deliveries.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answers.get(path)?.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    deliveries: (path) => deliveries.filter((d) => d.path === path),
    answers,
    server,
  };
}

async function until<T>(read: () => T | Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A notifier of the test's own (not started: the test calls deliverDue). */
function notifierOptions() {
  return {
    database: testDb.database,
    kek,
    logger,
    timeoutMs: 2_000,
    maxAttempts: 5,
    backoff: { baseMs: 20, maxMs: 40 },
    outbound: loopbackAllowed,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function newOrganization(): Promise<{ organizationId: string }> {
  const row = await testDb.database.db
    .insertInto('organizations')
    .values({ name: `alerts ${randomBytes(3).toString('hex')}` })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { organizationId: row.id };
}

function outboxOf(webhookId: string) {
  return testDb.database.db
    .selectFrom('alert_notifications')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .orderBy('id')
    .execute();
}

beforeAll(async () => {
  testDb = await openTestDatabase();
  alerts = buildServices(testDb.database);
  await alerts.syncDefaultRules();
  receiver = await startReceiver();
});

afterAll(async () => {
  await alerts?.evaluator.stop();
  await alerts?.notifier.stop();
  receiver?.server.close();
  await testDb?.close();
});

describe('alert rules', () => {
  it('fires after `for`, resolves when the condition clears, and the webhook gets both, signed and Alertmanager-shaped', async () => {
    const actor = await newOrganization();
    const webhook = await alerts.webhooks.create(actor, { name: 'ops', url: receiver.url('/ops') });
    expect(webhook.secret).toMatch(/^whsec_/);
    const rule = await alerts.rules.create(actor, {
      name: 'TestQueueBacklog',
      expression: 'test_queue_depth{queue="mail"}',
      comparator: '>',
      threshold: 5,
      forSeconds: 1,
      severity: 'warning',
      labels: { team: 'mail' },
      annotations: { summary: 'The mail queue is backing up' },
      enabled: true,
    });
    const transitionsOf = (round: Awaited<ReturnType<AlertServices['evaluator']['evaluateOnce']>>) =>
      round.transitions
        .filter((t) => t.rule === rule.name)
        .map((t) => `${t.transition.from}→${t.transition.to}`);
    alerts.notifier.start();

    queueDepth.set({ queue: 'mail' }, 3);
    queueDepth.set({ queue: 'other' }, 100);
    expect(transitionsOf(await alerts.evaluator.evaluateOnce())).toEqual([]);

    queueDepth.set({ queue: 'mail' }, 10);
    const pending = await alerts.evaluator.evaluateOnce();
    expect(pending.outcome).toBe('evaluated');
    expect(transitionsOf(pending)).toEqual(['inactive→pending']);
    // Held for less than `for`: still pending, nobody told.
    expect(transitionsOf(await alerts.evaluator.evaluateOnce())).toEqual([]);
    const listed = (await alerts.rules.list(actor)).find((r) => r.id === rule.id);
    expect(listed?.status).toMatchObject({ state: 'pending', lastValue: 10 });

    await sleep(1_100);
    expect(transitionsOf(await alerts.evaluator.evaluateOnce())).toEqual(['pending→firing']);
    const [firing] = await until(
      () => receiver.deliveries('/ops'),
      (d) => d.length === 1,
      'the firing notification',
    );

    queueDepth.set({ queue: 'mail' }, 0);
    expect(transitionsOf(await alerts.evaluator.evaluateOnce())).toEqual(['firing→resolved']);
    const deliveries = await until(
      () => receiver.deliveries('/ops'),
      (d) => d.length === 2,
      'the resolved notification',
    );
    await alerts.notifier.stop();

    const bodies = deliveries.map((d) => JSON.parse(d.body) as AlertmanagerMessage);
    const labels = { alertname: 'TestQueueBacklog', severity: 'warning', team: 'mail' };
    for (const [i, status] of (['firing', 'resolved'] as const).entries()) {
      const delivery = deliveries[i] as Delivery;
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(
        verifyWebhookSignature({
          secret: webhook.secret,
          body: delivery.body,
          timestamp: delivery.headers['x-platform-timestamp'] as string,
          signature: delivery.headers['x-platform-signature'] as string,
        }),
      ).toBe(true);
      expect(bodies[i]).toMatchObject({
        version: '4',
        groupKey: '{}:{alertname="TestQueueBacklog"}',
        status,
        receiver: 'ops',
        groupLabels: { alertname: 'TestQueueBacklog' },
        commonLabels: labels,
        commonAnnotations: { summary: 'The mail queue is backing up' },
        externalURL: 'https://platform.test',
        truncatedAlerts: 0,
      });
      expect(bodies[i]?.alerts).toHaveLength(1);
      expect(bodies[i]?.alerts[0]).toMatchObject({
        status,
        labels,
        generatorURL: expect.stringMatching(/^https:\/\/platform\.test\//),
      });
    }
    const [fired, resolved] = bodies.map((b) => b.alerts[0]) as [
      AlertmanagerMessage['alerts'][0],
      AlertmanagerMessage['alerts'][0],
    ];
    expect(fired.endsAt).toBe('0001-01-01T00:00:00Z');
    expect(resolved.startsAt).toBe(fired.startsAt);
    expect(Date.parse(resolved.endsAt)).toBeGreaterThan(Date.parse(resolved.startsAt));
    expect(resolved.fingerprint).toBe(fired.fingerprint);
    expect(firing?.headers['x-platform-delivery']).not.toBe(deliveries[1]?.headers['x-platform-delivery']);
    // A signature made with another secret does not verify.
    expect(
      verifyWebhookSignature({
        secret: 'whsec_not-the-secret',
        body: deliveries[0]?.body ?? '',
        timestamp: deliveries[0]?.headers['x-platform-timestamp'] as string,
        signature: deliveries[0]?.headers['x-platform-signature'] as string,
      }),
    ).toBe(false);

    const outbox = await outboxOf(webhook.id);
    expect(outbox.map((n) => [n.attempts, n.delivered_at !== null])).toEqual([
      [1, true],
      [1, true],
    ]);

    const history = await alerts.rules.history(actor, { ruleId: rule.id, limit: 2 });
    expect(history.items.map((e) => `${e.from}→${e.to}`)).toEqual(['firing→resolved', 'pending→firing']);
    expect(history.items[1]?.value).toBe(10);
    const rest = await alerts.rules.history(actor, {
      ruleId: rule.id,
      limit: 2,
      cursor: history.nextCursor ?? '',
    });
    expect(rest.items.map((e) => `${e.from}→${e.to}`)).toEqual(['inactive→pending']);
    expect(rest.nextCursor).toBeNull();
    expect((await alerts.rules.list(actor)).find((r) => r.id === rule.id)?.status?.state).toBe('inactive');
  });

  it('delivers to a receiver that fails twice on the third attempt, the attempts kept across a restart', async () => {
    const actor = await newOrganization();
    const webhook = await alerts.webhooks.create(actor, { name: 'flaky', url: receiver.url('/flaky') });
    receiver.answers.set('/flaky', [503, 503]);
    queueDepth.set({ queue: 'flaky' }, 1);
    await alerts.rules.create(actor, {
      name: 'TestFlakyReceiver',
      expression: 'test_queue_depth{queue="flaky"}',
      comparator: '>=',
      threshold: 1,
      forSeconds: 0,
      severity: 'critical',
      labels: {},
      annotations: {},
      enabled: true,
    });
    const round = await alerts.evaluator.evaluateOnce();
    expect(round.transitions.find((t) => t.rule === 'TestFlakyReceiver')?.transition).toEqual({
      from: 'inactive',
      to: 'firing',
    });

    const first = new AlertNotifier(notifierOptions());
    expect(await first.deliverDue()).toMatchObject({ delivered: 0, retried: 1 });
    const [afterOne] = await outboxOf(webhook.id);
    expect(afterOne).toMatchObject({
      attempts: 1,
      delivered_at: null,
      last_error: 'the receiver answered 503',
    });

    // A new notifier, as after a restart, carries on from the stored count.
    const second = new AlertNotifier(notifierOptions());
    await sleep(60);
    expect(await second.deliverDue()).toMatchObject({ delivered: 0, retried: 1 });
    await sleep(60);
    expect(await second.deliverDue()).toMatchObject({ delivered: 1, retried: 0 });

    const [notification] = await outboxOf(webhook.id);
    expect(notification).toMatchObject({ attempts: 3, last_error: null, abandoned_at: null });
    expect(notification?.delivered_at).not.toBeNull();
    const deliveries = receiver.deliveries('/flaky');
    expect(deliveries).toHaveLength(3);
    // One notification: the same delivery id and body every time, each attempt signed afresh.
    expect(new Set(deliveries.map((d) => d.headers['x-platform-delivery'])).size).toBe(1);
    expect(new Set(deliveries.map((d) => d.body)).size).toBe(1);
    expect(
      verifyWebhookSignature({
        secret: webhook.secret,
        body: deliveries[2]?.body ?? '',
        timestamp: deliveries[2]?.headers['x-platform-timestamp'] as string,
        signature: deliveries[2]?.headers['x-platform-signature'] as string,
      }),
    ).toBe(true);
    expect(await second.deliverDue()).toEqual({ delivered: 0, retried: 0, abandoned: 0 });
  });

  it('gives a notification up when the receiver refuses it with a 4xx, and goes on with the next', async () => {
    const actor = await newOrganization();
    const webhook = await alerts.webhooks.create(actor, { name: 'gone', url: receiver.url('/gone') });
    receiver.answers.set('/gone', [404]);
    queueDepth.set({ queue: 'gone' }, 1);
    await alerts.rules.create(actor, {
      name: 'TestGoneReceiver',
      expression: 'test_queue_depth{queue="gone"}',
      comparator: '>',
      threshold: 0,
      forSeconds: 0,
      severity: 'info',
      labels: {},
      annotations: {},
      enabled: true,
    });
    await alerts.evaluator.evaluateOnce();
    const notifier = new AlertNotifier(notifierOptions());
    expect(await notifier.deliverDue()).toMatchObject({ abandoned: 1, retried: 0 });
    const [notification] = await outboxOf(webhook.id);
    expect(notification).toMatchObject({
      attempts: 1,
      delivered_at: null,
      last_error: 'the receiver answered 404',
    });
    expect(notification?.abandoned_at).not.toBeNull();

    queueDepth.set({ queue: 'gone' }, 0);
    await alerts.evaluator.evaluateOnce();
    expect(await notifier.deliverDue()).toMatchObject({ delivered: 1 });
    expect(
      receiver.deliveries('/gone').map((d) => (JSON.parse(d.body) as AlertmanagerMessage).status),
    ).toEqual(['firing', 'resolved']);
  });

  it('bounds a delivery by the timeout: a receiver that never answers is retried later', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const actor = await newOrganization();
      const { port } = silent.address() as AddressInfo;
      const webhook = await alerts.webhooks.create(actor, {
        name: 'silent',
        url: `http://127.0.0.1:${port}/`,
      });
      queueDepth.set({ queue: 'silent' }, 1);
      await alerts.rules.create(actor, {
        name: 'TestSilentReceiver',
        expression: 'test_queue_depth{queue="silent"}',
        comparator: '>',
        threshold: 0,
        forSeconds: 0,
        severity: 'info',
        labels: {},
        annotations: {},
        enabled: true,
      });
      await alerts.evaluator.evaluateOnce();
      const notifier = new AlertNotifier({ ...notifierOptions(), timeoutMs: 200 });
      expect(await notifier.deliverDue()).toMatchObject({ delivered: 0, retried: 1 });
      const [notification] = await outboxOf(webhook.id);
      expect(notification).toMatchObject({
        attempts: 1,
        delivered_at: null,
        last_error: 'timeout: no answer within 200 ms',
      });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('two evaluators on one database evaluate each round once, so the alert notifies once', async () => {
    const actor = await newOrganization();
    const webhook = await alerts.webhooks.create(actor, { name: 'pair', url: receiver.url('/pair') });
    const other = buildServices(testDb.open()); // another instance: its own pool
    queueDepth.set({ queue: 'pair' }, 50);
    await alerts.rules.create(actor, {
      name: 'TestTwoEvaluators',
      expression: 'test_queue_depth{queue="pair"} * 2',
      comparator: '>',
      threshold: 10,
      forSeconds: 0,
      severity: 'critical',
      labels: {},
      annotations: {},
      enabled: true,
    });
    const outcomes: string[] = [];
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all([alerts.evaluator.evaluateOnce(), other.evaluator.evaluateOnce()]);
      outcomes.push(...results.map((r) => r.outcome));
      expect(results.filter((r) => r.outcome === 'evaluated')).toHaveLength(1);
    }
    expect(outcomes.filter((o) => o === 'evaluated')).toHaveLength(5);
    expect(await outboxOf(webhook.id)).toHaveLength(1);

    // The leader steps down on stop; the other takes over at its next round, and finds nothing new to tell.
    await alerts.evaluator.stop();
    const takeover = await other.evaluator.evaluateOnce();
    expect(takeover.outcome).toBe('evaluated');
    expect(takeover.transitions.find((t) => t.rule === 'TestTwoEvaluators')).toBeUndefined();
    expect(await outboxOf(webhook.id)).toHaveLength(1);
    await other.evaluator.stop();
  });

  it('counts `for` from its own failing evaluations: a pending state from before a restart does not fire at once', async () => {
    const actor = await newOrganization();
    queueDepth.set({ queue: 'restart' }, 40);
    const rule = await alerts.rules.create(actor, {
      name: 'TestPendingAcrossRestart',
      expression: 'test_queue_depth{queue="restart"}',
      comparator: '>',
      threshold: 5,
      forSeconds: 60,
      severity: 'warning',
      labels: {},
      annotations: {},
      enabled: true,
    });
    const transitionsOf = (round: EvaluationRound) =>
      round.transitions
        .filter((t) => t.rule === rule.name)
        .map((t) => `${t.transition.from}→${t.transition.to}`);
    // The instance before the restart made the rule pending, then was down for seven minutes.
    expect(transitionsOf(await alerts.evaluator.evaluateOnce())).toEqual(['inactive→pending']);
    await alerts.evaluator.stop();
    const downSince = new Date(Date.now() - 7 * 60_000);
    await testDb.database.db
      .updateTable('alert_states')
      .set({ since: downSince, last_evaluated_at: downSince })
      .where('rule_id', '=', rule.id)
      .execute();

    // The instance after the restart: a new evaluator, on a clock the test moves.
    let clock = Date.now();
    const restarted = new AlertEvaluator({
      database: testDb.database,
      source: registryMetricsSource(registry),
      logger,
      intervalMs: 60_000,
      now: () => new Date(clock),
    });
    try {
      const first = await restarted.evaluateOnce();
      expect(first.outcome).toBe('evaluated');
      expect(transitionsOf(first)).toEqual([]);
      const stateOf = () =>
        testDb.database.db
          .selectFrom('alert_states')
          .select(['state', 'since'])
          .where('rule_id', '=', rule.id)
          .executeTakeFirstOrThrow();
      // Pending from this evaluator's first failing evaluation, not from before the restart.
      expect(await stateOf()).toEqual({ state: 'pending', since: new Date(clock) });
      clock += 30_000;
      expect(transitionsOf(await restarted.evaluateOnce())).toEqual([]);
      clock += 29_000;
      expect(transitionsOf(await restarted.evaluateOnce())).toEqual([]);
      clock += 1_000;
      expect(transitionsOf(await restarted.evaluateOnce())).toEqual(['pending→firing']);
      expect((await stateOf()).state).toBe('firing');
    } finally {
      await restarted.stop();
      await alerts.rules.update(actor, { id: rule.id, enabled: false });
    }
  });

  it('resolves, and tells receivers, when a firing rule is disabled', async () => {
    const actor = await newOrganization();
    await alerts.webhooks.create(actor, { name: 'disable', url: receiver.url('/disable') });
    queueDepth.set({ queue: 'disable' }, 9);
    const rule = await alerts.rules.create(actor, {
      name: 'TestDisabledWhileFiring',
      expression: 'test_queue_depth{queue="disable"}',
      comparator: '>',
      threshold: 1,
      forSeconds: 0,
      severity: 'warning',
      labels: {},
      annotations: {},
      enabled: true,
    });
    await alerts.evaluator.evaluateOnce();
    expect((await alerts.rules.list(actor)).find((r) => r.id === rule.id)?.status?.state).toBe('firing');
    const updated = await alerts.rules.update(actor, { id: rule.id, enabled: false });
    expect(updated).toMatchObject({ enabled: false, status: { state: 'inactive' } });
    const history = await alerts.rules.history(actor, { ruleId: rule.id, limit: 10 });
    expect(history.items.map((e) => `${e.from}→${e.to}`)).toEqual(['firing→resolved', 'inactive→firing']);
    await new AlertNotifier(notifierOptions()).deliverDue();
    const statuses = receiver
      .deliveries('/disable')
      .map((d) => (JSON.parse(d.body) as AlertmanagerMessage).status);
    expect(statuses).toEqual(['firing', 'resolved']);
  });
});

describe('performance.alerts procedures', () => {
  afterAll(closeRouterDeps);
  // The app's router over its own dependencies, with this file's alert services in their place.
  const callerFor = (principal: Principal) =>
    createCallerFactory(appRouter)(routerContext(principal, routerDeps({ alerts }))).performance;
  const user = (organizationId: string, role: Principal['role']): Principal => ({
    kind: 'user',
    userId: randomBytes(4).toString('hex'),
    organizationId,
    role,
    // Alert rules and webhooks are the platform's: their callers hold the platform role of the same rank.
    platformRole: role === 'viewer' ? null : role,
    sessionId: 'test',
  });
  const rule = {
    name: 'TestViaRouter',
    expression: 'rate(test_jobs_total[5m])',
    comparator: '>' as const,
    threshold: 1,
  };
  async function codeOf(call: Promise<unknown>): Promise<string> {
    try {
      await call;
    } catch (error) {
      if (error instanceof TRPCError) return error.code;
      throw error;
    }
    return 'OK';
  }

  it('refuses a bad expression with BAD_REQUEST and its position, at create and at update', async () => {
    const { organizationId } = await newOrganization();
    const operator = callerFor(user(organizationId, 'operator'));
    const refusal = await operator.alerts
      .create({ ...rule, expression: 'rate(test_jobs_total[5m]' })
      .catch((e) => e);
    expect(refusal).toBeInstanceOf(TRPCError);
    expect(refusal.code).toBe('BAD_REQUEST');
    expect(refusal.message).toBe("expression at position 24: expected ')', found the end of the expression");

    const created = await operator.alerts.create(rule);
    const update = await operator.alerts
      .update({ id: created.id, expression: 'test_jobs_total{job=}' })
      .catch((e) => e);
    expect(update.code).toBe('BAD_REQUEST');
    expect(update.message).toContain('at position 20: expected a quoted label value');
    const direct = await alerts.rules
      .create(
        { organizationId },
        {
          ...rule,
          name: 'X',
          expression: 'eval("1")',
          forSeconds: 0,
          severity: 'info',
          labels: {},
          annotations: {},
          enabled: true,
        },
      )
      .catch((e) => e);
    expect(direct).toBeInstanceOf(PlatformError);
    expect(direct.message).toContain('at position 0: expected a known function');
    expect(
      (await operator.alerts.list()).filter((r) => r.scope === 'organization').map((r) => r.expression),
    ).toEqual([rule.expression]);
  });

  it('lets operators manage rules, admins webhooks, and nobody change the platform-wide defaults', async () => {
    const { organizationId } = await newOrganization();
    const viewer = callerFor(user(organizationId, 'viewer'));
    const operator = callerFor(user(organizationId, 'operator'));
    const admin = callerFor(user(organizationId, 'admin'));
    expect(await codeOf(viewer.alerts.list())).toBe('FORBIDDEN');
    expect(await codeOf(viewer.alerts.create(rule))).toBe('FORBIDDEN');
    expect(await codeOf(operator.alerts.webhooks.list())).toBe('FORBIDDEN');
    expect(
      await codeOf(operator.alerts.webhooks.create({ name: 'x', url: 'https://hooks.example.com/' })),
    ).toBe('FORBIDDEN');

    const listed = await operator.alerts.list();
    const platform = listed.filter((r) => r.scope === 'platform');
    expect(platform.map((r) => r.name)).toEqual(DEFAULT_ALERT_RULES.map((r) => r.name).sort());
    const defaultRule = platform[0] as (typeof platform)[0];
    expect(await codeOf(admin.alerts.update({ id: defaultRule.id, enabled: false }))).toBe('FORBIDDEN');
    expect(await codeOf(admin.alerts.delete({ id: defaultRule.id }))).toBe('FORBIDDEN');

    const created = await operator.alerts.create({ ...rule, forSeconds: 30, labels: { team: 'jobs' } });
    expect(created).toMatchObject({
      scope: 'organization',
      forSeconds: 30,
      severity: 'warning',
      status: null,
    });
    expect(await codeOf(operator.alerts.create(rule))).toBe('CONFLICT');
    const renamed = await operator.alerts.update({ id: created.id, name: 'TestRenamed', threshold: 2.5 });
    expect(renamed).toMatchObject({ name: 'TestRenamed', threshold: 2.5, labels: { team: 'jobs' } });
    expect(await codeOf(operator.alerts.update({ id: created.id, labels: { severity: 'x' } }))).toBe(
      'BAD_REQUEST',
    );

    // Another organization neither sees nor touches it.
    const { organizationId: otherOrg } = await newOrganization();
    const stranger = callerFor(user(otherOrg, 'admin'));
    expect((await stranger.alerts.list()).some((r) => r.id === created.id)).toBe(false);
    expect(await codeOf(stranger.alerts.update({ id: created.id, threshold: 9 }))).toBe('NOT_FOUND');
    expect(await codeOf(stranger.alerts.delete({ id: created.id }))).toBe('NOT_FOUND');

    expect(await operator.alerts.delete({ id: created.id })).toEqual({ id: created.id });
    expect(await codeOf(operator.alerts.delete({ id: created.id }))).toBe('NOT_FOUND');

    const hook = await admin.alerts.webhooks.create({
      name: 'pager',
      url: 'https://hooks.example.com/alerts',
    });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const hooks = await admin.alerts.webhooks.list();
    expect(hooks).toEqual([
      {
        id: hook.id,
        name: 'pager',
        url: 'https://hooks.example.com/alerts',
        enabled: true,
        createdAt: hook.createdAt,
      },
    ]);
    expect(JSON.stringify(hooks)).not.toContain(hook.secret);
    const stored = await testDb.database.db
      .selectFrom('alert_webhooks')
      .select('secret_sealed')
      .where('id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(stored.secret_sealed).not.toContain(hook.secret.slice(6));
    expect(await codeOf(stranger.alerts.webhooks.delete({ id: hook.id }))).toBe('NOT_FOUND');
    expect(await admin.alerts.webhooks.delete({ id: hook.id })).toEqual({ id: hook.id });
  });

  it('refuses webhook URLs to private addresses when private networks are not allowed', async () => {
    const { organizationId } = await newOrganization();
    const strict = buildAlertServices({
      database: testDb.database,
      registry,
      kek,
      logger,
      evalIntervalMs: 60_000,
      defaultRules: true,
      webhookTimeoutMs: 2_000,
      webhookMaxAttempts: 5,
      outbound: createOutboundPolicy(),
    });
    for (const url of [
      'http://127.0.0.1:9/',
      'http://169.254.169.254/latest/meta-data/',
      'http://localhost/',
    ]) {
      const refusal = await strict.webhooks.create({ organizationId }, { name: 'x', url }).catch((e) => e);
      expect(refusal, url).toBeInstanceOf(PlatformError);
      expect(refusal.code).toBe('BAD_REQUEST');
    }
  });
});

describe('the alerts component', () => {
  it('starts evaluation and delivery, reports health, passes its self-tests on the platform metrics, and stops', async () => {
    const database = testDb.database;
    const metrics = createMetrics({ build: readBuildInfo(), defaultMetrics: false });
    metrics.bindPool(() => database.stats());
    metrics.bindEventLoopLag(() => 0.001);
    // As the platform binds them: exported (all 0) with point-in-time recovery off.
    bindPointInTimeMetrics(metrics.registry, null);
    metrics.bindComponents(() => [
      {
        name: 'database',
        phase: 'database',
        critical: true,
        status: 'ready',
        startedAt: null,
        durationMs: null,
        attempts: 1,
        lastError: null,
      },
    ]);
    const services = buildAlertServices({
      database,
      registry: metrics.registry,
      kek,
      logger,
      evalIntervalMs: 100,
      defaultRules: true,
      webhookTimeoutMs: 2_000,
      webhookMaxAttempts: 5,
      outbound: loopbackAllowed,
    });
    const component = alertsComponent(services, { database, logger });
    expect(component).toMatchObject({ name: 'alerts', phase: 'monitoring', critical: false });
    await component.start(new AbortController().signal);
    try {
      await until(
        () => services.evaluator.status(),
        (s) => s.lastOutcome !== null,
        'a first round',
      );
      expect(services.evaluator.status()).toMatchObject({ running: true, lastError: null });
      expect(services.notifier.status().running).toBe(true);
      const health = await component.health?.();
      expect(health?.['alerts:evaluator']?.[0]).toMatchObject({ status: 'pass' });
      expect(health?.['alerts:outbox']?.[0]).toMatchObject({ observedUnit: 'notifications' });
      for (const test of component.selfTests ?? []) await test.run();
      expect(component.selfTests?.length).toBe(2);
    } finally {
      await component.stop?.();
    }
    expect(services.evaluator.status().running).toBe(false);
    expect(services.notifier.status().running).toBe(false);
  });

  it('fails its metrics self-test when a default rule finds no series', async () => {
    const services = buildAlertServices({
      database: testDb.database,
      registry, // the test registry: no db_up, no pool gauges
      kek,
      logger,
      evalIntervalMs: 60_000,
      defaultRules: true,
      webhookTimeoutMs: 2_000,
      webhookMaxAttempts: 5,
      outbound: loopbackAllowed,
    });
    const component = alertsComponent(services, { database: testDb.database, logger });
    const metricsTest = component.selfTests?.find((t) => t.name.includes('metrics'));
    await expect(metricsTest?.run()).rejects.toThrow(/PlatformDatabaseDown: no series matches db_up/);
  });
});

describe('default rules', () => {
  it('are synchronised once: a second start changes nothing', async () => {
    expect(await alerts.syncDefaultRules()).toEqual({ inserted: 0, updated: 0, deleted: 0 });
  });

  it('see the platform’s real metrics: each fires on the condition it names', async () => {
    const metrics = createMetrics({ build: readBuildInfo(), defaultMetrics: false });
    metrics.bindPool(() => ({
      total: 10,
      idle: 0,
      waiting: 3,
      max: 10,
      acquired: 100,
      connects: 10,
      errors: 1,
      reconnects: 0,
      lastError: null,
      healthy: false,
      lastHealthyAt: null,
    }));
    metrics.bindEventLoopLag(() => 0.5);
    // A WAL file 15 minutes old in a spool whose store refuses every write.
    const spool = await mkdtemp(join(tmpdir(), 'bc-alerts-spool-'));
    const blocked = join(spool, 'store');
    await writeFile(blocked, 'a file where the store folder should be');
    await writeFile(join(spool, '000000010000000000000001'), 'segment');
    const old = new Date(Date.now() - 900_000);
    await utimes(join(spool, '000000010000000000000001'), old, old);
    const shipper = new WalShipper({
      spoolDir: spool,
      store: new LocalObjectStore(blocked),
      kek: new Uint8Array(32),
      logger: createLogger({ level: 'silent' }),
      intervalMs: 60_000,
    });
    await shipper.shipNow();
    bindPointInTimeMetrics(metrics.registry, { shipper, lastBaseBackupAt: () => null });
    metrics.bindComponents(() => [
      {
        name: 'database',
        phase: 'database',
        critical: true,
        status: 'failed',
        startedAt: null,
        durationMs: null,
        attempts: 3,
        lastError: 'down',
      },
    ]);
    const source = registryMetricsSource(metrics.registry);
    const keep = new Set([
      'http_server_request_duration_seconds_count',
      'http_server_request_duration_seconds_bucket',
      'rate_limit_decisions_total',
    ]);
    const history = new SampleHistory();
    const t0 = Date.now();
    const request = (seconds: number, route: string, status: number) =>
      metrics.http.duration.observe(
        httpSeriesKey('GET', status, route),
        () => ['GET', route, status],
        seconds,
      );
    request(0.01, '/api/health', 200);
    metrics.auth.rateLimitDecisions.inc({ policy: 'ip', decision: 'allowed' });
    history.push(t0, await source.sample(), keep, 600_000);
    for (let i = 0; i < 80; i++) request(3, '/api/trpc/*', 500);
    for (let i = 0; i < 20; i++) request(0.02, '/api/trpc/*', 200);
    metrics.auth.rateLimitDecisions.inc({ policy: 'ip', decision: 'store_error' }, 4);
    history.push(t0 + 60_000, await source.sample(), keep, 600_000);

    const values = Object.fromEntries(
      DEFAULT_ALERT_RULES.map((rule) => [
        rule.name,
        evaluateExpression(parseExpression(rule.expression), history),
      ]),
    );
    expect(values.PlatformHighErrorRate).toBeCloseTo(0.8, 12);
    expect(values.PlatformHighLatencyP99).toBeGreaterThan(2.5);
    expect(values.PlatformDatabaseDown).toBe(0);
    expect(values.PlatformDatabasePoolWaiting).toBe(3);
    expect(values.PlatformEventLoopLag).toBe(0.5);
    expect(values.PlatformComponentFailed).toBe(1);
    expect(values.PlatformRateLimitStoreErrors).toBeCloseTo(4 / 60, 12);
    expect(values.BackupWalShippingStalled).toBeGreaterThanOrEqual(900);
    await rm(spool, { recursive: true, force: true });
    for (const rule of DEFAULT_ALERT_RULES) {
      const value = values[rule.name] as number;
      const holds = { '>': value > rule.threshold, '==': value === rule.threshold }[
        rule.comparator as '>' | '=='
      ];
      expect(holds, rule.name).toBe(true);
    }
  });
});
