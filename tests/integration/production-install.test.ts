import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../client';
import { configSchema, loadConfig } from '../../server/base/config';
import { envPairs, execForm, type Instruction, readDockerfile, stageArgs } from '../helpers/dockerfile';
import { type AssembledImage, assembleImage, stageNamed } from '../helpers/image-build';
import { PROCESS_ADMIN, PROCESS_KEK, ROOT } from '../helpers/server-process';

/**
 * What deploy/Dockerfile builds, checked without a Docker engine: the Dockerfile is linted by
 * parsing, then its stages are carried out here (a clean `npm ci --omit=dev`, the dashboard
 * build, the runtime stage's COPY lines through .dockerignore) and the image's CMD is started
 * with this repository's Bun, standing in for the oven/bun base image, which is the same version
 * (checked below). The embedded PostgreSQL starts from the production install's own platform
 * package. Nothing here skips: under CI=true a missing Bun or npm fails the test.
 */

const execFileAsync = promisify(execFile);
const BUN = join(ROOT, 'node_modules/.bin/bun');
const DOCKERFILE = join(ROOT, 'deploy/Dockerfile');
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};
const DEV_ONLY = [
  'vitest',
  'vite',
  '@playwright/test',
  'wrangler',
  'typescript',
  'tsx',
  '@biomejs/biome',
  'bun',
];

const dockerfile = readDockerfile(DOCKERFILE);
const runtime = dockerfile.stages.at(-1)!;
const all = (stage: { instructions: Instruction[] }, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword);
const only = (stage: { instructions: Instruction[] }, keyword: string) => {
  const found = all(stage, keyword);
  expect(found, `${keyword} instructions in stage ${runtime.name}`).toHaveLength(1);
  return found[0]!;
};

/** The runtime stage's ENV, with ARG defaults substituted as the build does without --build-arg. */
function imageEnv(): Record<string, string> {
  return Object.assign({}, ...all(runtime, 'ENV').map((i) => envPairs(i.rest, stageArgs(runtime))));
}

