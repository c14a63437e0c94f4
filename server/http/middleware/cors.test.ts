import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { cors, normalizeOrigin } from './cors';

const DASHBOARD = 'https://dashboard.beauty-crafter.example';
const EVIL = 'https://evil.example';

function testApp() {
  const app = new Hono();
  // A trailing slash, as someone may well write it in CORS_ORIGINS.
  app.use('/api/trpc/*', cors({ origins: [`${DASHBOARD}/`, 'http://localhost:5173'] }));
  app.all('/api/trpc/*', (c) => c.json({ result: { data: 'ok' } }, 200, { 'X-Request-Id': 'req-1' }));
  app.get('/api/health', (c) => c.json({ status: 'ok' }));
  return app;
}

function corsHeadersOf(response: Response): string[] {
  return [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));
}

const preflight = (origin: string) => ({
  method: 'OPTIONS',
  headers: {
    Origin: origin,
    'Access-Control-Request-Method': 'POST',
    'Access-Control-Request-Headers': 'content-type, authorization',
  },
});

describe('cors', () => {
  it('answers an allowed origin with that exact origin, credentials and the exposed headers', async () => {
    const response = await testApp().request('/api/trpc/system.info', { headers: { Origin: DASHBOARD } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ result: { data: 'ok' } });
    expect(response.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-expose-headers')).toBe(
      'X-Request-Id, RateLimit, RateLimit-Policy, Retry-After',
    );
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it('answers a preflight from an allowed origin with 204 and the full policy', async () => {
    const response = await testApp().request('/api/trpc/auth.login', preflight('http://localhost:5173'));
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
    expect(Object.fromEntries(response.headers)).toEqual({
      'access-control-allow-origin': 'http://localhost:5173',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'content-type, authorization, x-api-key, x-request-id, trpc-accept',
      'access-control-allow-credentials': 'true',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
  });

  it('never answers with the wildcard origin', async () => {
    const app = testApp();
    for (const init of [{ headers: { Origin: DASHBOARD } }, preflight(DASHBOARD)]) {
      const response = await app.request('/api/trpc/system.info', init);
      expect(response.headers.get('access-control-allow-origin')).not.toBe('*');
    }
  });

  it('gives a disallowed origin no CORS headers, so its page cannot read the answer', async () => {
    const response = await testApp().request('/api/trpc/system.info', { headers: { Origin: EVIL } });
    expect(response.status).toBe(200);
    expect(corsHeadersOf(response)).toEqual([]);
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it('refuses a preflight from a disallowed origin with 403 in the platform error body', async () => {
    const response = await testApp().request('/api/trpc/auth.login', preflight(EVIL));
    expect(response.status).toBe(403);
    expect(corsHeadersOf(response)).toEqual([]);
    expect(await response.json()).toEqual({
      error: { code: 'FORBIDDEN', message: 'this origin may not call the API', requestId: 'unknown' },
    });
  });

  it('treats Origin: null (sandboxed frames, file pages) as disallowed', async () => {
    const response = await testApp().request('/api/trpc/auth.login', preflight('null'));
    expect(response.status).toBe(403);
    expect(corsHeadersOf(response)).toEqual([]);
  });

  it('matches origins exactly: no suffix, scheme or port tricks', async () => {
    const app = testApp();
    for (const origin of [
      `${DASHBOARD}.evil.example`,
      'http://dashboard.beauty-crafter.example',
      `${DASHBOARD}:8443`,
      'https://evil-dashboard.beauty-crafter.example',
    ]) {
      const response = await app.request('/api/trpc/system.info', { headers: { Origin: origin } });
      expect(corsHeadersOf(response), origin).toEqual([]);
    }
  });

  it('leaves a request without Origin (same-origin, curl, server to server) untouched', async () => {
    const response = await testApp().request('/api/trpc/system.info');
    expect(response.status).toBe(200);
    expect(corsHeadersOf(response)).toEqual([]);
    expect(response.headers.get('vary')).toBeNull();
  });

  it('does nothing on routes it is not mounted on', async () => {
    const response = await testApp().request('/api/health', { headers: { Origin: DASHBOARD } });
    expect(corsHeadersOf(response)).toEqual([]);
  });
});

describe('normalizeOrigin', () => {
  it('reduces a URL to the origin a browser sends', () => {
    expect(normalizeOrigin('https://App.Example:443/path/')).toBe('https://app.example');
    expect(normalizeOrigin('http://localhost:5173/')).toBe('http://localhost:5173');
  });

  it('drops what has no origin', () => {
    expect(normalizeOrigin('not a url')).toBeUndefined();
    expect(normalizeOrigin('file:///etc/passwd')).toBeUndefined();
  });
});
