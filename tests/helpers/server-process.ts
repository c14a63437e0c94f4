import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCI } from './components';

/**
 * The real server (server/main.ts) as a child process of the test, on Bun or on Node.
 *
 * The runtime binary is spawned directly (never through npx or a shell), so the child's PID is
 * the server's PID and a signal sent to it reaches the server itself. Every process started here
 * is remembered; `stopAllServers()` (call it in afterAll/afterEach) stops whatever is still
 * running, and an 'exit' hook SIGKILLs leftovers should the test runner die first.
 */

export type Runtime = 'bun' | 'node';
export const RUNTIMES: readonly Runtime[] = ['bun', 'node'];

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUN = fileURLToPath(new URL('../../node_modules/.bin/bun', import.meta.url));
const ENTRY = 'server/main.ts';

/** The first admin of every server started here (ADMIN_EMAIL / ADMIN_PASSWORD). */
export const PROCESS_ADMIN = { email: 'admin@process.test', password: 'process-admin-password-0123' };
/** A fixed key-encryption key, so servers sharing a database (or a test) agree on it. */
export const PROCESS_KEK = Buffer.alloc(32, 9).toString('base64');

/**
 * Signs in as the first admin over HTTP and returns headers carrying the access token. The
 * server must be ready (its auth component up).
 */
export async function adminHeaders(server: { url: string }): Promise<{ authorization: string }> {
  const response = await fetch(`${server.url}/api/trpc/auth.login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(PROCESS_ADMIN),
  });
  const body = (await response.json()) as { result?: { data?: { accessToken?: string } } };
  const token = body.result?.data?.accessToken;
  if (!token) throw new Error(`admin login failed: ${response.status} ${JSON.stringify(body)}`);
  return { authorization: `Bearer ${token}` };
}

/**
 * Whether tests for `runtime` may run. A runtime that is missing makes its tests skip on a
 * developer machine, but under CI=true nothing may skip for want of a component: the tests run
 * and fail (spawning a missing binary rejects with a message saying so).
 */
export function runtimeAvailable(runtime: Runtime): boolean {
  return runtime === 'node' || existsSync(BUN);
}
export function mustRun(runtime: Runtime): boolean {
  return runtimeAvailable(runtime) || isCI();
}

/** The command line that runs the server on `runtime`: [binary, ...args]. */
export function serverCommand(runtime: Runtime): [string, string[]] {
  if (runtime === 'bun') return [BUN, [ENTRY]];
  // Under Bun (`bun --bun vitest`) execPath is Bun's; the Node server must still run on Node.
  const node = process.versions.bun ? 'node' : process.execPath;
  return [node, ['--import', 'tsx', ENTRY]];
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  runtime: Runtime;
  /**
   * Server environment on top of the defaults (HOST=127.0.0.1, PORT=0, LOG_LEVEL=info, a fixed
   * first admin, a fixed key-encryption key, a short drain delay). `undefined` removes a default. Nothing is inherited from
   * the test's own environment but PATH, HOME and TMPDIR, so a DATABASE_URL or NODE_ENV of the
   * runner cannot leak into the server.
   */
  env?: Record<string, string | undefined>;
}

/** A server process, from spawn on: it may not be listening (yet, or ever). */
export interface SpawnedServer {
  runtime: Runtime;
  pid: number;
  /** Every JSON line the server wrote to stdout, parsed; other lines as `{ raw }`. */
  logs: LogLine[];
  /** Every line the server wrote to stderr. */
  stderr: string[];
  /** Settles when the process has exited; never rejects. */
  exit: Promise<ExitInfo>;
  /** The exit status once exited, else null. */
  exited(): ExitInfo | null;
  /** Resolves with the first log line matching `predicate`, or rejects after `timeoutMs` or on exit. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /**
   * Sends `signal` (SIGTERM by default) and waits for the exit; if it has not exited after
   * `timeoutMs` it is killed with SIGKILL. Safe to call on a process that already exited.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
}

/** A server that logged "listening": it has a URL. */
export interface ServerProcess extends SpawnedServer {
  port: number;
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  /** Polls GET /api/health/ready until it answers 200; rejects after `timeoutMs` or on exit. */
  waitForReady(timeoutMs?: number): Promise<void>;
}

const running = new Set<SpawnedServer>();

process.once('exit', () => {
  for (const server of running) {
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

/** Spawns the server and returns at once, without waiting for it to listen. */
export function spawnServer({ runtime, env = {} }: SpawnOptions): Promise<SpawnedServer> {
  const [command, args] = serverCommand(runtime);
  const childEnv: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR']) {
    const value = process.env[key];
    if (value !== undefined) childEnv[key] = value;
  }
  const merged: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ADMIN_EMAIL: PROCESS_ADMIN.email,
    ADMIN_PASSWORD: PROCESS_ADMIN.password,
    AUTH_KEY_ENCRYPTION_KEY: PROCESS_KEK,
    // scrypt at 2^10 rather than OWASP's 2^17: tests sign in often.
    AUTH_PASSWORD_COST: '10',
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    // Below stop()'s 15 s before SIGKILL: a shutdown step that hangs is given up at the server's
    // own deadline (logged) and the process still exits 0, rather than being killed by the test.
    SHUTDOWN_TIMEOUT_MS: '10000',
    // Backups of their own: servers of concurrent tests once shared `.data/backups`, and one
    // starting up cleaned away (as an interrupted draft) the archive another was writing.
    // Removed when the server exits.
    ...(env.DATA_DIR === undefined && !('BACKUP_DIR' in env)
      ? { BACKUP_DIR: mkdtempSync(join(tmpdir(), 'bc-server-backups-')) }
      : {}),
    ...env,
  };
  for (const [key, value] of Object.entries(merged)) if (value !== undefined) childEnv[key] = value;

  const child = spawn(command, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const ownBackups = env.DATA_DIR === undefined && !('BACKUP_DIR' in env) ? childEnv.BACKUP_DIR : undefined;
  if (ownBackups) child.once('close', () => rmSync(ownBackups, { recursive: true, force: true }));
  return new Promise((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`could not start the server on ${runtime}: ${error.message}`)),
    );
    child.once('spawn', () => resolve(track(runtime, child)));
  });
}

function track(runtime: Runtime, child: ChildProcess): SpawnedServer {
  const pid = child.pid as number;
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  let status: ExitInfo | null = null;

  lines(child.stdout, (line) => {
    try {
      const parsed = JSON.parse(line);
      logs.push(parsed && typeof parsed === 'object' ? parsed : { raw: line });
    } catch {
      logs.push({ raw: line });
    }
    for (const notify of listeners) notify();
  });
  lines(child.stderr, (line) => {
    stderr.push(line);
    if (process.env.SERVER_PROCESS_DEBUG) process.stderr.write(`[server ${pid} stderr] ${line}\n`);
  });

  // 'close' rather than 'exit': by then stdout and stderr are fully read.
  const exit = new Promise<ExitInfo>((resolve) => {
    child.once('close', (code, signal) => {
      status = { code, signal };
      running.delete(server);
      for (const notify of listeners) notify();
      resolve(status);
    });
  });

  const server: SpawnedServer = {
    runtime,
    pid,
    logs,
    stderr,
    exit,
    exited: () => status,
    waitForLog(predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(predicate);
          const exitedWith = status;
          if (found) done(() => resolve(found));
          else if (exitedWith)
            done(() =>
              reject(new Error(`server ${pid} exited (${describeExit(exitedWith)})${tail(stderr, logs)}`)),
            );
        };
        const timer = setTimeout(
          () =>
            done(() =>
              reject(
                new Error(
                  `server ${pid}: expected log line not seen within ${timeoutMs} ms${tail(stderr, logs)}`,
                ),
              ),
            ),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (status) return status;
      try {
        process.kill(pid, signal);
      } catch {
        return exit;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Exited meanwhile.
          }
          resolve();
        }, timeoutMs);
      });
      await Promise.race([exit, killed]);
      clearTimeout(timer);
      return exit;
    },
  };
  running.add(server);
  return server;
}

/** Spawns the server, waits for its "listening" line and (unless `ready: false`) for readiness. */
export async function startServer(
  options: SpawnOptions & { ready?: boolean; timeoutMs?: number },
): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const spawned = await spawnServer(options);
  try {
    const listening = await spawned.waitForLog((l) => l.msg === 'listening', timeoutMs);
    const port = Number(listening.port);
    if (!Number.isInteger(port) || port <= 0) throw new Error(`bad port in ${JSON.stringify(listening)}`);
    const url = `http://127.0.0.1:${port}`;
    const server: ServerProcess = Object.assign(spawned, {
      port,
      url,
      waitForReady: (ms = timeoutMs) => waitForReady(spawned, url, ms),
    });
    if (options.ready !== false) await server.waitForReady();
    return server;
  } catch (error) {
    // SIGTERM first: a server that started an embedded PostgreSQL stops it on the way out.
    await spawned.stop('SIGTERM', 5_000);
    throw error;
  }
}

