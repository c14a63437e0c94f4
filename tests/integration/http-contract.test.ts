import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readBuildInfo } from '../../server/base/build-info';
import { loadConfig } from '../../server/base/config';
import { createLogger } from '../../server/base/logger';
import { buildDependencies } from '../../server/composition/dependencies';
import { createApp } from '../../server/http/app';
import type { AppDeps } from '../../server/http/deps';
import { startTestApp, TEST_KEK, type TestApp } from '../helpers/app';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { type Answer, send as sendTo } from '../helpers/http';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const BODY_LIMIT = 2048;
const MAX_BATCH = 5;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let t: TestApp;
let dbPassword: string;

beforeAll(async () => {
  t = await startTestApp({
    LOG_LEVEL: 'warn',
    METRICS_TOKEN,
    BODY_LIMIT_BYTES: String(BODY_LIMIT),
    TRPC_MAX_BATCH_SIZE: String(MAX_BATCH),
  });
  dbPassword = decodeURIComponent(new URL(t.database.url).password);
});
afterAll(() => t?.close());

const send = (path: string, init?: RequestInit) => sendTo(t.app, path, init);

const json = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', ...extra });
const input = (value: unknown) => `input=${encodeURIComponent(JSON.stringify(value))}`;
const query = (procedure: string, value?: unknown, headers: Record<string, string> = {}) =>
  send(`/api/trpc/${procedure}${value === undefined ? '' : `?${input(value)}`}`, { headers });
const mutate = (procedure: string, body: string | undefined, headers: Record<string, string> = {}) =>
  send(`/api/trpc/${procedure}`, { method: 'POST', headers: json(headers), body });

/** What no body may ever hold: stack frames, SQL, tokens, the database password. */
function expectNothingLeaked(text: string): void {
  expect(text).not.toMatch(/\bat .+\(.+:\d+:\d+\)|\.ts:\d+|node_modules/);
  expect(text).not.toMatch(/\b(select|insert|update|delete)\b[\s\S]*\b(from|into|set)\b/i);
  expect(text).not.toContain(t.admin.authorization.slice('Bearer '.length));
  expect(text).not.toContain(METRICS_TOKEN);
  if (dbPassword) expect(text).not.toContain(dbPassword);
}

/** A plain-route error: the one shape, the status and code asked for, the request id of the header. */
function expectHttpError(answer: Answer, status: number, code: string): void {
  expect(answer.res.status).toBe(status);
  expect(answer.res.headers.get('content-type')).toMatch(/^application\/json/);
  const id = answer.res.headers.get('x-request-id');
  expect(id).toMatch(UUID);
  expect(Object.keys(answer.body)).toEqual(['error']);
  expect(Object.keys(answer.body.error).sort()).toEqual(['code', 'message', 'requestId']);
  expect(answer.body.error.code).toBe(code);
  expect(answer.body.error.message.length).toBeGreaterThan(0);
  expect(answer.body.error.requestId).toBe(id);
  expectNothingLeaked(answer.text);
}

/** A tRPC error: tRPC's shape with our data, the status and code asked for, the header's request id. */
function expectTrpcError(answer: Answer, status: number, code: string): void {
  expect(answer.res.status).toBe(status);
  expect(answer.res.headers.get('content-type')).toMatch(/^application\/json/);
  const id = answer.res.headers.get('x-request-id');
  expect(id).toMatch(UUID);
  const error = answer.body.error;
  expect(error.data.code).toBe(code);
  expect(error.data.httpStatus).toBe(status);
  expect(error.data.requestId).toBe(id);
  expect(error.data).not.toHaveProperty('stack');
  expect(error.message.length).toBeGreaterThan(0);
  expectNothingLeaked(answer.text);
}

