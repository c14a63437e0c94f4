import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { JWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PlatformError } from '../../base/errors';
import { createPropagation } from '../../base/tracing/context';
import { InvalidTokenError, signAccessToken } from '../../services/auth/access-tokens';
import { UNKNOWN_KID_RELOAD_INTERVAL_MS } from '../../services/auth/keyring';
import {
  generateSigningKey,
  importSigningKey,
  publicJwks,
  type SigningKeyRecord,
} from '../../services/auth/signing-keys';
import { OriginKeys } from './origin-keys';

const ISSUER = 'beauty-crafter';
const AUDIENCE = 'beauty-crafter-api';
const CLAIMS = { sub: 'user-1', org: 'org-1', role: 'admin', sid: 'session-1' };

/** An origin's JWKS endpoint over real HTTP, whose keys and health a test changes. */
class JwksEndpoint {
  keys: JWK[] = [];
  failing = false;
  requests = 0;
  traceparents: string[] = [];
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      this.requests++;
      if (request.headers.traceparent) this.traceparents.push(String(request.headers.traceparent));
      if (this.failing) {
        response.writeHead(503).end();
        return;
      }
      response
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' })
        .end(JSON.stringify({ keys: this.keys }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

async function tokenOf(key: SigningKeyRecord): Promise<string> {
  return signAccessToken(CLAIMS, await importSigningKey(key), { issuer: ISSUER, audience: AUDIENCE });
}

describe("OriginKeys: the origin's signing keys at the edge", () => {
  const endpoint = new JwksEndpoint();
  let jwksUrl: string;
  let first: SigningKeyRecord;
  let second: SigningKeyRecord;
  const originKeys = () =>
    new OriginKeys({ jwksUrl, issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 5 });

  beforeAll(async () => {
    jwksUrl = await endpoint.start();
    [first, second] = await Promise.all([generateSigningKey('EdDSA'), generateSigningKey('ES256')]);
  });
  afterAll(() => endpoint.stop());
  afterEach(() => {
    vi.useRealTimers();
    endpoint.failing = false;
    endpoint.requests = 0;
  });

  it('verifies tokens of the key set, fetching it once within its max-age', async () => {
    endpoint.keys = publicJwks([first]).keys;
    const keys = originKeys();
    for (let i = 0; i < 3; i++) {
      await expect(keys.verifyAccessToken(await tokenOf(first))).resolves.toMatchObject(CLAIMS);
    }
    expect(endpoint.requests).toBe(1);
    expect(keys.status().kids).toEqual([first.kid]);
  });

  it('fetches the key set again once its max-age (Cache-Control) has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    endpoint.keys = publicJwks([first]).keys;
    const keys = originKeys();
    await keys.verifyAccessToken(await tokenOf(first));
    vi.setSystemTime(Date.now() + 299_000);
    await keys.verifyAccessToken(await tokenOf(first));
    expect(endpoint.requests).toBe(1);
    vi.setSystemTime(Date.now() + 2_000);
    await keys.verifyAccessToken(await tokenOf(first));
    expect(endpoint.requests).toBe(2);
  });

  it('learns a key the origin rotated to from the first token naming it, then waits before asking again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    endpoint.keys = publicJwks([first]).keys;
    const keys = originKeys();
    await keys.verifyAccessToken(await tokenOf(first));
    // The rotation happens after this isolate fetched: its token names a kid not held.
    endpoint.keys = publicJwks([first, second]).keys;
    vi.setSystemTime(Date.now() + UNKNOWN_KID_RELOAD_INTERVAL_MS);
    await expect(keys.verifyAccessToken(await tokenOf(second))).resolves.toMatchObject(CLAIMS);
    expect(endpoint.requests).toBe(2);

    // A made-up kid right after buys no fetch; the same kid later does, and is still refused.
    const madeUp = await generateSigningKey('EdDSA');
    const refusal = await keys.verifyAccessToken(await tokenOf(madeUp)).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(InvalidTokenError);
    expect((refusal as InvalidTokenError).reason).toBe('unknown_kid');
    expect(endpoint.requests).toBe(2);
    vi.setSystemTime(Date.now() + UNKNOWN_KID_RELOAD_INTERVAL_MS);
    await expect(keys.verifyAccessToken(await tokenOf(madeUp))).rejects.toBeInstanceOf(InvalidTokenError);
    expect(endpoint.requests).toBe(3);
  });

  it('goes on verifying with the keys it holds while the origin is failing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    endpoint.keys = publicJwks([first]).keys;
    const keys = originKeys();
    await keys.verifyAccessToken(await tokenOf(first));
    endpoint.failing = true;
    vi.setSystemTime(Date.now() + 301_000);
    await expect(keys.verifyAccessToken(await tokenOf(first))).resolves.toMatchObject(CLAIMS);
    expect(endpoint.requests).toBe(2);
    expect(keys.status().kids).toEqual([first.kid]);
  });

  it('answers 503 when it holds no keys and the origin cannot give any', async () => {
    endpoint.failing = true;
    const refusal = await originKeys()
      .verifyAccessToken(await tokenOf(first))
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(PlatformError);
    expect((refusal as PlatformError).code).toBe('SERVICE_UNAVAILABLE');
    expect((refusal as PlatformError).message).toBe(
      "access tokens cannot be verified now: the origin's signing keys are unreachable",
    );
  });

  it('sends the trace context of the request that needed the keys with the fetch (traceparent)', async () => {
    endpoint.keys = publicJwks([first]).keys;
    const keys = new OriginKeys({
      jwksUrl,
      issuer: ISSUER,
      audience: AUDIENCE,
      clockToleranceSeconds: 5,
      tracing: createPropagation(),
    });
    const caller = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
    await context.with(trace.setSpanContext(ROOT_CONTEXT, caller), () => keys.currentKeys());
    expect(endpoint.traceparents).toEqual([`00-${caller.traceId}-${caller.spanId}-01`]);
  });
});
