import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, isAlive } from '../../../db/local-processes';
import { type Processes, type Started, signal, waitForHttp } from './processes';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const BUN = join(ROOT, 'node_modules/.bin/bun');

/** The runtime a server runs on: Bun (`bun FILE`) or Node (`node --import tsx FILE`, one process). */
export type Runtime = 'bun' | 'node';

export interface RunningTarget {
  /** e.g. "bare-hono", "platform", "hono-ecosystem (node)": unique within a bench run. */
  name: string;
  runtime: Runtime;
  /** The server process itself (taskset execs it), for its CPU time. */
  pid: number;
  /** http://127.0.0.1:PORT */
  origin: string;
  logFile: string;
  /** The most memory the server process has held so far (VmHWM), in bytes; undefined once it is gone. */
  peakRssBytes(): number | undefined;
  stop(): Promise<void>;
}

interface TargetOptions {
  processes: Processes;
  /** Temp directory for logs (and the platform's data). */
  dir: string;
  /** The core the server is pinned to. */
  cpu: number;
  /** Passed to every server so the bodies of system.info match in length. */
  commit: string;
  /** Bun unless said otherwise. */
  runtime?: Runtime;
}

/** A target's display name: the file's, with the runtime added when it is Node. */
const nameOf = (file: string, runtime: Runtime) => (runtime === 'node' ? `${file} (node)` : file);

/**
 * Peak resident set size of a process (VmHWM in /proc/PID/status): sampled at the end of a run it
 * is the most the process held at any time, which a sample of VmRSS would miss.
 */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Only what a process needs to run, not the caller's whole environment: a DATABASE_URL or
 * LOG_LEVEL exported in the shell must not silently change what is measured.
 */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    if (process.env[key] !== undefined) env[key] = process.env[key];
  }
  return env;
}

export type BaselineName = 'bare-hono' | 'bare-hono-trpc' | 'bare-hono-pg' | 'hono-ecosystem';

/**
 * A baseline program from tests/load/baselines on `options.runtime` (Bun by default), pinned to
 * `cpu`; `env` adds to its environment.
 */
export async function startBaseline(
  file: BaselineName,
  readyPath: string,
  options: TargetOptions & { env?: Record<string, string> },
): Promise<RunningTarget> {
  const port = await freePort();
  const runtime = options.runtime ?? 'bun';
  const name = nameOf(file, runtime);
  const logFile = join(options.dir, `${file}-${runtime}.log`);
  const { started } = startLogged(options, {
    name,
    logFile,
    args: [join(ROOT, 'tests/load/baselines', `${file}.ts`)],
    env: {
      ...baseEnv(),
      NODE_ENV: 'production',
      PORT: String(port),
      GIT_COMMIT: options.commit,
      ...options.env,
    },
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}${readyPath}`, started, { timeoutMs: 30_000 });
  return {
    name,
    runtime,
    pid: started.pid,
    origin,
    logFile,
    peakRssBytes: () => peakRssBytes(started.pid),
    stop: () => options.processes.stop(started),
  };
}

/**
 * The platform as production runs it: on Bun (`bun server/main.ts`) or Node (package.json's
 * `start:node`, with its V8 flags), NODE_ENV=production, default log level, an embedded
 * PostgreSQL in a fresh data directory (`dataDir`). `overrides` (from BENCH_PLATFORM_ENV) exist to measure what a
 * setting costs, e.g. LOG_LEVEL=warn.
 */
export async function startPlatform(
  options: TargetOptions & { overrides: Record<string, string>; dataDir: string },
): Promise<RunningTarget> {
  const port = await freePort();
  const runtime = options.runtime ?? 'bun';
  const name = nameOf('platform', runtime);
  const logFile = join(options.dir, `platform-${runtime}.log`);
  const { started } = startLogged(options, {
    name,
    logFile,
    args: [join(ROOT, 'server/main.ts')],
    nodeFlags: productionNodeFlags(),
    env: {
      ...baseEnv(),
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: options.dataDir,
      GIT_COMMIT: options.commit,
      // The default drain delay holds readiness at 503 for 5 s before stopping: useless here.
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      ...options.overrides,
    },
  });
  const origin = `http://127.0.0.1:${port}`;
  // Ready means the database and every critical component are up, not only the listener.
  await waitForHttp(`${origin}/api/health/ready`, started, { timeoutMs: 60_000 });
  return {
    name,
    runtime,
    pid: started.pid,
    origin,
    logFile,
    peakRssBytes: () => peakRssBytes(started.pid),
    async stop() {
      await options.processes.stop(started);
      await stopOrphanedPostgres(join(options.dataDir, 'postgres'));
    },
  };
}

/**
 * The URL of the database the platform uses: DATABASE_URL when it was given one, otherwise its
 * embedded PostgreSQL in DATA_DIR: the port from the server's postmaster.pid (its fourth line;
 * the log line "embedded PostgreSQL started" names it too, but not at LOG_LEVEL=warn), the
 * password from DATA_DIR/postgres.password.
 */
export async function platformDatabaseUrl(
  dataDir: string,
  overrides: Record<string, string>,
): Promise<string> {
  if (overrides.DATABASE_URL) return overrides.DATABASE_URL;
  const pidFile = join(dataDir, 'postgres', 'postmaster.pid');
  const port = Number((await readFile(pidFile, 'utf8')).split('\n')[3]);
  if (!Number.isInteger(port) || port < 1) throw new Error(`no port in ${pidFile}`);
  const password = (await readFile(join(dataDir, 'postgres.password'), 'utf8')).trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

/**
 * The V8 flags production gives Node: those of package.json's `start:node` before `--import`
 * (`node --max-semi-space-size=32 --import tsx server/main.ts`), read from there so that the
 * bench measures what operators run and cannot drift from it. Why the flag: docs/operations.md,
 * "Running on Node".
 */
export function productionNodeFlags(): string[] {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const words = manifest.scripts['start:node']!.trim().split(/\s+/);
  const end = words.indexOf('--import');
  if (words[0] !== 'node' || end === -1) throw new Error(`unexpected start:node: ${words.join(' ')}`);
  return words.slice(1, end);
}

function startLogged(
  options: TargetOptions,
  spec: { name: string; logFile: string; args: string[]; env: NodeJS.ProcessEnv; nodeFlags?: string[] },
): { started: Started } {
  const fd = openSync(spec.logFile, 'a');
  try {
    // taskset execs the command, so the PID we get is the server's own. On Node, tsx's loader
    // runs in the same process (--import registers hooks; `npx tsx` would spawn a chain).
    // Under Bun, execPath is Bun's: the Node servers must still run on Node.
    const node = process.versions.bun ? 'node' : process.execPath;
    const runtime =
      (options.runtime ?? 'bun') === 'bun' ? [BUN] : [node, ...(spec.nodeFlags ?? []), '--import', 'tsx'];
    return options.processes.start({
      name: spec.name,
      command: 'taskset',
      args: ['-c', String(options.cpu), ...runtime, ...spec.args],
      env: spec.env,
      cwd: ROOT,
      output: fd,
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * Backstop: the platform stops its PostgreSQL on SIGTERM and the process-group kill catches it
 * otherwise, but a postmaster still named in postmaster.pid gets a fast-shutdown request.
 */
async function stopOrphanedPostgres(dataDir: string): Promise<void> {
  let pid = 0;
  try {
    pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!pid || !isAlive(pid)) return;
  signal(pid, 'SIGINT');
  for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (isAlive(pid)) signal(pid, 'SIGKILL');
}
