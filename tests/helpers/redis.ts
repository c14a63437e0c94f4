import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../db/local-processes';
import { findOnPath, missingBinaryReason } from './components';

/**
 * A throwaway `redis-server` for one test file: its own port, its own empty directory, no
 * persistence. Every server started here is remembered, and an 'exit' hook kills leftovers
 * should the test runner die before `stop()`.
 */
export interface TestRedis {
  url: string;
  port: number;
  /** The server's PID (it is spawned directly, never through a shell), for SIGSTOP/SIGCONT. */
  pid: number;
  /** Stops the server and removes its directory; safe to call twice, and on a SIGSTOPped server. */
  stop(): Promise<void>;
}

const MISSING = 'redis-server is not installed (Debian package "redis-server")';

/** Why the Redis tests cannot run here, or null when they must (always null under CI=true). */
export function redisSkipReason(): string | null {
  return missingBinaryReason('redis-server', 'redis-server', 'Redis');
}

/**
 * Starts a redis-server on a free port of 127.0.0.1 (or on `port`: a Redis started again where a
 * stopped one was, as clients configured with its URL expect) and resolves once it accepts
 * connections.
 */
export async function startTestRedis({ port }: { port?: number } = {}): Promise<TestRedis> {
  const binary = findOnPath('redis-server');
  if (!binary) throw new Error(`${MISSING}; CI must install it (see .ci/run)`);
  if (port !== undefined) return startOn(binary, port);
  let lastError: unknown;
  // The free port is released before redis-server binds it; another process may take it first.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOn(binary, await freePort());
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startOn(binary: string, port: number): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'bc-test-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // A stopped process holds SIGTERM until it is continued.
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not start: ${output.join('')}`)),
        10_000,
      );
      const onData = (chunk: Buffer) => {
        output.push(chunk.toString());
        if (output.join('').includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited during start-up: ${output.join('')}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stdout?.removeAllListeners('data');
  child.stderr?.removeAllListeners('data');
  child.stdout?.resume();
  child.stderr?.resume();

  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid as number, stop };
}
