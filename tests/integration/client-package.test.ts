import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ServerType, serve } from '@hono/node-server';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, TEST_ADMIN, type TestApp } from '../helpers/app';

// The client as a consumer gets it: built, packed with npm, installed from the tarball into a
// fresh project outside the repository, type-checked there under each module resolution, and run
// by plain `node`, Bun and Deno against a real server on a real socket. For browsers, the
// installed package is bundled here for the browser platform; the dashboard runs the same
// client sources in Chromium (tests/e2e).

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');
const run = promisify(execFile);

interface PackedFile {
  path: string;
  size: number;
}
interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: PackedFile[];
}

let work: string;
let consumer: string;
let packed: Packed;
let t: TestApp;
let server: ServerType;
let url: string;

/** Runs a command to completion; rejects with its output when it fails. */
async function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  try {
    return await run(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** `npm pack` of a directory into `into`; returns what npm reports about the tarball. */
async function pack(dir: string, into: string): Promise<Packed> {
  const { stdout } = await sh('npm', ['pack', dir, '--json', '--pack-destination', into], ROOT);
  const [result] = JSON.parse(stdout) as Packed[];
  if (!result) throw new Error(`npm pack ${dir} reported nothing`);
  return result;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'bc-client-package-'));
  consumer = join(work, 'consumer');
  const dist = join(work, 'dist');
  // The package's own build script, as `npm run build:client` runs it, into a directory of ours.
  await sh('npm', ['run', 'build', '-w', 'client', '--', dist], ROOT);
  packed = await pack(dist, work);
  // The peers come from the repository's node_modules, packed: no network, same versions.
  const peers = [
    await pack(join(ROOT, 'node_modules', '@trpc', 'client'), work),
    await pack(join(ROOT, 'node_modules', '@trpc', 'server'), work),
  ];
  await mkdir(consumer);
  await writeFile(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2),
  );
  // --legacy-peer-deps: the peers are installed explicitly; without it npm would also fetch
  // @trpc/client's optional peer `typescript` from the registry.
  await sh(
    'npm',
    [
      'install',
      '--offline',
      '--legacy-peer-deps',
      '--no-audit',
      '--no-fund',
      ...[packed, ...peers].map((p) => join(work, p.filename)),
    ],
    consumer,
  );
  await writeFile(join(consumer, 'usage.ts'), USAGE);
  await writeFile(join(consumer, 'run.mjs'), RUN);

  t = await startTestApp();
  server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  if (server) await new Promise((resolve) => server.close(resolve));
  await t?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds the bundled module, declarations, README and manifest, and nothing else', async () => {
    const files = packed.files.map((f) => f.path).sort();
    console.log(
      `${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked\n` +
        packed.files.map((f) => `  ${f.path} ${f.size}`).join('\n'),
    );
    expect(files).toContain('package.json');
    expect(files).toContain('README.md');
    expect(files).toContain('index.js');
    expect(files).toContain('index.d.ts');
    expect(files).toContain('app-router.d.ts');
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /test|spec|scripts\/|server|shared|(^|\/)db\//.test(f))).toEqual([]);
    expect(files.every((f) => /^[\w-]+\.(js|d\.ts|json|md)$/.test(f))).toBe(true);

    const manifest = JSON.parse(
      await readFile(join(consumer, 'node_modules', '@beauty-crafter', 'client', 'package.json'), 'utf8'),
    );
    expect(manifest.private).toBeUndefined();
    expect(manifest.exports['.']).toEqual({
      types: './index.d.ts',
      import: './index.js',
      default: './index.js',
    });
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['@trpc/client', '@trpc/server']);
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.engines.node).toBeDefined();
  });

  it('types the router by itself: every import is a peer or a file of the package', async () => {
    const installed = join(consumer, 'node_modules', '@beauty-crafter', 'client');
    const router = await readFile(join(installed, 'app-router.d.ts'), 'utf8');
    const imports = [...router.matchAll(/(?:from\s*|import\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]);
    expect(imports).toEqual(['@trpc/server']);
    // The input and output types are written out, zod's inference resolved.
    expect(router).toMatch(/login: TRPCMutationProcedure<\{\s*input: \{ email: string; password: string \}/);
    for (const file of packed.files.filter((f) => f.path.endsWith('.d.ts'))) {
      const text = await readFile(join(installed, file.path), 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from\s*|import\(\s*)['"]([^'"]+)['"]/g)) {
        expect(specifier, `${file.path} imports ${specifier}`).toMatch(
          /^(\.\/[\w-]+\.js|@trpc\/(client|server))$/,
        );
      }
    }
  });
});

