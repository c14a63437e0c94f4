import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { applySecurityHeaders, SECURITY_HEADERS, secureHeaders, securityHeaders } from './security-headers';

const EXPECTED = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};

function testApp() {
  const app = new Hono();
  app.use('*', securityHeaders());
  app.get('/json', (c) => c.json({ ok: true }));
  // Like the tRPC adapter: a Response built by the handler, not through the context.
  app.post(
    '/own-response',
    () => new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } }),
  );
  app.get('/cached', (c) => c.json({ public: true }, 200, { 'Cache-Control': 'public, max-age=60' }));
  app.get('/page', (c) =>
    c.html('<p>dashboard</p>', 200, { 'Content-Security-Policy': "default-src 'self'" }),
  );
  app.get('/fails', () => {
    throw new Error('boom');
  });
  app.onError((_error, c) => c.json({ error: 'internal' }, 500));
  return app;
}

function securityHeadersOf(response: Response): Record<string, string | null> {
  return Object.fromEntries(Object.keys(EXPECTED).map((name) => [name, response.headers.get(name)]));
}

describe('security headers', () => {
  it('puts every header, with its exact value, on a JSON answer', async () => {
    const response = await testApp().request('/json');
    expect(response.status).toBe(200);
    expect(securityHeadersOf(response)).toEqual(EXPECTED);
  });

  it('reaches a Response the handler built itself, as the tRPC adapter does', async () => {
    const response = await testApp().request('/own-response', { method: 'POST' });
    expect(securityHeadersOf(response)).toEqual(EXPECTED);
  });

  it('covers error and not-found answers too', async () => {
    const app = testApp();
    const failed = await app.request('/fails');
    expect(failed.status).toBe(500);
    expect(securityHeadersOf(failed)).toEqual(EXPECTED);
    const missing = await app.request('/nowhere');
    expect(missing.status).toBe(404);
    expect(securityHeadersOf(missing)).toEqual(EXPECTED);
  });

  it('keeps a Cache-Control the route chose and adds no-store only where there was none', async () => {
    const response = await testApp().request('/cached');
    expect(response.headers.get('cache-control')).toBe('public, max-age=60');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });

  it('keeps a Content-Security-Policy the route chose (the dashboard will need its own)', async () => {
    const response = await testApp().request('/page');
    expect(response.headers.get('content-security-policy')).toBe("default-src 'self'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('overrides a weaker value of an invariant header', () => {
    const headers = new Headers({ 'X-Frame-Options': 'SAMEORIGIN', 'Referrer-Policy': 'unsafe-url' });
    applySecurityHeaders(headers);
    expect(headers.get('x-frame-options')).toBe('DENY');
    expect(headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('exports the fixed headers under their canonical names', () => {
    const { 'cache-control': _conditional, ...fixed } = EXPECTED;
    expect(
      Object.fromEntries(
        Object.entries(SECURITY_HEADERS).map(([name, value]) => [name.toLowerCase(), value]),
      ),
    ).toEqual(fixed);
    expect(Object.isFrozen(SECURITY_HEADERS)).toBe(true);
  });

  it('gives a response built from the pre-built block every header, and leaves its own choices alone', async () => {
    const app = new Hono();
    app.use('*', securityHeaders());
    app.get('/block', () => new Response('{}', { headers: secureHeaders(true) }));
    app.get('/block-cached', () => {
      const headers = secureHeaders(true);
      headers.set('cache-control', 'public, max-age=60');
      return new Response('{}', { headers });
    });
    const block = await app.request('/block');
    expect(securityHeadersOf(block)).toEqual(EXPECTED);
    expect(block.headers.get('content-type')).toBe('application/json');
    const cached = await app.request('/block-cached');
    expect(cached.headers.get('cache-control')).toBe('public, max-age=60');
    expect(cached.headers.get('x-frame-options')).toBe('DENY');
    expect(secureHeaders().get('content-type')).toBeNull();
  });
});
