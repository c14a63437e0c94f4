import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { type CsrfRequest, checkCsrf, csrf } from './csrf';

const SELF = 'http://localhost';
const DASHBOARD = 'https://dashboard.beauty-crafter.example';
const EVIL = 'https://evil.example';
const COOKIE = 'bc_refresh=opaque-token-value';

/** A mutation route behind the guard, which applies to requests carrying a cookie. */
function testApp() {
  const app = new Hono();
  let mutations = 0;
  app.use(
    '/api/trpc/*',
    csrf({ allowedOrigins: [`${DASHBOARD}/`], appliesTo: (c) => c.req.header('cookie') !== undefined }),
  );
  app.post('/api/trpc/auth.refresh', (c) => {
    mutations += 1;
    return c.json({ result: { data: 'refreshed' } });
  });
  app.get('/api/trpc/auth.session', (c) => c.json({ result: { data: 'session' } }));
  return { app, mutations: () => mutations };
}

function post(headers: Record<string, string>) {
  return { method: 'POST', headers: { cookie: COOKIE, ...headers }, body: '{}' };
}

describe('csrf middleware', () => {
  it('refuses a cross-site POST that carries the cookie, before the handler runs', async () => {
    const { app, mutations } = testApp();
    const response = await app.request(
      '/api/trpc/auth.refresh',
      post({ origin: EVIL, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }),
    );
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: {
        code: 'FORBIDDEN',
        message: 'cross-site request refused: the origin is not allowed',
        requestId: 'unknown',
      },
    });
    expect(mutations()).toBe(0);
  });

  it('lets a same-origin JSON POST through', async () => {
    const { app, mutations } = testApp();
    const response = await app.request(
      '/api/trpc/auth.refresh',
      post({ origin: SELF, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ result: { data: 'refreshed' } });
    expect(mutations()).toBe(1);
  });

  it('lets an allowed origin (the dashboard) through', async () => {
    const { app, mutations } = testApp();
    const response = await app.request(
      '/api/trpc/auth.refresh',
      post({
        origin: DASHBOARD,
        'sec-fetch-site': 'same-site',
        'content-type': 'application/json; charset=utf-8',
      }),
    );
    expect(response.status).toBe(200);
    expect(mutations()).toBe(1);
  });

  it('refuses form content types with 415, even from the same origin', async () => {
    const { app } = testApp();
    for (const contentType of [
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/plain;charset=UTF-8',
    ]) {
      const response = await app.request(
        '/api/trpc/auth.refresh',
        post({ origin: SELF, 'content-type': contentType }),
      );
      expect(response.status, contentType).toBe(415);
      const body = await response.json();
      expect(body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('lets a POST without Origin through when Sec-Fetch-Site says same-origin', async () => {
    const { app, mutations } = testApp();
    const response = await app.request(
      '/api/trpc/auth.refresh',
      post({ 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }),
    );
    expect(response.status).toBe(200);
    expect(mutations()).toBe(1);
  });

  it('refuses a POST without Origin when Sec-Fetch-Site says cross-site or same-site, or is missing', async () => {
    const { app, mutations } = testApp();
    for (const fetchSite of ['cross-site', 'same-site', undefined]) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (fetchSite) headers['sec-fetch-site'] = fetchSite;
      const response = await app.request('/api/trpc/auth.refresh', post(headers));
      expect(response.status, String(fetchSite)).toBe(403);
    }
    expect(mutations()).toBe(0);
  });

  it('leaves safe methods and requests without the cookie alone', async () => {
    const { app, mutations } = testApp();
    const query = await app.request('/api/trpc/auth.session', { headers: { cookie: COOKIE, origin: EVIL } });
    expect(query.status).toBe(200);
    // A bearer-token client: nothing the browser attaches on its own, so nothing to forge.
    const bearer = await app.request('/api/trpc/auth.refresh', {
      method: 'POST',
      headers: { authorization: 'Bearer abc', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(bearer.status).toBe(200);
    expect(mutations()).toBe(1);
  });
});

describe('checkCsrf', () => {
  const base: CsrfRequest = {
    method: 'POST',
    origin: 'https://api.beauty-crafter.example',
    secFetchSite: 'same-origin',
    contentType: 'application/json',
    host: 'api.beauty-crafter.example',
    allowedOrigins: [DASHBOARD],
  };

  it('passes safe methods whatever their headers say', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(checkCsrf({ ...base, method, origin: EVIL, contentType: 'text/plain' })).toBeNull();
    }
  });

  it('checks every state-changing method', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(checkCsrf({ ...base, method, origin: EVIL })?.code).toBe('FORBIDDEN');
    }
  });

  it('counts the same host as same-origin under either scheme (TLS may end at a proxy)', () => {
    expect(checkCsrf(base)).toBeNull();
    expect(checkCsrf({ ...base, origin: 'http://api.beauty-crafter.example' })).toBeNull();
    expect(checkCsrf({ ...base, host: 'API.Beauty-Crafter.example' })).toBeNull();
  });

  it('refuses look-alike and port-shifted origins', () => {
    for (const origin of [
      'https://api.beauty-crafter.example.evil.example',
      'https://evilapi.beauty-crafter.example',
      'https://sub.api.beauty-crafter.example',
      'ftp://api.beauty-crafter.example',
      'https://api.beauty-crafter.example:8443',
      'https://beauty-crafter.example',
      'null',
    ]) {
      expect(checkCsrf({ ...base, origin }), origin).toEqual({
        code: 'FORBIDDEN',
        message: 'cross-site request refused: the origin is not allowed',
      });
    }
  });

  it('trusts an Origin over a contradicting Sec-Fetch-Site', () => {
    expect(checkCsrf({ ...base, origin: DASHBOARD, secFetchSite: 'cross-site' })).toBeNull();
    expect(checkCsrf({ ...base, origin: EVIL, secFetchSite: 'same-origin' })?.code).toBe('FORBIDDEN');
  });

  it('accepts Sec-Fetch-Site none (a request the user started) when Origin is absent', () => {
    expect(checkCsrf({ ...base, origin: undefined, secFetchSite: 'none' })).toBeNull();
    expect(checkCsrf({ ...base, origin: undefined, secFetchSite: 'bogus' })?.code).toBe('FORBIDDEN');
  });

  it('accepts an allow-list given as a Set of normalized origins', () => {
    expect(checkCsrf({ ...base, origin: DASHBOARD, allowedOrigins: new Set([DASHBOARD]) })).toBeNull();
    expect(checkCsrf({ ...base, origin: EVIL, allowedOrigins: new Set([DASHBOARD]) })?.code).toBe(
      'FORBIDDEN',
    );
  });

  it('wants application/json, parameters and case aside, and nothing else', () => {
    expect(checkCsrf({ ...base, contentType: 'Application/JSON ; charset=utf-8' })).toBeNull();
    for (const contentType of [undefined, '', 'text/plain', 'application/jsonp', 'application/json-seq']) {
      expect(checkCsrf({ ...base, contentType }), String(contentType)).toEqual({
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: 'state-changing requests must be application/json',
      });
    }
  });

  it('reports the forged origin before the content type', () => {
    expect(checkCsrf({ ...base, origin: EVIL, contentType: 'application/x-www-form-urlencoded' })?.code).toBe(
      'FORBIDDEN',
    );
  });
});
