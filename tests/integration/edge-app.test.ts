import { afterAll, describe, expect, it } from 'vitest';
import { createPropagation } from '../../server/base/tracing/context';
import type { RequestDeps } from '../../server/http/deps';
import { createEdgeApp } from '../../server/http/edge-app';
import { closeRouterDeps, routerDeps } from '../helpers/router-context';
import { PROCEDURES } from '../helpers/router-walk';

/**
 * The edge's app over exactly what the edge builds (RequestDeps, no origin service), in
 * process: which procedures and routes it serves, and that the rest are refused as the origin's
 * before anything runs. The workerd run (tests/edge) checks the same app in a real isolate.
 */
function edgeDeps(): RequestDeps {
  const origin = routerDeps();
  return {
    site: 'edge',
    config: origin.config,
    logger: origin.logger,
    build: origin.build,
    startedAt: origin.startedAt,
    metrics: origin.metrics,
    database: origin.database,
    initializer: origin.initializer,
    lifecycle: origin.lifecycle,
    rateLimiter: origin.rateLimiter,
    auth: { authenticator: origin.auth.authenticator },
    performance: { analytics: origin.performance.analytics },
    maintenance: null,
  };
}

/** What the edge serves: public procedures and those built with the edge's policies. */
const SERVED_AT_THE_EDGE = ['auth.me', 'system.annotations.list', 'system.health', 'system.info'];

afterAll(closeRouterDeps);

describe('the edge app', () => {
  const app = createEdgeApp(edgeDeps());

  async function call(path: string, type: string) {
    const response = await app.request(
      `/api/trpc/${path}`,
      type === 'mutation'
        ? { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }
        : {},
    );
    const body = (await response.json()) as { error?: { message: string; data: { code: string } } };
    return { status: response.status, body };
  }

  it('serves its own procedures and refuses every other one as the origin’s, before authenticating', async () => {
    const served: string[] = [];
    for (const procedure of PROCEDURES) {
      // No credential: a procedure that got as far as its policy would answer 401.
      const { status, body } = await call(procedure.path, procedure.type);
      if (status === 405) {
        expect(body.error?.data.code, procedure.path).toBe('METHOD_NOT_SUPPORTED');
        expect(body.error?.message, procedure.path).toBe(
          `${procedure.path}: served by the origin, not at the edge`,
        );
      } else {
        served.push(procedure.path);
      }
    }
    expect(served.sort()).toEqual(SERVED_AT_THE_EDGE);
    expect((await call('system.info', 'query')).status).toBe(200);
    expect((await call('auth.me', 'query')).status).toBe(401);
    expect((await call('system.annotations.list', 'query')).status).toBe(401);
  });

  it('answers the probes and /metrics, and refuses the origin’s routes with 405 naming it', async () => {
    expect((await app.request('/api/health/lightweight')).status).toBe(200);
    expect((await app.request('/metrics')).status).toBe(200);
    for (const path of [
      '/api/v1/system/info',
      '/.well-known/jwks.json',
      '/api/system/status',
      '/api/openapi.json',
      '/',
    ]) {
      const response = await app.request(path);
      const body = (await response.json()) as { error: { code: string; message: string; requestId: string } };
      expect(response.status, path).toBe(405);
      expect(body.error.code, path).toBe('METHOD_NOT_SUPPORTED');
      expect(body.error.message, path).toBe(`GET ${path}: served by the origin, not at the edge`);
      expect(body.error.requestId, path).toBe(response.headers.get('x-request-id'));
    }
  });

  it("carries the caller's trace id (propagation only) in error bodies and request log lines", async () => {
    const traced = createEdgeApp({ ...edgeDeps(), tracing: createPropagation() });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await traced.request('/api/system/status', {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(response.status).toBe(405);
    const body = (await response.json()) as { error: { requestId: string; traceId?: string } };
    expect(body.error).toMatchObject({ requestId: response.headers.get('x-request-id'), traceId });
    // Without a caller's context the edge starts no trace of its own: no trace id to give.
    const untraced = await traced.request('/api/system/status');
    expect(((await untraced.json()) as { error: { traceId?: string } }).error.traceId).toBeUndefined();
  });
});
