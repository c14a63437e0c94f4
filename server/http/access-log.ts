import { LOG_SERVICE, type Logger, type LogStream, logStream } from '../base/logger';

export interface AccessLine {
  /** Already validated: the caller's safe X-Request-Id or a UUID (see middleware/request-id.ts). */
  requestId: string;
  method: string;
  route: string;
  /** The path without its query string. */
  path: string;
  status: number;
  durationMs: number;
}

export interface AccessLogOptions {
  /**
   * Lines held between flushes (16384). A full buffer is flushed at once; only while the log
   * destination is not taking writes (it asked us to wait for 'drain') is a line dropped, and
   * counted in `dropped`.
   */
  capacity?: number;
  /**
   * How long a line may wait for the timer that writes it out, in ms (20). Short on purpose: a
   * flush formats and writes every waiting line in one go, and at 20k requests a second 100 ms
   * of lines held the event loop ~5 ms, which showed in Node's p99.
   */
  flushIntervalMs?: number;
  /** Counts the lines dropped: `log_access_lines_dropped_total` (metrics.logs.accessLinesDropped). */
  dropped?: { inc(value?: number): void };
}

/** Pino's level value of `info`: a line is kept while the logger's level is at most this. */
const INFO = 30;

/**
 * One JSON line per request, in the shape pino writes (level label, ISO time, service, pid, msg),
 * written straight to the logger's stream off the request path.
 *
 * A request only copies its figures into a preallocated slot of a ring (no string is built and
 * nothing is written while it is served); a timer formats the buffered lines and hands them to
 * the stream in one write. The ring is bounded: when it fills it is flushed at once, unless the
 * destination is applying back-pressure, in which case the line is dropped and counted (a slow
 * stdout reader must not grow the heap without end). Shutdown flushes it (runtime/shutdown.ts);
 * a process that dies abruptly loses at most one interval of lines.
 *
 * Why not `logger.child(...).info(...)`: pino runs its redaction (wildcard paths, for secrets in
 * arbitrary objects) on every call, and a child per request and that redaction were most of the
 * platform's per-request cost (measured in-process: ~7 µs a line). An access line has a fixed
 * set of fields built here, none of which can hold a secret (the query string is not logged),
 * so there is nothing to redact.
 */
export class AccessLog {
  /** Lines dropped since start because the buffer was full while the destination pushed back. */
  droppedLines = 0;
  private readonly stream: LogStream;
  private readonly capacity: number;
  private readonly flushIntervalMs: number;
  private readonly dropped: AccessLogOptions['dropped'];
  private readonly fields = `","service":${JSON.stringify(LOG_SERVICE)},"pid":${process.pid},"requestId":"`;
  // The ring, one array per field: oldest line at `head`, `size` lines in all.
  private readonly ids: string[];
  /** The request's trace id when the app traces, else undefined. */
  private readonly traceIds: (string | undefined)[];
  private readonly methods: string[];
  private readonly routes: string[];
  private readonly paths: string[];
  private readonly statuses: Uint16Array;
  private readonly seconds: Float64Array;
  /** When each request ended, on the `performance.now()` clock (turned into wall time at flush). */
  private readonly ended: Float64Array;
  private head = 0;
  private size = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The stream's last write returned false: wait for its 'drain' before writing again. */
  private blocked = false;
  private readonly clock = new IsoClock();

  constructor(
    private readonly logger: Logger,
    { capacity = 16_384, flushIntervalMs = 20, dropped }: AccessLogOptions = {},
  ) {
    this.stream = logStream(logger);
    this.capacity = capacity;
    this.flushIntervalMs = flushIntervalMs;
    this.dropped = dropped;
    this.ids = new Array<string>(capacity).fill('');
    this.traceIds = new Array<string | undefined>(capacity).fill(undefined);
    this.methods = new Array<string>(capacity).fill('');
    this.routes = new Array<string>(capacity).fill('');
    this.paths = new Array<string>(capacity).fill('');
    this.statuses = new Uint16Array(capacity);
    this.seconds = new Float64Array(capacity);
    this.ended = new Float64Array(capacity);
  }

  /** Lines waiting for the next flush. */
  get pending(): number {
    return this.size;
  }