describe('a consumer project', () => {
  // skipLibCheck off: the package's declarations are checked too, under the consumer's flags.
  // tRPC's own declarations name Disposable, hence lib esnext.disposable.
  it.each([
    ['bundler', 'preserve'],
    ['node16', 'node16'],
    ['nodenext', 'nodenext'],
  ])(
    'type-checks under moduleResolution %s with strict and exactOptionalPropertyTypes; wrong inputs and outputs stay errors',
    async (resolution, module) => {
      const config = `tsconfig.${resolution}.json`;
      await writeFile(
        join(consumer, config),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            skipLibCheck: false,
            noEmit: true,
            module,
            moduleResolution: resolution,
            target: 'es2022',
            lib: ['es2023', 'dom', 'esnext.disposable'],
            types: [],
          },
          files: ['usage.ts'],
        }),
      );
      const result = await run(join(BIN, 'tsc'), ['-p', config, '--listFilesOnly'], { cwd: consumer });
      const read = result.stdout.split('\n').filter(Boolean);
      // The compiler reads the package and tRPC, nothing of the repository but its own lib files.
      const lib = /\/node_modules\/(typescript|@typescript\/[\w-]+)\/lib\/lib\.[\w.]+\.d\.ts$/;
      expect(read.filter((file) => file.startsWith(ROOT) && !lib.test(file))).toEqual([]);
      expect(read.map((file) => relative(consumer, file))).toContain(
        join('node_modules', '@beauty-crafter', 'client', 'app-router.d.ts'),
      );
      const check = await run(join(BIN, 'tsc'), ['-p', config], { cwd: consumer }).then(
        ({ stdout }) => ({ errors: 0, output: stdout }),
        (error: { stdout?: string }) => ({
          errors: (error.stdout?.match(/error TS/g) ?? []).length || 1,
          output: error.stdout ?? '',
        }),
      );
      console.log(
        `moduleResolution ${resolution}: ${check.errors} errors, ${read.length} files read${check.output ? `\n${check.output}` : ''}`,
      );
      // Each @ts-expect-error in usage.ts is still an error: were the types `any`, tsc would
      // report the directive as unused.
      expect(check).toEqual({ errors: 0, output: '' });
    },
  );
});

