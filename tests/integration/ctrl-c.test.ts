import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../db/local-processes';
import {
  mustRun,
  PROCESS_ADMIN,
  PROCESS_KEK,
  ROOT,
  RUNTIMES,
  type Runtime,
  serverCommand,
} from '../helpers/server-process';

/**
 * Ctrl-C in a terminal sends SIGINT to the whole foreground process group, not to one PID. The
 * server is therefore started as the leader of a group of its own (`detached`) and the signal
 * sent to the group, as a terminal would. Anything it spawned into that group (an embedded
 * PostgreSQL, once) gets the signal too.
 */

const DRAIN_DELAY_MS = 1_000;
/**
 * What an embedded PostgreSQL stopping under the platform looks like in its logs: the pool's and
 * the change feed's connection errors, the health check's "database unreachable".
 */
const NOISE =
  /ECONNREFUSED|terminating connection|57P01|Connection terminated|database unreachable|database connection error|change feed (connection lost|reconnection failed)/;

let group: ChildProcess | undefined;
let postmasterPid: number | undefined;
let root: string | undefined;

afterEach(async () => {
  // A failed test may leave the group or its PostgreSQL running: stop them, by PID.
  if (group?.pid && group.exitCode === null && group.signalCode === null) {
    try {
      process.kill(-group.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  if (postmasterPid && isAlive(postmasterPid)) {
    process.kill(postmasterPid, 'SIGINT');
    for (let waited = 0; waited < 10_000 && isAlive(postmasterPid); waited += 50) await sleep(50);
  }
  if (root) await rm(root, { recursive: true, force: true });
  group = undefined;
  postmasterPid = undefined;
  root = undefined;
});

describe.each(RUNTIMES.filter(mustRun))('Ctrl-C on %s', (runtime) => {
  it('SIGINT to the process group: exit 0, one "shutdown complete", no warnings, PostgreSQL stopped', async () => {
    const server = await startInOwnGroup(runtime);
    const signalledAt = server.stdout.length;
    process.kill(-server.pid, 'SIGINT');
    const status = await server.exited(30_000);

    const after = server.stdout.slice(signalledAt);
    const context = `\nstdout after SIGINT:\n${after.join('\n')}\nstderr:\n${server.stderr.join('\n')}`;
    expect(status, context).toEqual({ code: 0, signal: null });
    expect(
      server.stdout.filter((line) => parse(line)?.msg === 'shutdown complete'),
      context,
    ).toHaveLength(1);
    expect(
      [...server.stdout, ...server.stderr].filter((line) => NOISE.test(line)),
      context,
    ).toEqual([]);
    expect(isAlive(server.postmasterPid), 'the embedded PostgreSQL still runs').toBe(false);
    expect(existsSync(join(server.dataDir, 'postmaster.pid')), 'postmaster.pid left behind').toBe(false);
  }, 60_000);

  it('completes its shutdown when PostgreSQL stopped first (killed, or signalled by someone else)', async () => {
    const server = await startInOwnGroup(runtime);
    process.kill(server.postmasterPid, 'SIGINT');
    for (let waited = 0; waited < 10_000 && isAlive(server.postmasterPid); waited += 50) await sleep(50);
    expect(isAlive(server.postmasterPid)).toBe(false);

    process.kill(-server.pid, 'SIGINT');
    const status = await server.exited(30_000);
    const context = `\nstdout:\n${server.stdout.slice(-40).join('\n')}\nstderr:\n${server.stderr.join('\n')}`;
    // It used to wait for ever on the embedded server's stop(), and exit 0 without its last steps
    // once the event loop ran empty.
    expect(status, context).toEqual({ code: 0, signal: null });
    expect(
      server.stdout.filter((line) => parse(line)?.msg === 'shutdown complete'),
      context,
    ).toHaveLength(1);
  }, 60_000);
});

interface GroupServer {
  pid: number;
  postmasterPid: number;
  /** The embedded PostgreSQL's data directory. */
  dataDir: string;
  stdout: string[];
  stderr: string[];
  /** The exit status, or 'timeout' after `timeoutMs`. */
  exited(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'timeout'>;
}

/** Starts the server, with an embedded PostgreSQL, as the leader of a new process group; waits for "ready". */
async function startInOwnGroup(runtime: Runtime): Promise<GroupServer> {
  root = await mkdtemp(join(tmpdir(), 'bc-ctrl-c-'));
  // The embedded PostgreSQL runs as the `postgres` user when we are root: it must reach its folder.
  await chmod(root, 0o755);
  const [command, args] = serverCommand(runtime);
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      DATA_DIR: root,
      ADMIN_EMAIL: PROCESS_ADMIN.email,
      ADMIN_PASSWORD: PROCESS_ADMIN.password,
      AUTH_KEY_ENCRYPTION_KEY: PROCESS_KEK,
      AUTH_PASSWORD_COST: '10',
      // Long enough for the health checks and pool to notice a PostgreSQL gone under them.
      SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
      // With PostgreSQL gone first, component stops wait on reconnection attempts: bound them.
      SHUTDOWN_TIMEOUT_MS: '5000',
    },
  });
  group = child;
  const stdout: string[] = [];
  const stderr: string[] = [];
  collectLines(child.stdout, stdout);
  collectLines(child.stderr, stderr);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );

  const deadline = Date.now() + 30_000;
  while (!stdout.some((line) => parse(line)?.msg?.startsWith('ready:'))) {
    if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `no ready line (exit ${child.exitCode})\n${stdout.slice(-5).join('\n')}\n${stderr.join('\n')}`,
      );
    }
    await sleep(50);
  }
  const dataDir = join(root, 'postgres');
  postmasterPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  expect(isAlive(postmasterPid)).toBe(true);
  return {
    pid: child.pid as number,
    postmasterPid,
    dataDir,
    stdout,
    stderr,
    exited: (timeoutMs) => Promise.race([exit, sleep(timeoutMs).then(() => 'timeout' as const)]),
  };
}

function parse(line: string): { msg?: string; level?: unknown } | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function collectLines(stream: NodeJS.ReadableStream | null, into: string[]): void {
  let buffered = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    into.push(...parts.filter((line) => line.trim()));
  });
  stream?.on('end', () => {
    if (buffered.trim()) into.push(buffered);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