describe('deploy/Dockerfile (linted by parsing)', () => {
  it('pins every base image to a version, and the runtime to the Bun the suite runs on', () => {
    for (const stage of dockerfile.stages) {
      // hadolint DL3006/DL3007: an untagged or `latest` base changes under you.
      expect(stage.image, `FROM of stage ${stage.name}`).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(stage.image).not.toMatch(/:latest$/);
    }
    expect(runtime.image).toMatch(/^oven\/bun:/);
    expect(runtime.image.split(':')[1]?.split('-')[0]).toBe(PACKAGE.devDependencies.bun);
  });

  it('installs production dependencies with npm ci in its own stage', () => {
    const install = all(stageNamed(dockerfile, 'deps'), 'RUN').map((i) => i.rest);
    expect(install.some((command) => /^npm ci\b.*--omit=dev/.test(command))).toBe(true);
    expect(all(runtime, 'COPY').some((c) => c.flags.from === 'deps' && c.rest.includes('node_modules'))).toBe(
      true,
    );
  });

  it('follows the hadolint rules that apply to it', () => {
    const names = new Set(dockerfile.stages.map((s) => s.name));
    for (const stage of dockerfile.stages) {
      for (const instruction of stage.instructions) {
        const where = `line ${instruction.line}: ${instruction.keyword} ${instruction.rest.slice(0, 60)}`;
        expect(instruction.keyword, where).not.toBe('MAINTAINER'); // DL4000
        expect(instruction.keyword, where).not.toBe('ADD'); // DL3020: COPY for local files
        if (instruction.keyword === 'WORKDIR') expect(instruction.rest, where).toMatch(/^\//); // DL3000
        if (instruction.keyword === 'COPY' && instruction.flags.from) {
          expect(names.has(instruction.flags.from), where).toBe(true); // DL3022
        }
        if (instruction.keyword === 'RUN') {
          expect(instruction.rest, where).not.toMatch(/\bsudo\b/); // DL3004
          expect(instruction.rest, where).not.toMatch(/(^|&&|;)\s*cd\s/); // DL3003: use WORKDIR
          expect(instruction.rest, where).not.toMatch(/\bnpm install\b/); // npm ci: the lockfile, exactly
          if (/apt-get install/.test(instruction.rest)) {
            expect(instruction.rest, where).toMatch(/--no-install-recommends/); // DL3015
          }
        }
      }
    }
    for (const keyword of ['CMD', 'HEALTHCHECK', 'USER', 'EXPOSE']) only(runtime, keyword); // DL4003, DL3012
  });

  it('runs as a numeric non-root user', () => {
    // DL3002, and Kubernetes' runAsNonRoot can only verify a numeric UID.
    const [user = '', group = ''] = only(runtime, 'USER').rest.split(':');
    expect(user).toMatch(/^\d+$/);
    expect(Number(user)).toBeGreaterThan(0);
    if (group) expect(Number(group)).toBeGreaterThan(0);
    const create = all(runtime, 'RUN')
      .map((i) => i.rest)
      .join(' ');
    expect(create).toContain(`--uid ${user}`);
    // The data directory must exist and be writable by that user.
    expect(create).toContain(`chown platform:platform ${imageEnv().DATA_DIR}`);
  });

  it('sets an environment the server accepts, listening on every interface on the exposed port', () => {
    const env = imageEnv();
    expect(env).toMatchObject({ NODE_ENV: 'production', HOST: '0.0.0.0' });
    const config = loadConfig(env);
    const defaults = configSchema.parse({});
    expect(only(runtime, 'EXPOSE').rest).toBe(String(config.PORT));
    expect(config.PORT).toBe(defaults.PORT);
  });

  it('probes the no-I/O health route and starts the server as npm start does', () => {
    const healthcheck = only(runtime, 'HEALTHCHECK');
    expect(healthcheck.rest).toMatch(/^CMD \[/);
    expect(execForm(healthcheck.rest.replace(/^CMD /, '')).join(' ')).toContain('/api/health/lightweight');
    // DL3025: exec form, so Bun is PID 1 and receives SIGTERM itself.
    expect(execForm(only(runtime, 'CMD').rest).join(' ')).toBe(PACKAGE.scripts.start);
  });

  it('keeps tests, local data and build output out of the build context', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
    expect(ignore.split('\n')[ignore.split('\n').findIndex((l) => l.trim() && !l.startsWith('#'))]).toBe('*');
    for (const pattern of ['**/*.test.ts', '**/node_modules', '**/.data', '**/dist'])
      expect(ignore).toContain(pattern);
  });
});

describe('the image, run from a clean production install', () => {
  let work: string;
  let image: AssembledImage;
  let server: ChildProcess | undefined;
  let url: string;
  const stderr: string[] = [];
  let exit: Promise<number | null>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'bc-image-'));
    // As root the embedded PostgreSQL runs as the `postgres` user, who must reach its folder.
    chmodSync(work, 0o755);
    image = await assembleImage({ root: ROOT, dockerfile: DOCKERFILE, workDir: work });
    console.log('image stages (s):', image.timings);

    const dataDir = join(work, 'data');
    const [command, ...args] = execForm(only(runtime, 'CMD').rest);
    expect(command).toBe('bun');
    server = spawn(BUN, args, {
      cwd: image.appDir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        TMPDIR: process.env.TMPDIR ?? tmpdir(),
        ...image.env,
        // Tests listen on loopback only, on a port the system picks; the rest is the image's ENV.
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: dataDir,
        ADMIN_EMAIL: PROCESS_ADMIN.email,
        ADMIN_PASSWORD: PROCESS_ADMIN.password,
        AUTH_KEY_ENCRYPTION_KEY: PROCESS_KEK,
        AUTH_PASSWORD_COST: '10',
        SHUTDOWN_DRAIN_DELAY_MS: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exit = new Promise((resolve) => server!.once('close', (code) => resolve(code)));
    server.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(
        () => reject(new Error(`no "listening" line in 30 s: ${stderr.join('')}`)),
        30_000,
      );
      server!.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const match = /"port":(\d+)[^\n]*"msg":"listening"/.exec(buffered);
        if (match) {
          clearTimeout(timer);
          resolve(`http://127.0.0.1:${match[1]}`);
        }
      });
      void exit.then((code) => reject(new Error(`server exited (${code}): ${stderr.join('')}`)));
    });
  }, 120_000);

  afterAll(async () => {
    if (server?.exitCode === null) {
      server.kill('SIGKILL');
      await exit;
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds no dev-only package, no test and no client or dashboard source', () => {
    const modules = join(image.appDir, 'node_modules');
    for (const name of DEV_ONLY) expect(existsSync(join(modules, name)), `node_modules/${name}`).toBe(false);
    for (const name of Object.keys(PACKAGE.dependencies))
      expect(existsSync(join(modules, name)), name).toBe(true);
    const top = readdirSync(image.appDir).sort();
    expect(top).toEqual(['bunfig.toml', 'db', 'dist', 'node_modules', 'package.json', 'server', 'shared']);
    const tests = (readdirSync(image.appDir, { recursive: true }) as string[]).filter(
      (path) => !path.startsWith('node_modules') && /\.test\.ts$/.test(path),
    );
    expect(tests).toEqual([]);
  });

  it('answers the lightweight probe at once and becomes ready with its embedded PostgreSQL', async () => {
    const light = await fetch(`${url}/api/health/lightweight`);
    expect(light.status).toBe(200);
    expect(light.headers.get('cache-control')).toContain('no-store');
    const deadline = Date.now() + 45_000;
    let ready = 0;
    while (Date.now() < deadline && ready !== 200) {
      ready = (await fetch(`${url}/api/health/ready`)).status;
      if (ready !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ready, stderr.join('')).toBe(200);
  }, 60_000);

  it('signs in over tRPC and serves an authenticated call, reporting Bun as its runtime', async () => {
    const client = createClient({ url, credentials: PROCESS_ADMIN });
    const me = await client.auth.me.query();
    expect(me).toMatchObject({ kind: 'user', role: 'admin' });
    const info = await client.system.info.query();
    expect(info.runtime).toEqual({ name: 'bun', version: PACKAGE.devDependencies.bun });
    expect(info.name).toBe('beauty-crafter-platform');
    // GIT_COMMIT reaches the server from the build argument's default (no git in the image).
    expect(info.commit).toBe(imageEnv().GIT_COMMIT);
  });

  it('serves the dashboard built in the image', async () => {
    const response = await fetch(`${url}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/<script type="module"[^>]*src="\/assets\/[^"]+\.js"/);
  });

  it("passes the image's HEALTHCHECK, which fails against a closed port", async () => {
    const [command, ...args] = execForm(only(runtime, 'HEALTHCHECK').rest.replace(/^.*?CMD /, ''));
    expect(command).toBe('bun');
    const port = new URL(url).port;
    await expect(
      execFileAsync(BUN, args, { env: { ...process.env, PORT: port }, timeout: 10_000 }),
    ).resolves.toBeDefined();
    await expect(
      execFileAsync(BUN, args, { env: { ...process.env, PORT: '1' }, timeout: 10_000 }),
    ).rejects.toMatchObject({ code: 1 });
  });

  it('passes the pipeline smoke test, which fails against a dead URL', async () => {
    const smoke = join(ROOT, 'scripts/ci/smoke.sh');
    const passed = await execFileAsync(smoke, [url], {
      env: {
        ...process.env,
        SMOKE_EMAIL: PROCESS_ADMIN.email,
        SMOKE_PASSWORD: PROCESS_ADMIN.password,
        SMOKE_TIMEOUT_SECONDS: '10',
      },
      timeout: 30_000,
    });
    expect(passed.stdout).toContain('smoke test passed');
    expect(passed.stdout).toMatch(/ok {3}auth\.me: user admin/);
    expect(passed.stdout).not.toContain('FAIL');

    const failed = await execFileAsync(smoke, ['http://127.0.0.1:1'], {
      env: { ...process.env, SMOKE_TIMEOUT_SECONDS: '1' },
      timeout: 30_000,
    }).catch((error: { code: number; stdout: string }) => error);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stdout: string }).stdout).toContain('FAIL ready');
  }, 60_000);

  it('stops cleanly on SIGTERM, as the container runtime sends it', async () => {
    server!.kill('SIGTERM');
    expect(await exit).toBe(0);
  }, 30_000);
});
