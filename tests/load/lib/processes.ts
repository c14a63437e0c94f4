import { type ChildProcess, spawn } from 'node:child_process';

/** A process the bench started and must stop. */
export interface Started {
  name: string;
  pid: number;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  hasExited(): boolean;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where stdout and stderr go: a file descriptor, or 'pipe' to read them. */
  output?: number | 'pipe';
}

/**
 * Every process the bench starts, so each can be stopped by its PID at the end, on Ctrl-C, or
 * (SIGKILL, synchronously) when the bench itself exits unexpectedly.
 *
 * Children run detached, in a process group of their own: Ctrl-C in the terminal then reaches
 * only the bench, which stops them in order (platform first, gracefully) instead of every
 * process reacting to the signal at once. The group also holds whatever a server spawns itself
 * (the platform's embedded PostgreSQL), so killing the group leaves no orphan behind.
 */
export class Processes {
  private readonly running = new Map<number, { started: Started; child: ChildProcess }>();

  start(options: StartOptions): { started: Started; child: ChildProcess } {
    const output = options.output ?? 'ignore';
    const child = spawn(options.command, options.args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', output, output],
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.name} (${options.command})`);
    const pid = child.pid;
    let done = false;
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => {
        done = true;
        this.running.delete(pid);
        resolve(code ?? signal ?? 'unknown');
      });
      child.once('error', (error) => {
        done = true;
        this.running.delete(pid);
        resolve(error.message);
      });
    });
    const started: Started = { name: options.name, pid, exited, hasExited: () => done };
    this.running.set(pid, { started, child });
    return { started, child };
  }

  /** Runs a short-lived command to completion and returns its stdout (stderr is appended). */
  async run(options: Omit<StartOptions, 'output'>): Promise<{ code: number | string; output: string }> {
    const { started, child } = this.start({ ...options, output: 'pipe' });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await started.exited;
    return { code, output };
  }

  /**
   * SIGTERM, then SIGKILL to the whole group if it has not exited within `graceMs`. The group
   * kill also runs after a graceful exit, for any grandchild the process failed to stop.
   */
  async stop(started: Started, graceMs = 15_000): Promise<void> {
    if (!started.hasExited()) {
      signal(started.pid, 'SIGTERM');
      const timer = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([started.exited, timer]);
    }
    signal(-started.pid, 'SIGKILL');
    if (!started.hasExited()) await started.exited;
  }

  /** Stops every process still running, newest first (load generator before servers). */
  async stopAll(): Promise<void> {
    const all = [...this.running.values()].map((entry) => entry.started).reverse();
    for (const started of all) await this.stop(started);
  }

  /** For process.on('exit'), where nothing asynchronous runs: kill every group outright. */
  killAllNow(): void {
    for (const pid of this.running.keys()) signal(-pid, 'SIGKILL');
  }
}

/** Sends a signal, ignoring "no such process" (it ended meanwhile). */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * Polls `url` until it answers `status`, failing early if the process exits and after
 * `timeoutMs` otherwise.
 */
export async function waitForHttp(
  url: string,
  started: Started,
  { status = 200, timeoutMs = 60_000 }: { status?: number; timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (started.hasExited())
      throw new Error(`${started.name} exited (${await started.exited}) before ${url}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === status) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${started.name}: ${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}
