import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app';

/**
 * GET /api/docs, the interactive reference of /api/openapi.json: a page that runs under a policy
 * without 'unsafe-inline', so everything it runs or styles is a file of its own. The browser test
 * (tests/e2e/api-docs.spec.ts) checks what it does.
 */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

async function page(): Promise<{ response: Response; html: string }> {
  const response = await t.app.request('/api/docs');
  return { response, html: await response.text() };
}

/** The `src` of every script and the `href` of every stylesheet the page loads. */
function assetsOf(html: string): { scripts: string[]; styles: string[] } {
  const scripts = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/gi)].map((m) => m[1] as string);
  const styles = [...html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/gi)].map(
    (m) => m[1] as string,
  );
  return { scripts, styles };
}

describe('GET /api/docs', () => {
  it('answers HTML under its own policy, asked again every time', async () => {
    const { response, html } = await page();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toBe(DOCS_CSP);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(html).toMatch(/^<!doctype html>/i);
  });

  it('holds no inline script, style, style attribute or event handler attribute', async () => {
    const { html } = await page();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, content] of scripts) {
      expect(attributes).toMatch(/\bsrc="/);
      expect(content?.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/javascript:/i);
  });

  it('references its script and stylesheet by version, and both answer with their content types', async () => {
    const { html } = await page();
    const { scripts, styles } = assetsOf(html);
    expect(scripts).toEqual([expect.stringMatching(/^\/api\/docs\/reference\.js\?v=[0-9a-f]{8}$/)]);
    expect(styles).toEqual([expect.stringMatching(/^\/api\/docs\/reference\.css\?v=[0-9a-f]{8}$/)]);

    const script = await t.app.request(scripts[0] as string);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
    const js = await script.text();
    // It parses as a classic script, and never turns document text into markup or code.
    expect(() => new Function(js)).not.toThrow();
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
    // The API key is kept for the tab only.
    expect(js).toContain('sessionStorage');
    expect(js).not.toContain('localStorage');

    const style = await t.app.request(styles[0] as string);
    expect(style.status).toBe(200);
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(style.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await style.text()).toContain('prefers-color-scheme: dark');
  });

  it('serves an asset asked for by another version without letting it be kept', async () => {
    const script = await t.app.request('/api/docs/reference.js?v=00000000');
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toBe('no-cache');
    const style = await t.app.request('/api/docs/reference.css');
    expect(style.status).toBe(200);
    expect(style.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers 405 to another method, as every known path does', async () => {
    const response = await t.app.request('/api/docs', { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('GET');
  });
});
