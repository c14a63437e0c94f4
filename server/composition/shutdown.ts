import type { EmbeddedPostgres } from '../../db/embedded-postgres';
import { type Logger, logStream } from '../base/logger';
import { accessLogOf } from '../http/access-log';
import type { AppDeps } from '../http/deps';
import type { RunningServer } from './serve';

/**
 * Graceful shutdown on SIGTERM or SIGINT, in the order load balancers need (lightship,
 * terminus): readiness 503 at once; the drain delay, so they notice and stop sending; stop
 * listening; let in-flight requests finish (bounded); then close the pool and the embedded
 * server. A second SIGINT exits at once.
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
    const closed = server.close();
    const idle = await lifecycle.waitForIdle(config.SHUTDOWN_TIMEOUT_MS);
    if (!idle)
      logger.warn({ inFlight: lifecycle.activeRequests() }, 'shutdown timeout: requests still in flight');
    accessLogOf(deps.logger)?.flush();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    await initializer.stop();
    await database.close();
    if (embedded) await embedded.stop();
    // Access lines wait in a buffer for their timer: the last requests' lines go out now.
    await accessLogOf(deps.logger)?.close();
    logger.info('shutdown complete');
    await flushLogs(logger);
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
