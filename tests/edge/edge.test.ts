import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, inject, it } from 'vitest';

// These run inside workerd, against the Worker twice: server/edge.ts as the pool loads it (SELF,
// reaching PostgreSQL through DATABASE_URL), and the bundle a deploy uploads (dist/edge/edge.js,
// EDGE_BUNDLE, through a Hyperdrive binding). The origin (Bun), its PostgreSQL and the token come
// from tests/edge/origin-setup.ts; see vitest.edge.config.ts.

const BASE = 'https://edge.test';

interface Target {
  name: string;
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

const TARGETS: Target[] = [
  { name: 'server/edge.ts, DATABASE_URL', fetch: (input, init) => SELF.fetch(input, init) },
  { name: 'dist/edge/edge.js, Hyperdrive', fetch: (input, init) => env.EDGE_BUNDLE.fetch(input, init) },
];

interface TrpcBody<T> {
  result?: { data: T };
  error?: { message: string; data: { code: string; httpStatus: number; requestId: string | null } };
}

/** One tRPC call through the edge: a query over GET, a mutation over POST. */
async function trpc<T = unknown>(
  target: Target,
  path: string,
  { token, input, mutation = false }: { token?: string; input?: unknown; mutation?: boolean } = {},
) {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let url = `${BASE}/api/trpc/${path}`;
  const init: RequestInit = { headers };
  if (mutation) {
    init.method = 'POST';
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(input ?? null);
  } else if (input !== undefined) {
    url += `?input=${encodeURIComponent(JSON.stringify(input))}`;
  }
  const response = await target.fetch(url, init);
  return { response, body: (await response.json()) as TrpcBody<T> };
}

/** A token with the origin token's claims and kid, signed with a key the origin never had. */
async function forgedToken(genuine: string): Promise<string> {
  const { kid, alg } = decodeProtectedHeader(genuine);
  const { privateKey } = await generateKeyPair(alg ?? 'EdDSA');
  return new SignJWT(decodeJwt(genuine))
    .setProtectedHeader({ alg: alg ?? 'EdDSA', kid: kid ?? '', typ: 'at+jwt' })
    .sign(privateKey);
}

describe.each(TARGETS)('the edge build in workerd: $name', (target) => {
  const token = inject('accessToken');
  const log = (...line: unknown[]) => console.log(`[${target.name}]`, ...line);

  it('answers the lightweight probe', async () => {
    const response = await target.fetch(`${BASE}/api/health/lightweight`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'pass' });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    log('GET /api/health/lightweight at the edge:', response.status);
  });

  it('says it runs on workerd (system.info)', async () => {
    const { response, body } = await trpc<{ name: string; runtime: { name: string; version: string } }>(
      target,
      'system.info',
    );
    expect(response.status).toBe(200);
    expect(body.result?.data.name).toBe('beauty-crafter-platform');
    expect(body.result?.data.runtime).toEqual({ name: 'workerd', version: 'cloudflare-workers' });
    // The per-isolate rate limiter admitted the anonymous call and said so.
    expect(response.headers.get('ratelimit-policy')).toBe('"ip";q=600;w=60');
    log('system.info at the edge:', response.status, JSON.stringify(body.result?.data.runtime));
  });

  it('reports the database and the origin keys as reachable (GET /api/health, readiness)', async () => {
    const response = await target.fetch(`${BASE}/api/health`);
    const report = (await response.json()) as {
      status: string;
      checks: Record<string, { status: string; observedValue?: unknown }[]>;
    };
    expect(response.status).toBe(200);
    expect(report.status).toBe('pass');
    expect(report.checks['database:responseTime']?.[0]?.status).toBe('pass');
    expect(report.checks['origin-keys:count']?.[0]).toMatchObject({ status: 'pass', observedValue: 1 });
    const ready = await target.fetch(`${BASE}/api/health/ready`);
    expect(ready.status).toBe(200);
    const overTrpc = await trpc<{ status: string }>(target, 'system.health');
    expect(overTrpc.body.result?.data.status).toBe('pass');
    log(
      'GET /api/health at the edge:',
      response.status,
      report.status,
      Object.keys(report.checks).join(', '),
      '| ready:',
      ready.status,
      '| system.health:',
      overTrpc.body.result?.data.status,
    );
  });

  it("verifies an access token the origin issued, against the origin's JWKS (auth.me)", async () => {
    const admin = inject('admin');
    const { response, body } = await trpc(target, 'auth.me', { token });
    expect(response.status).toBe(200);
    expect(body.result?.data).toMatchObject({
      kind: 'user',
      userId: admin.userId,
      organizationId: admin.organizationId,
      role: 'admin',
      sessionId: decodeJwt(token).sid,
    });
    log('auth.me at the edge with the origin token:', response.status, JSON.stringify(body.result?.data));
  });

  it('refuses a token forged under the origin kid, and one naming an unknown kid, as the origin does', async () => {
    const forged = await trpc(target, 'auth.me', { token: await forgedToken(token) });
    expect(forged.response.status).toBe(401);
    expect(forged.body.error?.data.code).toBe('UNAUTHORIZED');
    expect(forged.body.error?.message).toBe('the access token is invalid or expired');
    expect(forged.response.headers.get('www-authenticate')).toBe('Bearer realm="beauty-crafter"');

    const [header, payload, signature] = token.split('.');
    const otherKid = Buffer.from(
      JSON.stringify({ ...decodeProtectedHeader(token), kid: 'kid-the-origin-never-made' }),
    ).toString('base64url');
    const unknownKid = await trpc(target, 'auth.me', { token: `${otherKid}.${payload}.${signature}` });
    expect(header).not.toBe(otherKid);
    expect(unknownKid.response.status).toBe(401);
    expect(unknownKid.body.error?.message).toBe('the access token is invalid or expired');
    log(
      'auth.me at the edge with a forged token:',
      forged.response.status,
      forged.body.error?.data.code,
      '| with an unknown kid:',
      unknownKid.response.status,
    );
  });

  it('reads the database: the annotation written through the origin (system.annotations.list)', async () => {
    const written = inject('annotation');
    const { response, body } = await trpc<{ items: { id: number; text: string; tags: string[] }[] }>(
      target,
      'system.annotations.list',
      { token, input: { tag: 'edge' } },
    );
    expect(response.status).toBe(200);
    expect(body.result?.data?.items).toEqual([expect.objectContaining(written)]);

    const anonymous = await trpc(target, 'system.annotations.list', { input: { tag: 'edge' } });
    expect(anonymous.response.status).toBe(401);
    log(
      'system.annotations.list at the edge:',
      response.status,
      JSON.stringify(body.result?.data),
      '| without a token:',
      anonymous.response.status,
    );
  });

  it('streams a batch when the client asks for it, and closes its connections once sent', async () => {
    // httpBatchStreamLink's request: a GET batch with trpc-accept: application/jsonl.
    const input = encodeURIComponent(JSON.stringify({ 0: { tag: 'edge' }, 1: { tag: 'edge' } }));
    const response = await target.fetch(
      `${BASE}/api/trpc/system.annotations.list,system.annotations.list?batch=1&input=${input}`,
      { headers: { authorization: `Bearer ${token}`, 'trpc-accept': 'application/jsonl' } },
    );
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text.split(inject('annotation').text)).toHaveLength(3);
    // The connections of the streamed request are closed; the next request opens its own.
    const next = await trpc(target, 'system.annotations.list', { token, input: { tag: 'edge' } });
    expect(next.response.status).toBe(200);
    log(
      'streamed batch at the edge:',
      response.status,
      `${text.split('\n').length - 1} lines`,
      '| next:',
      next.response.status,
    );
  });

