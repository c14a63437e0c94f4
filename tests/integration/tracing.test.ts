import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../client';
import { startTestApp, type TestApp } from '../helpers/app';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { eventually } from '../helpers/deployments';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../helpers/otlp-receiver';
import { adminHeaders, mustRun, type Runtime, startServer, stopAllServers } from '../helpers/server-process';

// Traces end to end: a real OTLP/HTTP receiver, the whole app built as main.ts builds it, the
// client package as a caller uses it, real PostgreSQL, a real webhook receiver for a deployment.

const SERVER = 2;
const CLIENT = 3;

/** A caller's W3C traceparent: version 00, its trace and span ids, sampled or not. */
function callerContext(sampled = true) {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}` };
}

/** The app's spans so far, once its buffered spans are exported. */
async function exported(t: TestApp, receiver: OtlpReceiver, traceId: string): Promise<ReceivedSpan[]> {
  await t.deps.tracing!.flush();
  return receiver.spans.filter((span) => span.traceId === traceId);
}

function clientOf(t: TestApp, traceparent?: string) {
  return createClient({
    url: 'http://platform.test',
    headers: t.admin,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => t.app.request(input, init)) as typeof fetch,
    traceContext: traceparent ? () => ({ traceparent, tracestate: 'vendor=1' }) : undefined,
  });
}

describe('traces with every span sampled', () => {
  let t: TestApp;
  let receiver: OtlpReceiver;
  let webhook: Server;
  let webhookUrl: string;
  const webhookTraceparents: string[] = [];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    webhook = createServer((req, res) => {
      webhookTraceparents.push(String(req.headers.traceparent ?? ''));
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/deploy`;
    t = await startTestApp({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: 'always_on',
      OTEL_SERVICE_NAME: 'platform-under-test',
      DEPLOY_ALLOW_PRIVATE_NETWORKS: 'true',
    });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await new Promise((resolve) => webhook?.close(resolve));
  });

  it('continues the caller trace: HTTP server span, procedure span, database spans, linked by parent ids', async () => {
    const caller = callerContext();
    const keys = await clientOf(t, caller.traceparent).auth.apiKeys.list.query({});
    expect(keys.items.length).toBeGreaterThan(0);

    const spans = await exported(t, receiver, caller.traceId);
    const server = spans.find((s) => s.kind === SERVER);
    expect(server).toMatchObject({
      name: 'GET /api/trpc/*',
      parentSpanId: caller.spanId,
      service: 'platform-under-test',
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/api/trpc/*',
        'http.response.status_code': 200,
      },
    });
    const procedure = spans.find((s) => s.name === 'trpc auth.apiKeys.list');
    expect(procedure).toMatchObject({
      parentSpanId: server!.spanId,
      attributes: {
        'rpc.system': 'trpc',
        'rpc.method': 'auth.apiKeys.list',
        'trpc.type': 'query',
        'trpc.code': 'OK',
      },
    });
    const queries = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(queries.length).toBeGreaterThan(0);
    const ids = new Set(spans.map((s) => s.spanId));
    for (const query of queries) {
      expect(query.kind).toBe(CLIENT);
      // Under the procedure (or a span under it): every parent is a span of this trace.
      expect(ids.has(query.parentSpanId)).toBe(true);
      // Normalised: no value of the call, parameters as placeholders.
      expect(String(query.attributes['db.query.text'])).not.toMatch(/\$\d/);
    }
    expect(queries.some((q) => q.parentSpanId === procedure!.spanId)).toBe(true);
    // Nothing of this trace hangs loose: one tree rooted at the caller's span.
    for (const span of spans) expect([caller.spanId, ...ids]).toContain(span.parentSpanId);
  });

  it("gives each call of a batch (tRPC's adapter) its span under the request's", async () => {
    const caller = callerContext();
    const client = clientOf(t, caller.traceparent);
    // Made in one tick: the client sends them as one batched request.
    await Promise.all([client.auth.apiKeys.list.query({}), client.auth.me.query()]);

    const spans = await exported(t, receiver, caller.traceId);
    const servers = spans.filter((s) => s.kind === SERVER);
    expect(servers).toHaveLength(1);
    const calls = spans.filter((s) => s.attributes['rpc.system'] === 'trpc');
    expect(calls.map((s) => s.name).sort()).toEqual(['trpc auth.apiKeys.list', 'trpc auth.me']);
    for (const call of calls) expect(call.parentSpanId).toBe(servers[0]!.spanId);
  });

  it('traces cache lookups under the request that makes them (system status reads the settings through the cache)', async () => {
    const caller = callerContext();
    const response = await t.app.request('/api/system/status', {
      headers: { ...t.admin, traceparent: caller.traceparent },
    });
    expect(response.status).toBe(200);
    const spans = await exported(t, receiver, caller.traceId);
    const lookup = spans.find((s) => s.name === 'cache getOrLoad');
    expect(typeof lookup?.attributes['cache.hit']).toBe('boolean');
    expect(spans.map((s) => s.spanId)).toContain(lookup!.parentSpanId);
  });

  it('puts the trace id in the access line and in error bodies beside the request id', async () => {
    const caller = callerContext();
    const rest = await t.app.request('/api/no-such-route', { headers: { traceparent: caller.traceparent } });
    expect(rest.status).toBe(404);
    const restBody = (await rest.json()) as { error: { requestId: string; traceId: string } };
    expect(restBody.error.traceId).toBe(caller.traceId);
    expect(restBody.error.requestId).toBe(rest.headers.get('x-request-id'));

    const trpc = await t.app.request('/api/trpc/auth.apiKeys.list', {
      headers: { traceparent: caller.traceparent },
    });
    expect(trpc.status).toBe(401);
    const trpcBody = (await trpc.json()) as { error: { data: { requestId: string; traceId: string } } };
    expect(trpcBody.error.data.traceId).toBe(caller.traceId);
    expect(trpcBody.error.data.requestId).toBe(trpc.headers.get('x-request-id'));

    // The client package hands it over with the rest of the error's details.
    const refused = await clientOf(t, caller.traceparent)
      .auth.apiKeys.get.query({ id: '00000000-0000-4000-8000-000000000000' })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'NOT_FOUND', traceId: caller.traceId });

    const line = await eventually('the access line of the 404', async () =>
      t.logs.find((l) => l.msg === 'request' && l.requestId === rest.headers.get('x-request-id')),
    );
    expect(line.trace_id).toBe(caller.traceId);
  });

  it('a deployment step that calls a webhook is one trace: step span, client span, traceparent at the webhook', async () => {
    const created = await clientOf(t).devops.deployments.create.mutate({
      service: 'traced',
      environment: 'staging',
      version: '2.0.0',
      stableVersion: '1.0.0',
      spec: { strategy: 'canary', steps: [{ setWeight: 50 }] },
      provider: { kind: 'webhook', config: { url: webhookUrl, secret: 'tracing-webhook-secret-0123456789' } },
    });
    const traceparent = await eventually('a webhook call', async () => webhookTraceparents[0]);
    const [, traceId, parentId, flags] = traceparent.split('-');
    expect(flags).toBe('01');

    const spans = await eventually('the step span exported', async () => {
      const found = await exported(t, receiver, traceId!);
      return found.some((s) => s.name.startsWith('deployment step')) ? found : undefined;
    });
    const call = spans.find((s) => s.spanId === parentId);
    expect(call).toMatchObject({
      kind: CLIENT,
      name: 'POST',
      attributes: { 'outbound.purpose': 'deployment_webhook', 'http.response.status_code': 204 },
    });
    const step = spans.find((s) => s.spanId === call!.parentSpanId);
    expect(step).toMatchObject({ parentSpanId: '', attributes: { 'deployment.id': created.id } });
    expect(step!.name).toBe(`deployment step ${step!.attributes['deployment.step.kind']}`);
    // The step's own queries (its events, its state) are in the same trace, under it.
    expect(
      spans.some((s) => s.parentSpanId === step!.spanId && s.attributes['db.system.name'] === 'postgresql'),
    ).toBe(true);
  });
});

describe('head sampling', () => {
  const opened: { t: TestApp; receiver: OtlpReceiver }[] = [];
  afterAll(async () => {
    for (const { t, receiver } of opened) {
      await t.close();
      await receiver.close();
    }
  });

  async function tracedApp(sampler: string, ratio?: string) {
    const receiver = await startOtlpReceiver();
    const t = await startTestApp({
      LOG_LEVEL: 'warn',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: sampler,
      ...(ratio === undefined ? {} : { OTEL_TRACES_SAMPLER_ARG: ratio }),
    });
    opened.push({ t, receiver });
    return { t, receiver };
  }

  /** Calls the app once with `traceparent` (or none); the spans it exported. */
  async function spansOfOneCall(t: TestApp, receiver: OtlpReceiver, traceparent?: string) {
    const response = await t.app.request('/api/trpc/auth.apiKeys.list', {
      headers: { ...t.admin, ...(traceparent ? { traceparent } : {}) },
    });
    expect(response.status).toBe(200);
    await t.deps.tracing!.flush();
    return receiver.spans;
  }

  it('always_off exports nothing, though error bodies still carry the trace id', async () => {
    const { t, receiver } = await tracedApp('always_off');
    expect(await spansOfOneCall(t, receiver)).toEqual([]);
    const caller = callerContext();
    const response = await t.app.request('/api/nowhere', { headers: { traceparent: caller.traceparent } });
    expect(((await response.json()) as { error: { traceId: string } }).error.traceId).toBe(caller.traceId);
  });

  it('a ratio of 0 exports nothing', async () => {
    const { t, receiver } = await tracedApp('traceidratio', '0');
    expect(await spansOfOneCall(t, receiver)).toEqual([]);
    expect(await spansOfOneCall(t, receiver, callerContext().traceparent)).toEqual([]);
  });

  it("parent-based sampling follows the caller's sampled flag, and its ratio for new traces", async () => {
    const { t, receiver } = await tracedApp('parentbased_traceidratio', '0');
    expect(await spansOfOneCall(t, receiver)).toEqual([]);
    expect(await spansOfOneCall(t, receiver, callerContext(false).traceparent)).toEqual([]);
    const sampled = callerContext(true);
    const spans = await spansOfOneCall(t, receiver, sampled.traceparent);
    expect(spans.length).toBeGreaterThan(2);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([sampled.traceId]));
  });

  it('without an endpoint there is no tracing at all', async () => {
    const t = await startTestApp({ LOG_LEVEL: 'warn' });
    try {
      expect(t.deps.tracing).toBeNull();
      const caller = callerContext();
      const response = await t.app.request('/api/nowhere', { headers: { traceparent: caller.traceparent } });
      const body = (await response.json()) as { error: Record<string, unknown> };
      expect(body.error.traceId).toBeUndefined();
      expect(body.error.requestId).toBe(response.headers.get('x-request-id'));
    } finally {
      await t.close();
    }
  });
});

describe.each((['bun', 'node'] as Runtime[]).filter(mustRun))(
  'traces of a server process on %s',
  (runtime) => {
    let database: TestDatabase | undefined;
    let receiver: OtlpReceiver | undefined;
    afterEach(async () => {
      await stopAllServers();
      await database?.drop();
      await receiver?.close();
      database = undefined;
    });

    it("exports the client call's connected trace, the last spans at shutdown", async () => {
      database = await createTestDatabase();
      receiver = await startOtlpReceiver();
      const server = await startServer({
        runtime,
        env: {
          DATABASE_URL: database.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_TRACES_SAMPLER: 'parentbased_always_off',
        },
      });
      const caller = callerContext();
      const client = createClient({
        url: server.url,
        headers: await adminHeaders(server),
        traceContext: () => ({ traceparent: caller.traceparent }),
      });
      await client.auth.apiKeys.list.query({});
      // SIGTERM at once: the spans still buffered go out before the process exits.
      expect(await server.stop('SIGTERM', 30_000)).toEqual({ code: 0, signal: null });

      // Only the caller's sampled trace: the sign-in, without a traceparent, started none.
      expect(new Set(receiver.spans.map((s) => s.traceId))).toEqual(new Set([caller.traceId]));
      const serverSpan = receiver.spans.find((s) => s.kind === SERVER && s.parentSpanId === caller.spanId);
      const procedure = receiver.spans.find((s) => s.name === 'trpc auth.apiKeys.list');
      expect(procedure?.parentSpanId).toBe(serverSpan?.spanId);
      expect(
        receiver.spans.some(
          (s) => s.parentSpanId === procedure?.spanId && s.attributes['db.system.name'] === 'postgresql',
        ),
      ).toBe(true);
      // The access line of the call carries the trace id.
      expect(server.logs.some((l) => l.msg === 'request' && l.trace_id === caller.traceId)).toBe(true);
    });
  },
);