  /**
   * Buffers the line of one request that took `seconds` and ended at `endedAt`
   * (`performance.now()`). Allocates nothing; the line is written by the next flush.
   */
  record(
    requestId: string,
    method: string,
    route: string,
    path: string,
    status: number,
    seconds: number,
    endedAt: number,
    traceId?: string,
  ): void {
    // Checked per line: the level can be changed on a running logger.
    if (this.logger.levelVal > INFO) return;
    if (this.size === this.capacity) {
      this.flush();
      if (this.size === this.capacity) {
        this.droppedLines++;
        this.dropped?.inc();
        return;
      }
    }
    let slot = this.head + this.size;
    if (slot >= this.capacity) slot -= this.capacity;
    this.ids[slot] = requestId;
    this.traceIds[slot] = traceId;
    this.methods[slot] = method;
    this.routes[slot] = route;
    this.paths[slot] = path;
    this.statuses[slot] = status;
    this.seconds[slot] = seconds;
    this.ended[slot] = endedAt;
    this.size++;
    if (this.timer === undefined && !this.blocked) this.schedule();
  }

  /** Buffers `line` as having ended now: for callers that have no timings of their own. */
  write(line: AccessLine): void {
    this.record(
      line.requestId,
      line.method,
      line.route,
      line.path,
      line.status,
      line.durationMs / 1000,
      performance.now(),
    );
  }

  /**
   * Writes every buffered line to the stream in one write, now, unless the stream asked to wait
   * for 'drain' (then the lines stay buffered and go out once it drains).
   */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.size === 0 || this.blocked) return;
    // performance.now() readings become wall-clock times with one offset read here, not per line.
    const offset = Date.now() - performance.now();
    let chunk = '';
    let slot = this.head;
    for (let n = 0; n < this.size; n++) {
      const traceId = this.traceIds[slot];
      chunk +=
        `{"level":"info","time":"${this.clock.format(this.ended[slot]! + offset)}${this.fields}${this.ids[slot]}",` +
        (traceId === undefined ? '' : `"trace_id":"${traceId}",`) +
        `"method":"${this.methods[slot]}","route":${JSON.stringify(this.routes[slot])},` +
        `"path":${JSON.stringify(this.paths[slot])},"status":${this.statuses[slot]},` +
        `"durationMs":${Math.round(this.seconds[slot]! * 1e5) / 100},"msg":"request"}\n`;
      if (++slot === this.capacity) slot = 0;
    }
    this.head = 0;
    this.size = 0;
    if (this.stream.write(chunk) === false && typeof this.stream.once === 'function') {
      this.blocked = true;
      this.stream.once('drain', this.drained);
    }
  }

  /**
   * Flushes everything still buffered, waiting (at most `timeoutMs`) for the stream to drain
   * when it pushes back. For shutdown, before the logger's own final flush.
   */
  async close(timeoutMs = 2_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    this.flush();
    while (this.size > 0 && this.blocked && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - performance.now()));
        this.stream.once?.('drain', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.flush();
    }
  }

  private readonly drained = (): void => {
    this.blocked = false;
    if (this.size > 0 && this.timer === undefined) this.schedule();
  };

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.flushIntervalMs);
    // The timer must not keep a finished process alive; shutdown flushes what is left.
    (this.timer as { unref?: () => void }).unref?.();
  }
}

/** One access log per logger: the app (createApp) and the shutdown that flushes it find the same one. */
const byLogger = new WeakMap<Logger, AccessLog>();

/**
 * The access log writing to `logger`'s stream, made on first call (with `options`; later calls
 * get the same one and their options are ignored). One per logger, so that every app built on a
 * logger shares one ordered buffer and shutdown can flush it knowing only the logger.
 */
export function createAccessLog(logger: Logger, options?: AccessLogOptions): AccessLog {
  let log = byLogger.get(logger);
  if (log === undefined) {
    log = new AccessLog(logger, options);
    byLogger.set(logger, log);
  }
  return log;
}

/** The access log of `logger`, if one was made. */
export function accessLogOf(logger: Logger): AccessLog | undefined {
  return byLogger.get(logger);
}

/** `new Date(ms).toISOString()`, formatted once per millisecond however many lines share it. */
class IsoClock {
  private ms = Number.NaN;
  private iso = '';

  format(epochMs: number): string {
    const ms = Math.floor(epochMs);
    if (ms !== this.ms) {
      this.ms = ms;
      this.iso = new Date(ms).toISOString();
    }
    return this.iso;
  }
}