describe('plain routes answer bad requests with the one error shape', () => {
  it('serves the dashboard at / under its own CSP, or says it is not built', async () => {
    const res = await t.app.request('/');
    if (res.status === 200) {
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
    } else {
      expect(res.status).toBe(404);
      expect(await res.text()).toContain('dashboard not built: npm run build:dashboard');
    }
  });

  it('answers an unknown route with 404 NOT_FOUND', async () => {
    expectHttpError(await send('/api/nope'), 404, 'NOT_FOUND');
    expectHttpError(await send('/api/health/'), 404, 'NOT_FOUND');
    expectHttpError(await send('/api/%E0%A4%A'), 404, 'NOT_FOUND');
  });

  const routes = [
    '/api/health',
    '/api/health/lightweight',
    '/api/health/live',
    '/api/health/ready',
    '/api/system/status',
    '/metrics',
    '/api/metrics/prometheus',
  ];
  it.each(routes)('answers a wrong method on %s with 405 METHOD_NOT_SUPPORTED and Allow', async (path) => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const answer = await send(path, {
        method,
        headers: json(),
        body: method === 'OPTIONS' ? undefined : '{}',
      });
      expectHttpError(answer, 405, 'METHOD_NOT_SUPPORTED');
      expect(answer.res.headers.get('allow')).toBe('GET, HEAD');
    }
  });

  it('answers HEAD on a GET route like GET, without a body', async () => {
    const res = await t.app.request('/api/health/lightweight', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(UUID);
  });

  it('answers /api/system/status without a token with 401 and a WWW-Authenticate challenge', async () => {
    const answer = await send('/api/system/status');
    expectHttpError(answer, 401, 'UNAUTHORIZED');
    expect(answer.res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
  });

  it('answers /api/system/status with an invalid token or key with 401 UNAUTHORIZED', async () => {
    const token = t.admin.authorization.slice('Bearer '.length);
    // A character of the signature changed (not the last, whose spare bits may not count; and
    // never to itself, as `x` once was one time in 64).
    const at = token.length - 10;
    const forged = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
    for (const authorization of ['Bearer not-a-token', `Bearer ${forged}`, 'Bearer a.b.c']) {
      expectHttpError(await send('/api/system/status', { headers: { authorization } }), 401, 'UNAUTHORIZED');
    }
  });

  it('refuses a malformed Authorization header (401)', async () => {
    const key = t.admin.authorization.slice('Bearer '.length);
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', key, 'Bearer a b']) {
      expectHttpError(await send('/api/system/status', { headers: { authorization } }), 401, 'UNAUTHORIZED');
    }
  });

  it('serves /api/system/status to the admin with every secret redacted', async () => {
    const answer = await send('/api/system/status', { headers: t.admin });
    expect(answer.res.status).toBe(200);
    expect(answer.res.headers.get('cache-control')).toBe('no-store');
    expect(answer.body.configuration.METRICS_TOKEN).toBe('[redacted]');
    expect(answer.body.components.map((c: { name: string }) => c.name)).toEqual([
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
    expectNothingLeaked(answer.text);
  });

  it('answers a scrape without the metrics token, or with a wrong one, with 401', async () => {
    for (const path of ['/metrics', '/api/metrics/prometheus']) {
      const anonymous = await send(path);
      expectHttpError(anonymous, 401, 'UNAUTHORIZED');
      expect(anonymous.res.headers.get('www-authenticate')).toMatch(/^Bearer realm="metrics"/);
      const wrong = await send(path, { headers: { authorization: 'Bearer wrong-metrics-token' } });
      expectHttpError(wrong, 401, 'UNAUTHORIZED');
      const admin = await send(path, { headers: t.admin });
      expectHttpError(admin, 401, 'UNAUTHORIZED');
    }
    const allowed = await send('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(allowed.res.status).toBe(200);
    expect(allowed.text).toContain('# TYPE http_server_request_duration_seconds histogram');
  });
});

describe('request ids', () => {
  it('echoes a sane caller X-Request-Id in the header and in error bodies', async () => {
    const id = 'caller-id_1.2:3';
    const plain = await send('/api/nope', { headers: { 'x-request-id': id } });
    expect(plain.res.headers.get('x-request-id')).toBe(id);
    expect(plain.body.error.requestId).toBe(id);
    const trpc = await query('system.nope', undefined, { 'x-request-id': id });
    expect(trpc.res.headers.get('x-request-id')).toBe(id);
    expect(trpc.body.error.data.requestId).toBe(id);
  });

  it.each([
    ['huge', 'a'.repeat(10_000)],
    ['129 characters', 'b'.repeat(129)],
    ['with spaces and quotes', 'id" injected="1'],
    ['with markup', '<script>alert(1)</script>'],
    ['with a path', '../../etc/passwd'],
    ['with latin-1', 'r\u00e9quest'],
  ])('replaces a hostile X-Request-Id (%s) with a generated one', async (_label, hostile) => {
    const answer = await send('/api/nope', { headers: { 'x-request-id': hostile } });
    const id = answer.res.headers.get('x-request-id');
    expect(id).toMatch(UUID);
    expect(answer.body.error.requestId).toBe(id);
    expect(answer.text).not.toContain(hostile);
  });

  it('puts X-Request-Id on every response, successes and failures, plain and tRPC', async () => {
    const requests: [string, RequestInit?][] = [
      ['/api/health'],
      ['/api/health/lightweight'],
      ['/api/health/live'],
      ['/api/health/ready'],
      ['/api/system/status', { headers: t.admin }],
      ['/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }],
      ['/api/trpc/system.info'],
      ['/api/trpc/system.info,system.info?batch=1&input=%7B%7D'],
      ['/api/trpc/system.info', { method: 'HEAD' }],
      ['/api/trpc/system.selfTest', { method: 'POST', headers: json(t.admin) }],
      ['/api/trpc/system.nope'],
      ['/api/trpc/system.info', { method: 'POST' }],
      ['/api/nope', { method: 'FOO' }],
    ];
    for (const [path, init] of requests) {
      const res = await t.app.request(path, init);
      expect(res.headers.get('x-request-id'), `${init?.method ?? 'GET'} ${path}`).toMatch(UUID);
      expect(res.status).toBeLessThan(500);
    }
  });
});

describe('tRPC answers bad calls with a 4xx and a stable code', () => {
  it('answers an unknown procedure with 404 NOT_FOUND', async () => {
    expectTrpcError(await query('system.nope'), 404, 'NOT_FOUND');
    expectTrpcError(await query('nope'), 404, 'NOT_FOUND');
    expectTrpcError(await send('/api/trpc'), 404, 'NOT_FOUND');
    expectTrpcError(await mutate('system.annotations', '{}', t.admin), 404, 'NOT_FOUND');
  });

  it('answers a badly encoded procedure path with 400 BAD_REQUEST', async () => {
    expectTrpcError(await send('/api/trpc/%E0%A4%A'), 400, 'BAD_REQUEST');
  });

  it.each(['system.health', 'system.info', 'system.status', 'system.annotations.list'])(
    'answers the query %s called as a mutation with 405 and Allow: GET',
    async (procedure) => {
      const answer = await mutate(procedure, '{}', t.admin);
      expectTrpcError(answer, 405, 'METHOD_NOT_SUPPORTED');
      expect(answer.res.headers.get('allow')).toBe('GET');
    },
  );

  it.each(['system.selfTest', 'system.annotations.create'])(
    'answers the mutation %s called as a query with 405 and Allow: POST',
    async (procedure) => {
      const answer = await query(procedure, undefined, t.admin);
      expectTrpcError(answer, 405, 'METHOD_NOT_SUPPORTED');
      expect(answer.res.headers.get('allow')).toBe('POST');
    },
  );

  it('answers a POST without a JSON content type with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const missing = await send('/api/trpc/system.selfTest', { method: 'POST', headers: t.admin, body: '{}' });
    expectTrpcError(missing, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const text = await send('/api/trpc/system.selfTest', {
      method: 'POST',
      headers: { ...t.admin, 'content-type': 'text/plain' },
      body: '{}',
    });
    expectTrpcError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it.each(['system.selfTest', 'system.annotations.create'])(
    'answers a malformed JSON body to %s with 400 BAD_REQUEST',
    async (procedure) => {
      for (const body of ['{not json', '{"text": "a",}', '\u0000', '{"text": "unterminated']) {
        expectTrpcError(await mutate(procedure, body, t.admin), 400, 'BAD_REQUEST');
      }
    },
  );

  it('answers malformed JSON in a query input with 400 BAD_REQUEST', async () => {
    const answer = await send('/api/trpc/system.annotations.list?input=%7Bbad', { headers: t.admin });
    expectTrpcError(answer, 400, 'BAD_REQUEST');
  });

  /** A BAD_REQUEST from zod: flattened issues naming `field`, and one readable message line. */
  function expectValidationError(answer: Answer, field: string | null): void {
    expectTrpcError(answer, 400, 'BAD_REQUEST');
    const { validation } = answer.body.error.data;
    expect(validation).toEqual({ formErrors: expect.any(Array), fieldErrors: expect.any(Object) });
    if (field) expect(Object.keys(validation.fieldErrors)).toContain(field);
    else expect(validation.formErrors.length).toBeGreaterThan(0);
    expect(answer.body.error.message).toMatch(/^invalid input: /);
    expect(answer.body.error.message).not.toContain('\n');
  }

  it.each([
    ['an empty text', { text: '' }, 'text'],
    ['a blank text', { text: '   ' }, 'text'],
    ['a text over 2000 characters', { text: 'x'.repeat(2001) }, 'text'],
    ['a text with a NUL character', { text: 'before\u0000after' }, 'text'],
    ['a number for text', { text: 42 }, 'text'],
    ['no text', { tags: ['deploy'] }, 'text'],
    ['an upper-case tag', { text: 'x', tags: ['Deploy'] }, 'tags'],
    ['a tag with a space', { text: 'x', tags: ['a b'] }, 'tags'],
    ['17 tags', { text: 'x', tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }, 'tags'],
    ['tags as a string', { text: 'x', tags: 'deploy' }, 'tags'],
    ['a short idempotency key', { text: 'x', idempotencyKey: 'short' }, 'idempotencyKey'],
    ['an idempotency key with a slash', { text: 'x', idempotencyKey: 'deploy/1.2.3' }, 'idempotencyKey'],
    ['an extra key', { text: 'x', extra: true }, null],
    ['an array', [{ text: 'x' }], null],
    ['null', null, null],
    ['a number', 7, null],
  ])('annotations.create refuses %s with BAD_REQUEST and flattened issues', async (_label, value, field) => {
    expectValidationError(await mutate('system.annotations.create', JSON.stringify(value), t.admin), field);
  });

  it('annotations.create refuses an empty body with BAD_REQUEST', async () => {
    expectValidationError(await mutate('system.annotations.create', '', t.admin), null);
  });

  it.each([
    ['a string limit', { limit: '10' }, 'limit'],
    ['a zero limit', { limit: 0 }, 'limit'],
    ['a limit over 500', { limit: 501 }, 'limit'],
    ['a fractional limit', { limit: 1.5 }, 'limit'],
    ['a negative cursor', { cursor: '-1' }, 'cursor'],
    ['a cursor beyond safe integers', { cursor: '1'.repeat(300) }, 'cursor'],
    ['a number for a cursor', { cursor: 5 }, 'cursor'],
    ['the old before parameter', { before: 5 }, null],
    ['a tag over 64 characters', { tag: 't'.repeat(65) }, 'tag'],
    ['a tag with a NUL character', { tag: 'a\u0000' }, 'tag'],
    ['a tag that is a number', { tag: 5 }, 'tag'],
    ['an extra key', { limit: 5, offset: 10 }, null],
    ['null', null, null],
    ['an array', [], null],
  ])('annotations.list refuses %s with BAD_REQUEST and flattened issues', async (_label, value, field) => {
    expectValidationError(await query('system.annotations.list', value, t.admin), field);
  });

  it.each([
    ['components as a string', { components: 'database' }, 'components'],
    ['an empty component name', { components: [''] }, 'components'],
    ['a component name over 64 characters', { components: ['c'.repeat(65)] }, 'components'],
    ['33 components', { components: Array.from({ length: 33 }, () => 'database') }, 'components'],
    ['an extra key', { components: ['cache'], all: true }, null],
    ['null', null, null],
    ['a string', 'database', null],
  ])('selfTest refuses %s with BAD_REQUEST and flattened issues', async (_label, value, field) => {
    expectValidationError(await mutate('system.selfTest', JSON.stringify(value), t.admin), field);
  });

  it('selfTest refuses component names it does not know with BAD_REQUEST naming them', async () => {
    const answer = await mutate(
      'system.selfTest',
      JSON.stringify({ components: ['cache', 'nope'] }),
      t.admin,
    );
    expectTrpcError(answer, 400, 'BAD_REQUEST');
    expect(answer.body.error.message).toContain('nope');
    expect(answer.body.error.message).toContain('database');
  });

  it('selfTest limited to known components runs only theirs', async () => {
    const answer = await mutate('system.selfTest', JSON.stringify({ components: ['cache'] }), t.admin);
    expect(answer.res.status).toBe(200);
    const components = answer.body.result.data.checks.map((c: { component: string }) => c.component);
    expect(components.length).toBeGreaterThan(1);
    expect(new Set(components)).toEqual(new Set(['cache']));
  });

  it.each(['system.health', 'system.info'])(
    '%s takes no input and answers normally whatever input it is sent',
    async (procedure) => {
      for (const value of [{ extra: 1 }, 'x', null, [1, 2]]) {
        const answer = await query(procedure, value);
        expect(answer.res.status).toBe(200);
        expect(answer.body.result.data).toBeDefined();
      }
      const malformed = await send(`/api/trpc/${procedure}?input=%7Bbad`);
      expect(malformed.res.status).toBeLessThan(500);
    },
  );

  it.each([
    ['system.status', 'query', undefined],
    ['system.selfTest', 'mutation', '{}'],
    ['system.annotations.create', 'mutation', JSON.stringify({ text: 'x' })],
    ['system.annotations.list', 'query', undefined],
  ] as const)(
    'protected procedure %s answers UNAUTHORIZED without credentials or with invalid ones',
    async (procedure, type, body) => {
      const call = (headers: Record<string, string>) =>
        type === 'query' ? query(procedure, undefined, headers) : mutate(procedure, body, headers);
      expectTrpcError(await call({}), 401, 'UNAUTHORIZED');
      expectTrpcError(await call({ authorization: 'Bearer not-a-token' }), 401, 'UNAUTHORIZED');
      expectTrpcError(await call({ authorization: `Bearer ${METRICS_TOKEN}` }), 401, 'UNAUTHORIZED');
    },
  );

  it('checks the admin token before the input, so anonymous callers learn nothing of the schema', async () => {
    const answer = await mutate('system.annotations.create', JSON.stringify({ text: '', bogus: 1 }));
    expectTrpcError(answer, 401, 'UNAUTHORIZED');
    expect(answer.body.error.data.validation).toBeNull();
  });

  it('accepts a body just under BODY_LIMIT_BYTES', async () => {
    const body = JSON.stringify({ text: 'x'.repeat(BODY_LIMIT - 20) });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(BODY_LIMIT);
    const answer = await mutate('system.annotations.create', body, t.admin);
    expect(answer.res.status).toBe(400); // over the 2000-character text limit, but read and judged
    expect(answer.body.error.data.validation.fieldErrors.text).toBeDefined();
  });

  it('rejects an oversized body with a Content-Length header with 413 PAYLOAD_TOO_LARGE', async () => {
    const body = JSON.stringify({ text: 'x'.repeat(BODY_LIMIT * 4) });
    const answer = await send('/api/trpc/system.annotations.create', {
      method: 'POST',
      headers: json({ ...t.admin, 'content-length': String(Buffer.byteLength(body)) }),
      body,
    });
    expectHttpError(answer, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('rejects an oversized chunked body without Content-Length with 413 PAYLOAD_TOO_LARGE', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(512));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Far more than the limit, in small chunks: only counting what arrives can stop it.
        if (sent++ < 1000) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const req = new Request('http://platform.test/api/trpc/system.annotations.create', {
      method: 'POST',
      headers: json(t.admin),
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(req.headers.has('content-length')).toBe(false);
    const res = await t.app.request(req);
    const text = await res.text();
    expectHttpError({ res, text, body: JSON.parse(text) }, 413, 'PAYLOAD_TOO_LARGE');
    expect(sent).toBeLessThan(1000);
  });

  it('rejects an oversized chunked body over a real socket with 413 PAYLOAD_TOO_LARGE', async () => {
    const server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/api/trpc/system.annotations.create',
            headers: { ...json(t.admin), 'transfer-encoding': 'chunked' },
          },
          (res) => {
            let data = '';
            res.setEncoding('utf8');
            res.on('data', (d) => {
              data += d;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
          },
        );
        req.on('error', reject);
        for (let i = 0; i < 8; i++) req.write('x'.repeat(1024));
        req.end();
      });
      expect(status).toBe(413);
      expect(JSON.parse(body).error.code).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it(`accepts a batch of TRPC_MAX_BATCH_SIZE calls and refuses a larger one with 400`, async () => {
    const batch = (n: number) =>
      send(`/api/trpc/${Array.from({ length: n }, () => 'system.info').join(',')}?batch=1&input=%7B%7D`);
    const full = await batch(MAX_BATCH);
    expect(full.res.status).toBe(200);
    expect(full.body).toHaveLength(MAX_BATCH);
    expectTrpcError(await batch(MAX_BATCH + 1), 400, 'BAD_REQUEST');
    expectTrpcError(await batch(5_000), 400, 'BAD_REQUEST');
  });

  it('answers each call of a mixed batch with its own result or code', async () => {
    const answer = await send(
      `/api/trpc/system.info,system.nope,system.status?batch=1&${input({ 0: {}, 1: {}, 2: {} })}`,
    );
    expect(answer.res.status).toBe(207);
    expect(answer.res.headers.get('x-request-id')).toMatch(UUID);
    const [info, missing, status] = answer.body;
    expect(info.result.data.name).toBe('beauty-crafter-platform');
    expect(missing.error.data.code).toBe('NOT_FOUND');
    expect(status.error.data.code).toBe('UNAUTHORIZED');
    expect(missing.error.data.requestId).toBe(answer.res.headers.get('x-request-id'));
    expectNothingLeaked(answer.text);
  });

  it('hides the driver message of a database failure behind a generic 500', async () => {
    await t.deps.database.pool.query('alter table annotations rename to annotations_moved');
    try {
      const answer = await query('system.annotations.list', {}, t.admin);
      expectTrpcError(answer, 500, 'INTERNAL_SERVER_ERROR');
      expect(answer.body.error.message).toBe('Internal server error');
      expect(answer.text).not.toContain('annotations" does not exist');
      expect(answer.text).not.toContain('relation');
    } finally {
      await t.deps.database.pool.query('alter table annotations_moved rename to annotations');
    }
  });
});

describe('health routes', () => {
  it('serves GET /api/health as application/health+json with checks keyed component:measurement', async () => {
    const answer = await send('/api/health');
    expect(answer.res.status).toBe(200);
    expect(answer.res.headers.get('content-type')).toBe('application/health+json');
    expect(answer.res.headers.get('cache-control')).toBe('no-store');
    const report = answer.body;
    // 'warn' is allowed: its thresholds (event-loop lag, database latency) measure the machine,
    // and a CI box running server processes beside this file can cross them. A fail would be 503.
    expect(['pass', 'warn']).toContain(report.status);
    expect(report).toMatchObject({
      version: expect.any(String),
      releaseId: expect.any(String),
      serviceId: 'beauty-crafter-platform',
    });
    for (const [key, entries] of Object.entries(report.checks as Record<string, Record<string, unknown>[]>)) {
      expect(key).toMatch(/^[a-z]+:[a-zA-Z]+$/);
      for (const entry of entries) {
        expect(['pass', 'warn', 'fail']).toContain(entry.status);
        expect(new Date(String(entry.time)).toISOString()).toBe(entry.time);
      }
    }
    for (const key of ['uptime:duration', 'database:responseTime', 'eventloop:lag', 'memory:rss']) {
      const [entry] = report.checks[key];
      expect(typeof entry.observedValue, key).toBe('number');
      expect(entry.observedUnit, key).toEqual(expect.any(String));
    }
    expect(report.checks['database:responseTime'][0].observedUnit).toBe('ms');
    expect(report.checks['database:status'][0]).toMatchObject({ status: 'pass', observedValue: 'ready' });
  });

  it('answers /api/health/lightweight, live and ready with 200 and no-store', async () => {
    for (const path of ['/api/health/lightweight', '/api/health/live', '/api/health/ready']) {
      const answer = await send(path);
      expect(answer.res.status, path).toBe(200);
      expect(answer.res.headers.get('cache-control'), path).toBe('no-store');
      expect(answer.res.headers.get('content-type'), path).toBe('application/health+json');
      expect(answer.body, path).toEqual({ status: 'pass' });
    }
  });

  it('answers ready with 503 while draining, and full health with a draining warning', async () => {
    t.deps.lifecycle.beginDrain();
    try {
      const ready = await send('/api/health/ready');
      expect(ready.res.status).toBe(503);
      expect(ready.body).toEqual({ status: 'fail', output: 'draining' });
      expect((await send('/api/health/live')).res.status).toBe(200);
      const health = await send('/api/health');
      expect(health.res.status).toBe(200);
      expect(health.body.status).toBe('warn');
      expect(health.body.checks['instance:draining'][0]).toMatchObject({
        status: 'warn',
        observedValue: true,
      });
    } finally {
      t.deps.lifecycle.endDrain();
    }
    expect((await send('/api/health/ready')).res.status).toBe(200);
  });
});

/** An app built the way main.ts builds it, with its initializer started but not awaited. */
function buildUnstartedApp(env: Record<string, string>, databaseUrl: string) {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl, ...env });
  const deps: AppDeps = buildDependencies({
    config,
    logger: createLogger({
      level: config.LOG_LEVEL,
      destination: new Writable({ write: (_c, _e, done) => done() }),
    }),
    build: readBuildInfo(),
    databaseUrl,
    kek: TEST_KEK,
  });
  const started = deps.initializer.start();
  return {
    app: createApp(deps),
    deps,
    started,
    async close() {
      await deps.initializer.stop();
      await started;
      await deps.database.close();
    },
  };
}

/** A TCP port that accepts connections and never answers: a hung PostgreSQL. */
async function blackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A free TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('health when the database fails', () => {
  it('answers 503 fail on /api/health and ready, 200 on live, when PostgreSQL refuses connections', async () => {
    const port = await closedPort();
    const url = `postgres://platform:s3cret-pw@127.0.0.1:${port}/platform`;
    const broken = buildUnstartedApp({ DB_CONNECT_ATTEMPTS: '1', DB_RETRY_BASE_MS: '50' }, url);
    try {
      await vi.waitFor(() => {
        expect(broken.deps.initializer.states().find((s) => s.name === 'database')?.status).toBe('failed');
      });
      const res = await broken.app.request('/api/health');
      const text = await res.text();
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/health+json');
      const report = JSON.parse(text);
      expect(report.status).toBe('fail');
      // Between attempts it is failed; during one, initializing: either way, a fail.
      expect(report.checks['database:status'][0]).toMatchObject({
        status: 'fail',
        observedValue: expect.stringMatching(/^(failed|initializing)$/),
      });
      expect(report.checks['database:responseTime'][0]).toMatchObject({
        status: 'fail',
        output: 'error ECONNREFUSED',
      });
      // The driver's message names host and port; the password must never show anywhere.
      expect(text).not.toContain(`127.0.0.1:${port}`);
      expect(text).not.toContain('s3cret-pw');
      expect(text).not.toContain('platform:');

      const ready = await broken.app.request('/api/health/ready');
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: 'fail',
        output: expect.stringMatching(/^database (failed|initializing); auth pending$/),
      });
      expect((await broken.app.request('/api/health/live')).status).toBe(200);
      expect((await broken.app.request('/api/health/lightweight')).status).toBe(200);
    } finally {
      await broken.close();
    }
  });

  it('bounds the database check by HEALTH_DB_TIMEOUT_MS when PostgreSQL hangs', async () => {
    const hole = await blackhole();
    const url = `postgres://platform:pw@127.0.0.1:${hole.port}/platform`;
    const hung = buildUnstartedApp(
      { HEALTH_DB_TIMEOUT_MS: '100', DB_CONNECT_TIMEOUT_MS: '100', DB_CONNECT_ATTEMPTS: '1' },
      url,
    );
    try {
      // The connection never completes, so only the timeout can end this request.
      const res = await hung.app.request('/api/health');
      expect(res.status).toBe(503);
      const report = await res.json();
      expect(report.status).toBe('fail');
      const [entry] = report.checks['database:responseTime'];
      expect(entry.status).toBe('fail');
      expect(['no answer within 100 ms', 'unavailable']).toContain(entry.output);
      expect((await hung.app.request('/api/health/ready')).status).toBe(503);
    } finally {
      await hung.close();
      await hole.close();
    }
  });

  describe('after start', () => {
    let database: TestDatabase;
    let proxy: TcpProxy;
    let app: ReturnType<typeof buildUnstartedApp>;

    beforeAll(async () => {
      database = await createTestDatabase();
      const target = new URL(database.url);
      proxy = await tcpProxy(Number(target.port));
      const viaProxy = new URL(database.url);
      viaProxy.port = String(proxy.port);
      app = buildUnstartedApp({ HEALTH_DB_TIMEOUT_MS: '500', DB_CONNECT_ATTEMPTS: '1' }, viaProxy.toString());
      await app.started;
    });
    afterAll(async () => {
      await app?.close();
      await proxy?.close();
      await database?.drop();
    });

    it('turns ready 503 when the database becomes unreachable, and 200 once it is back', async () => {
      expect((await app.app.request('/api/health/ready')).status).toBe(200);
      await proxy.stop();
      await vi.waitFor(
        async () => {
          const res = await app.app.request('/api/health/ready');
          expect(res.status).toBe(503);
          // Unreachable to the ping, or already marked degraded by the failed connection.
          expect(await res.json()).toEqual({
            status: 'fail',
            output: expect.stringMatching(/^database (unreachable|degraded)$/),
          });
        },
        { timeout: 5000, interval: 100 },
      );
      const health = await app.app.request('/api/health');
      expect(health.status).toBe(503);
      expect((await app.app.request('/api/health/live')).status).toBe(200);

      await proxy.resume();
      await vi.waitFor(
        async () => {
          expect((await app.app.request('/api/health/ready')).status).toBe(200);
        },
        { timeout: 5000, interval: 100 },
      );
    });
  });
});

interface TcpProxy {
  port: number;
  /** Stops listening and cuts every connection: the database is gone. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy to PostgreSQL on `targetPort`, to take the database away and give it back. */
async function tcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = async () => {
    const s = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      sockets.add(client);
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    s.listen(port, '127.0.0.1');
    await once(s, 'listening');
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (s) await new Promise((resolve) => s.close(resolve));
  };
  await listen();
  return { port, stop, resume: listen, close: stop };
}
