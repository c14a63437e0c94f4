import type { EmbeddedPostgres } from '../../db/embedded-postgres';
import { type Logger, logStream } from '../base/logger';
import { accessLogOf } from '../http/access-log';
import type { AppDeps } from '../http/deps';
import type { RunningServer } from './serve';

/** How long the spans still buffered may take to reach the collector at shutdown. */
const TRACES_FLUSH_MS = 2_000;

/** Why a backup still running at the shutdown deadline failed (its row's `error`). */
export const BACKUP_INTERRUPTED = 'interrupted: the instance shut down before the backup finished';

/**
 * Graceful shutdown on SIGTERM or SIGINT, in the order load balancers need (lightship,
 * terminus): readiness 503 at once; the drain delay, so they notice and stop sending; stop
 * listening; let in-flight requests finish; stop the components; then close the pool and the
 * embedded server. Every wait after the drain delay shares one deadline, SHUTDOWN_TIMEOUT_MS
 * (running backups are cancelled just before it). A second SIGINT exits at once.
 */
export function installShutdown({
  deps,
  server,
  embedded,
  logger,
}: {
  deps: AppDeps;
  server: RunningServer;
  embedded?: EmbeddedPostgres;
  logger: Logger;
}): void {
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      // A second Ctrl-C means "now"; a repeated SIGTERM (some supervisors send two) changes nothing.
      if (signal === 'SIGINT') process.exit(130);
      logger.info({ signal }, 'already shutting down');
      return;
    }
    shuttingDown = true;
    shutdown(signal).then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };

  async function shutdown(signal: NodeJS.Signals): Promise<void> {
    const { config, lifecycle, initializer, database } = deps;
    lifecycle.beginDrain();
    logger.info({ signal, drainDelayMs: config.SHUTDOWN_DRAIN_DELAY_MS }, 'draining: readiness now 503');
    await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DRAIN_DELAY_MS));
    // One deadline for everything after the drain delay (what the pod's grace period is sized
    // for). Backups under way are cancelled a little before it, so their failure is recorded
    // and the pool still closes in time.
    const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
    const remaining = () => Math.max(0, deadline - Date.now());
    const reserveMs = Math.min(1_000, Math.floor(config.SHUTDOWN_TIMEOUT_MS / 4));
    const backupsDeadline = setTimeout(() => {
      void deps.devops.backups.interrupt(BACKUP_INTERRUPTED).catch((error) => {
        logger.error({ err: error }, 'running backups not cancelled');
      });
    }, remaining() - reserveMs);
    const closed = server.close();
    const idle = await lifecycle.waitForIdle(remaining());
    if (!idle)
      logger.warn({ inFlight: lifecycle.activeRequests() }, 'shutdown timeout: requests still in flight');
    accessLogOf(deps.logger)?.flush();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    // A component stop that hangs (a backup, a deployment) must not keep the process alive:
    // past the deadline the rest of the shutdown goes on without it.
    await within(initializer.stop(), Math.max(remaining(), reserveMs), 'components');
    clearTimeout(backupsDeadline);
    await within(database.close(), Math.max(remaining(), reserveMs), 'database pool');
    if (embedded) await embedded.stop();
    // The last spans (the shutdown's own requests and steps among them), bounded like every step.
    if (deps.tracing) await within(deps.tracing.shutdown(TRACES_FLUSH_MS), TRACES_FLUSH_MS + 100, 'traces');
    // Access lines wait in a buffer for their timer: the last requests' lines go out now.
    await accessLogOf(deps.logger)?.close();
    logger.info('shutdown complete');
    await flushLogs(logger);
  }

  /** Waits for `work` at most `timeoutMs`; a step that takes longer is logged and left behind. */
  async function within(work: Promise<unknown>, timeoutMs: number, step: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      work.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (!done) logger.warn({ step, timeoutMs }, 'shutdown step timed out: going on without it');
  }

  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Waits until the log destination has handed its last line to the operating system, so that
 * process.exit() does not cut it off. `logger.flush(cb)` is not enough: pino's asynchronous
 * sonic-boom destination (minLength 0) calls `cb` at once even while a write is still under way,
 * and on Bun that write is lost when the process exits (seen: "shutdown complete" missing from
 * 10 runs in 40 with stdout a pipe, none after this fix). So wait for the stream's 'drain' while it is writing,
 * bounded in case the reader of our stdout is gone.
 */
async function flushLogs(logger: Logger, timeoutMs = 2_000): Promise<void> {
  const stream = logStream(logger);
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  if (!stream._writing || typeof stream.once !== 'function') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    stream.once?.('drain', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
