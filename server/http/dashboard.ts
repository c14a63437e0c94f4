import { Hono } from 'hono';
import type { AppDeps } from './deps';
import type { AppEnv } from './env';

/**
 * The dashboard's policy: its scripts and styles are files under /assets (Vite emits no inline
 * code), so nothing inline is allowed; it talks to this origin only and may not be framed.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const NOT_BUILT = 'dashboard not built: npm run build:dashboard';

const CONTENT_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  woff2: 'font/woff2',
  map: 'application/json',
};

/** Vite names assets `name-hash.ext`: one path segment, nothing that could climb out of the folder. */
const ASSET_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.([a-z0-9]+)$/;

export interface DashboardOptions {
  /** Folder of the built dashboard (`npm run build:dashboard`); default dist/dashboard of the checkout. */
  dir?: string;
}

/**
 * Serves the built dashboard: index.html at `/`, its hashed files under `/assets/`. Files are read
 * when asked for (the build may land after the server started) through a dynamic import, so that
 * runtimes without a file system (the edge) never load node:fs; there they answer 404.
 */
export function dashboardRoutes(_deps: AppDeps, options: DashboardOptions = {}) {
  const app = new Hono<AppEnv>();
  const dir = options.dir ?? defaultDir();

  async function read(name: string): Promise<ArrayBuffer | null> {
    if (!dir) return null;
    try {
      const [{ readFile }, { join }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
      const bytes = await readFile(join(dir, name));
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    } catch {
      return null;
    }
  }

  app.get('/', async (c) => {
    const html = await read('index.html');
    if (!html) return c.text(NOT_BUILT, 404, { 'Cache-Control': 'no-store' });
    return c.body(html, 200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': DASHBOARD_CSP,
      // Always asked again: it names the current build's hashed assets.
      'Cache-Control': 'no-cache',
    });
  });

  app.get('/assets/:name', async (c) => {
    const name = c.req.param('name');
    const extension = ASSET_NAME.exec(name)?.[1];
    const type = extension ? CONTENT_TYPES[extension] : undefined;
    const body = type ? await read(`assets/${name}`) : null;
    if (!body || !type) return c.text('not found', 404);
    return c.body(body, 200, {
      'Content-Type': type,
      'Content-Security-Policy': DASHBOARD_CSP,
      // The name changes with the content.
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
  });

  return app;
}

function defaultDir(): string | null {
  try {
    const url = new URL('../../dist/dashboard/', import.meta.url);
    return url.protocol === 'file:' ? decodeURIComponent(url.pathname) : null;
  } catch {
    return null;
  }
}
