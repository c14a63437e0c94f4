import { Hono } from 'hono';
import type { AppDeps } from '../deps';
import type { AppEnv } from '../env';
import { REFERENCE_CSS } from './docs-page/reference.css';
import { REFERENCE_JS } from './docs-page/reference.js.js';

/**
 * The reference's policy: its script and stylesheet are the two files below, so nothing inline
 * runs or styles; it reads /api/openapi.json and calls /api/v1 on this origin only; no form posts
 * anywhere (the "Try it" form is sent by the script) and nothing may frame it.
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const DOCS_PATH = '/api/docs';

/** FNV-1a (32 bits) of the text, in hex: the assets' version in their URLs, synchronous everywhere. */
export function contentHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

const JS_VERSION = contentHash(REFERENCE_JS);
const CSS_VERSION = contentHash(REFERENCE_CSS);

/** Where the page loads its assets from; the query changes whenever the content does. */
export const DOCS_ASSETS = {
  js: `${DOCS_PATH}/reference.js?v=${JS_VERSION}`,
  css: `${DOCS_PATH}/reference.css?v=${CSS_VERSION}`,
} as const;

/** The page: a shell the script fills from the document. No inline script, style or handler. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${DOCS_ASSETS.css}">
<script src="${DOCS_ASSETS.js}" defer></script>
</head>
<body>
<a class="skip" href="#content">Skip to the reference</a>
<header class="top">
<h1 id="site-title">API reference</h1>
<span id="version" class="muted"></span>
<span class="spacer"></span>
<a href="/api/openapi.json">OpenAPI document (JSON)</a>
</header>
<div class="layout">
<nav class="sidebar" aria-label="Operations">
<label for="filter">Filter operations</label>
<input id="filter" type="search" autocomplete="off" spellcheck="false" placeholder="method, path, summary, tag" disabled>
<p id="filter-status" class="filter-status" role="status"></p>
<div id="operations"></div>
</nav>
<main id="content" tabindex="-1">
<p class="muted">Loading the API document…</p>
<noscript><p>This reference needs JavaScript. The document itself is at <a href="/api/openapi.json">/api/openapi.json</a>.</p></noscript>
</main>
</div>
</body>
</html>
`;

/** A year, immutable, when the URL names the current version; otherwise asked again each time. */
function assetCache(asked: string | undefined, current: string): string {
  return asked === current ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/**
 * `GET /api/docs`: an interactive reference of /api/openapi.json (operations by tag with a filter,
 * schemas as trees, a "Try it" panel that calls the route with an API key kept in session storage,
 * and the same request as curl). Its script and stylesheet are string constants, served from
 * `/api/docs/reference.js` and `/api/docs/reference.css`, on every runtime including the edge.
 */
export function docsPageRoutes(_deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.get(DOCS_PATH, (c) =>
    c.body(PAGE, 200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': DOCS_CSP,
      // Always asked again: it names the current assets' versions.
      'Cache-Control': 'no-cache',
    }),
  );
  app.get(`${DOCS_PATH}/reference.js`, (c) =>
    c.body(REFERENCE_JS, 200, {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Content-Security-Policy': DOCS_CSP,
      'Cache-Control': assetCache(c.req.query('v'), JS_VERSION),
    }),
  );
  app.get(`${DOCS_PATH}/reference.css`, (c) =>
    c.body(REFERENCE_CSS, 200, {
      'Content-Type': 'text/css; charset=utf-8',
      'Content-Security-Policy': DOCS_CSP,
      'Cache-Control': assetCache(c.req.query('v'), CSS_VERSION),
    }),
  );
  return app;
}
