import pino, { type Logger } from 'pino';

export type { Logger };

/** The `service` field of every log line. */
export const LOG_SERVICE = 'beauty-crafter-platform';

/**
 * Paths pino replaces with "[redacted]" wherever they appear in a log line. Secrets reach logs
 * mostly through headers, configuration dumps and error objects; anything named like a secret
 * is covered one and two levels deep.
 */
const REDACT_PATHS = [
  'authorization',
  'cookie',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'config.ADMIN_TOKEN',
  'config.METRICS_TOKEN',
  'config.DATABASE_URL',
  ...['password', 'token', 'accessToken', 'refreshToken', 'apiKey', 'secret', 'key'].flatMap((name) => [
    name,
    `*.${name}`,
  ]),
];

export interface LoggerOptions {
  level: string;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  destination?: pino.DestinationStream;
}

/**
 * The most stdout's destination holds while the reader of our stdout is not keeping up (16 MiB):
 * a line that would take it past this is dropped, not queued, so a stalled log collector costs
 * lines, never the process's memory. Well above what a healthy reader ever leaves queued.
 */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;

/**
 * stdout as pino's asynchronous sonic-boom destination: a write appends to a buffer and returns;
 * the buffer goes to the file descriptor in the background (one write at a time, off the request
 * path on Bun and Node alike), bounded by LOG_BUFFER_MAX_BYTES. Its `write` returns false past
 * 16 KiB queued, the signal the buffered access log waits on ('drain'); shutdown waits for the
 * last write (shutdown.ts). Lines dropped at the bound are counted in `droppedLogLines`.
 */
function stdoutDestination(): pino.DestinationStream {
  const destination = pino.destination({ dest: 1, sync: false, maxLength: LOG_BUFFER_MAX_BYTES });
  destination.on('drop', (data: string) => {
    dropped += countLines(data);
  });
  return destination;
}

let dropped = 0;

/** Lines stdout's destination dropped because its buffer was full, since the process started. */
export function droppedLogLines(): number {
  return dropped;
}

function countLines(data: string): number {
  let lines = 0;
  for (let at = data.indexOf('\n'); at !== -1; at = data.indexOf('\n', at + 1)) lines++;
  return Math.max(lines, 1);
}

/** Structured JSON logging, one object a line, the same on Bun and Node. */
export function createLogger({ level, destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service: LOG_SERVICE, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? stdoutDestination(),
  );
}

/** What pino writes to: stdout's sonic-boom in production, any writable in tests. */
export interface LogStream {
  write(chunk: string): unknown;
  /** sonic-boom: a write is under way (its 'drain' follows). */
  _writing?: boolean;
  once?(event: 'drain', listener: () => void): unknown;
}

/** The stream a logger writes to, which pino keeps behind a symbol. */
export function logStream(logger: Logger): LogStream {
  const stream = (logger as unknown as Record<symbol, LogStream | undefined>)[pino.symbols.streamSym];
  if (!stream) throw new Error('the logger has no stream');
  return stream;
}
