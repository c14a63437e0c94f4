// What `require('process')` gives CommonJS modules (prom-client's) in the Workers pool: workerd's
// own process object. The pool's module fallback does not count node:process among workerd's
// built-in modules (@cloudflare/vitest-pool-workers 0.15.1) and fails to load it; the Worker
// bundle that wrangler builds resolves it to the same object by itself.
module.exports = globalThis.process;
