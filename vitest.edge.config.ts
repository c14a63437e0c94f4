import { fileURLToPath } from 'node:url';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { experimental_readRawConfig } from 'wrangler';

const WRANGLER_CONFIG = './deploy/wrangler.toml';
const projectPath = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const { rawConfig } = experimental_readRawConfig({ config: WRANGLER_CONFIG });

/**
 * The edge build under test, twice over, in workerd (the vitest Workers pool): server/edge.ts as
 * the pool loads it (SELF), and the bundle `npm run build:edge` wrote to dist/edge (EDGE_BUNDLE,
 * what a deploy uploads), both under deploy/wrangler.toml's compatibility settings. They run
 * against a real origin server and PostgreSQL that tests/edge/origin-setup.ts starts as a Bun process
 * first. `npm run test:edge`; `npm test` never sees these.
 */
export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const bindings = { ORIGIN_URL: inject('originUrl'), LOG_LEVEL: 'warn' };
      // Both routes to the database, with a role that may only read: DATABASE_URL here, Hyperdrive
      // (the production route) for the bundle. One Hyperdrive binding only: miniflare 4.20260426
      // keeps one local proxy per binding name and leaves a second one of the same name listening,
      // which holds the test process open.
      const databaseUrl = inject('edgeDatabaseUrl');
      return {
        main: './server/edge.ts',
        wrangler: { configPath: WRANGLER_CONFIG },
        miniflare: {
          bindings: { ...bindings, DATABASE_URL: databaseUrl },
          serviceBindings: { EDGE_BUNDLE: 'edge-bundle' },
          workers: [
            {
              name: 'edge-bundle',
              modules: true,
              scriptPath: projectPath('./dist/edge/edge.js'),
              modulesRoot: projectPath('./dist/edge'),
              compatibilityDate: rawConfig.compatibility_date,
              compatibilityFlags: rawConfig.compatibility_flags,
              bindings,
              hyperdrives: { HYPERDRIVE: databaseUrl },
            },
          ],
        },
      };
    }),
  ],
  resolve: {
    alias: {
      // The pool resolves modules through Vite, which picks neither pg's Workers socket nor pg's
      // protocol build by itself; and pino's Node build, as deploy/wrangler.toml's [alias] does.
      'pg-cloudflare': projectPath('./node_modules/pg-cloudflare/dist/index.js'),
      'pg-protocol': projectPath('./node_modules/pg-protocol/dist/index.js'),
      pino: projectPath('./node_modules/pino/pino.js'),
      'node:process': projectPath('./tests/edge/node-process.cjs'),
      // OpenTelemetry's ES builds import files without extensions, which the pool cannot load:
      // their CommonJS builds (the edge only propagates trace context; see server/base/tracing).
      '@opentelemetry/api': projectPath('./node_modules/@opentelemetry/api/build/src/index.js'),
      '@opentelemetry/context-async-hooks': projectPath(
        './node_modules/@opentelemetry/context-async-hooks/build/src/index.js',
      ),
    },
  },
  test: {
    include: ['tests/edge/**/*.test.ts'],
    globalSetup: ['tests/edge/origin-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