async function waitForReady(server: SpawnedServer, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const status = server.exited();
    if (status)
      throw new Error(
        `server ${server.pid} exited (${describeExit(status)})${tail(server.stderr, server.logs)}`,
      );
    try {
      const response = await fetch(`${url}/api/health/ready`, { signal: AbortSignal.timeout(2_000) });
      last = `${response.status} ${await response.text()}`;
      if (response.status === 200) return;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `server ${server.pid} not ready within ${timeoutMs} ms (last: ${last})${tail(server.stderr, server.logs)}`,
  );
}

/** Stops every server this module started that is still running (SIGTERM, then SIGKILL). */
export async function stopAllServers(timeoutMs = 15_000): Promise<void> {
  await Promise.all([...running].map((server) => server.stop('SIGTERM', timeoutMs)));
}

function describeExit(status: ExitInfo): string {
  return status.signal ? `signal ${status.signal}` : `code ${status.code}`;
}

function tail(stderr: string[], logs: LogLine[]): string {
  const out = logs.slice(-5).map((l) => JSON.stringify(l));
  const parts = [
    ...(stderr.length ? [`stderr: ${stderr.slice(-10).join('\n')}`] : []),
    ...(out.length ? [`last logs: ${out.join('\n')}`] : []),
  ];
  return parts.length ? `\n${parts.join('\n')}` : '';
}

function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) onLine(line);
      newline = buffered.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (buffered.trim()) onLine(buffered);
    buffered = '';
  });
}