describe('the installed package in a browser bundle', () => {
  it('bundles for browsers with no Node built-in, tRPC included once', async () => {
    const result = await build({
      entryPoints: [join(consumer, 'run.mjs')],
      absWorkingDir: consumer,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      // The runner's top-level await is fine in module scripts.
      target: 'es2022',
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('node_modules/@beauty-crafter/client/index.js');
    expect(inputs.filter((path) => path.startsWith('node_modules/@trpc/client/'))).not.toEqual([]);
    expect(inputs.filter((path) => path.startsWith('node:') || !path.startsWith('node_modules/'))).toEqual([
      'run.mjs',
    ]);
    console.log(
      `browser bundle: ${result.outputFiles[0]?.contents.length} bytes from ${inputs.length} modules`,
    );
  });
});

/** Runs the consumer's run.mjs; a failure says what the server logged at error level. */
async function runClient(command: string, args: string[], env?: NodeJS.ProcessEnv) {
  try {
    return await sh(command, args, consumer, env);
  } catch (error) {
    const logged = t.logs.filter((line) => line.level === 'error' || Number(line.level) >= 50);
    throw new Error(`${(error as Error).message}\nserver errors: ${JSON.stringify(logged, null, 2)}`);
  }
}

describe('the installed package against a running server', () => {
  const expected = (runtime: string) => ({
    runtime,
    me: { kind: 'user', role: 'admin' },
    created: { name: `package-${runtime}`, keyPrefix: 'bc_' },
    withKey: { name: expect.any(String), kind: 'apiKey' },
    invalid: {
      isPlatformError: true,
      isTRPCClientError: true,
      code: 'BAD_REQUEST',
      httpStatus: 400,
      status: 400,
      hasRequestId: true,
      nameIssue: true,
    },
    loggedOut: 'UNAUTHORIZED',
  });

  it('runs under plain node, no loader', async () => {
    const { stdout } = await runClient(process.execPath, ['run.mjs', url, 'node']);
    console.log(`node: ${stdout.trim()}`);
    expect(JSON.parse(stdout)).toEqual(expected('node'));
  });

  it('runs under Bun', async () => {
    const { stdout } = await runClient(join(BIN, 'bun'), ['run.mjs', url, 'bun']);
    console.log(`bun: ${stdout.trim()}`);
    expect(JSON.parse(stdout)).toEqual(expected('bun'));
  });

  it('runs under Deno, allowed only the network to the server and reading the project', async () => {
    const host = new URL(url).host;
    const { stdout } = await runClient(
      join(BIN, 'deno'),
      ['run', '--no-prompt', `--allow-net=${host}`, `--allow-read=${consumer}`, 'run.mjs', url, 'deno'],
      { ...process.env, DENO_DIR: join(work, 'deno-cache'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    );
    console.log(`deno: ${stdout.trim()}`);
    expect(JSON.parse(stdout)).toEqual(expected('deno'));
  });
});

/** What a consumer writes: checked by tsc, never run. */
const USAGE = `import {
  type AppRouter,
  createClient,
  errorDetails,
  PlatformClientError,
  type RouterInputs,
  type RouterOutputs,
  sessionOf,
} from '@beauty-crafter/client';
import { TRPCClientError } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';

export async function usage(url: string): Promise<string[]> {
  const client = createClient({ url, credentials: { email: 'a@example.com', password: 'secret' }, timeoutMs: 5_000 });
  const me = await client.auth.me.query();
  const role: 'operator' | 'admin' | 'viewer' = me.role;
  // @ts-expect-error -- a wrong use of an output: role is a union of strings, not a number
  const wrongRole: number = me.role;
  // @ts-expect-error -- an output field the procedure does not have
  const missing = me.password;

  const issued = await client.auth.apiKeys.create.mutate({ name: 'ci', scopes: ['system:read'] });
  // @ts-expect-error -- a wrong input: name is a string
  await client.auth.apiKeys.create.mutate({ name: 42 });
  // @ts-expect-error -- a wrong input: a scope the server does not know
  await client.auth.apiKeys.create.mutate({ name: 'ci', scopes: ['everything'] });
  // @ts-expect-error -- a wrong input: the required name is missing
  await client.auth.apiKeys.create.mutate({ scopes: ['system:read'] });
  // Dates travel as strings (no transformer): the output type says so.
  const createdAt: string = issued.apiKey.createdAt;
  // @ts-expect-error -- a wrong use of an output: createdAt is a string, not a Date
  const createdDate: Date = issued.apiKey.createdAt;

  const login: RouterInputs['auth']['login'] = { email: 'a@example.com', password: 'secret' };
  const info: RouterOutputs['system']['info'] = await client.system.info.query();
  const version: inferRouterOutputs<AppRouter>['system']['info']['version'] = info.version;

  try {
    await client.auth.apiKeys.create.mutate({ name: '' });
  } catch (error) {
    if (error instanceof PlatformClientError) {
      const status: number | null = error.httpStatus;
      const alias: number | null = error.status;
      const fields: string[] | undefined = error.validation?.fieldErrors.name;
      // @ts-expect-error -- the code is one of a closed set
      const unknownCode: typeof error.code = 'SOMETHING_ELSE';
      return [String(status), String(alias), String(fields), String(unknownCode)];
    }
    if (error instanceof TRPCClientError) return [error.message];
    return [errorDetails(error)?.requestId ?? ''];
  }
  sessionOf(client)?.tokens();
  return [role, String(wrongRole), String(missing), createdAt, String(createdDate), login.email, version];
}
`;

/** What a consumer runs: plain JavaScript, the same file on Node, Bun and Deno. */
const RUN = `import { createClient, PlatformClientError, sessionOf } from '@beauty-crafter/client';
import { TRPCClientError } from '@trpc/client';

const [url, runtime] = globalThis.Deno ? Deno.args : process.argv.slice(2);
const client = createClient({
  url,
  credentials: ${JSON.stringify({ email: TEST_ADMIN.email, password: TEST_ADMIN.password })},
});
const me = await client.auth.me.query();
const issued = await client.auth.apiKeys.create.mutate({ name: 'package-' + runtime, scopes: ['system:read'] });
const withKey = createClient({ url, apiKey: issued.key });
const [info, keyMe] = await Promise.all([withKey.system.info.query(), withKey.auth.me.query()]);
const invalid = await client.auth.apiKeys.create.mutate({ name: '' }).catch((error) => error);
await sessionOf(client).logout();
const afterLogout = await client.auth.me.query().catch((error) => error);
console.log(JSON.stringify({
  runtime,
  me: { kind: me.kind, role: me.role },
  created: { name: issued.apiKey.name, keyPrefix: issued.key.slice(0, 3) },
  withKey: { name: info.name, kind: keyMe.kind },
  invalid: {
    isPlatformError: invalid instanceof PlatformClientError,
    isTRPCClientError: invalid instanceof TRPCClientError,
    code: invalid.code,
    httpStatus: invalid.httpStatus,
    status: invalid.status,
    hasRequestId: typeof invalid.requestId === 'string' && invalid.requestId.length > 0,
    nameIssue: Array.isArray(invalid.validation?.fieldErrors?.name),
  },
  loggedOut: afterLogout.code,
}));
`;
