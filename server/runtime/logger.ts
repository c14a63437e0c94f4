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
    destination ?? pino.destination({ dest: 1, sync: false }),
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