  it('answers 405 "served by the origin" for what stays on the origin, before touching it', async () => {
    const refusals = {
      'auth.sessions.list': await trpc(target, 'auth.sessions.list', { token }),
      'devops.deployments.list': await trpc(target, 'devops.deployments.list', { token, input: {} }),
      'auth.login (mutation)': await trpc(target, 'auth.login', {
        mutation: true,
        input: { email: inject('admin').email, password: 'not tried at the edge' },
      }),
      'system.annotations.create (mutation)': await trpc(target, 'system.annotations.create', {
        token,
        mutation: true,
        input: { text: 'never written at the edge', tags: ['edge'] },
      }),
    };
    for (const [call, { response, body }] of Object.entries(refusals)) {
      expect(response.status, call).toBe(405);
      expect(body.error?.data.code, call).toBe('METHOD_NOT_SUPPORTED');
      expect(body.error?.message, call).toMatch(/: served by the origin, not at the edge$/);
    }
    // Nothing was written: the annotation of the origin is still the only one.
    const after = await trpc<{ items: unknown[] }>(target, 'system.annotations.list', {
      token,
      input: { tag: 'edge' },
    });
    expect(after.body.result?.data?.items).toHaveLength(1);

    const apiKey = await trpc(target, 'auth.me', { token: 'bc_test_0123456789abcdef0123456789abcdef' });
    expect(apiKey.response.status).toBe(405);
    expect(apiKey.body.error?.message).toBe('API-key verification: served by the origin, not at the edge');

    const routes = ['/.well-known/jwks.json', '/api/system/status'];
    for (const route of routes) {
      const response = await target.fetch(`${BASE}${route}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await response.json()) as { error: { code: string; message: string; requestId: string } };
      expect(response.status, route).toBe(405);
      expect(body.error.code, route).toBe('METHOD_NOT_SUPPORTED');
      expect(body.error.message, route).toMatch(/served by the origin/);
      expect(body.error.requestId, route).toBe(response.headers.get('x-request-id'));
    }
    log(
      'origin-only at the edge:',
      [
        ...Object.entries(refusals).map(([call, { response }]) => `${call} ${response.status}`),
        `API key ${apiKey.response.status}`,
        ...routes.map((r) => `GET ${r} 405`),
      ].join('; '),
    );
  });

  it("carries the caller's trace id in its error bodies (W3C traceparent, propagation only)", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await target.fetch(`${BASE}/api/system/status`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    const body = (await response.json()) as { error: { requestId: string; traceId?: string } };
    expect(response.status).toBe(405);
    expect(body.error).toMatchObject({ requestId: response.headers.get('x-request-id'), traceId });
  });

  it("counts this isolate's requests and queries in its own registry (GET /metrics)", async () => {
    await trpc(target, 'system.annotations.list', { token, input: { tag: 'edge' } });
    const response = await target.fetch(`${BASE}/metrics`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).toMatch(/^platform_build_info\{[^}]*runtime="workerd"[^}]*\} 1$/m);
    expect(text).toMatch(
      /^trpc_procedure_calls_total\{procedure="system\.annotations\.list",type="query",code="OK"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^db_client_operation_duration_seconds_count\{operation="select",result="ok"\} [1-9]/m,
    );
    log(
      'GET /metrics at the edge:',
      response.status,
      text.match(/^trpc_procedure_calls_total\{procedure="system\.annotations\.list".*$/m)?.[0],
    );
  });
});
