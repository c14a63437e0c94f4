// The parts of the Workers pool's modules these tests use. The pool's own declarations
// (@cloudflare/vitest-pool-workers/types) need @cloudflare/workers-types, which the project does
// not otherwise install.

/** A Worker to call: SELF, or a service binding to another one. */
interface EdgeFetcher {
  fetch(input: string | Request, init?: RequestInit): Promise<Response>;
}

declare module 'cloudflare:test' {
  /** server/edge.ts as the pool loads it (vitest.edge.config.ts `main`), called as Cloudflare would. */
  export const SELF: EdgeFetcher;
}

declare module 'cloudflare:workers' {
  /** The bindings of vitest.edge.config.ts: EDGE_BUNDLE is dist/edge/edge.js in a Worker of its own. */
  export const env: { EDGE_BUNDLE: EdgeFetcher };
}
