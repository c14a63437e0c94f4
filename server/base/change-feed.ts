import type { Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from '../../db/database';
import { notify } from '../../db/notify';

/**
 * The channels instances tell each other about on. A closed list, because a channel name reaches
 * LISTEN as an identifier, which PostgreSQL cannot take as a parameter.
 */
export const CHANGE_CHANNELS = [
  'api_key_changes',
  'session_revocations',
  'signing_key_changes',
  'cache_invalidations',
  'maintenance_changes',
] as const;
export type ChangeChannel = (typeof CHANGE_CHANNELS)[number];

// What PostgreSQL accepts as an unquoted identifier (63 bytes at most), lower case only.
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
// pg_notify refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD_BYTES = 7_999;

export interface ChangeFeedOptions {
  url: string;
  logger?: ChangeFeedLogger;
  /** Capped exponential backoff between reconnection attempts. */
  reconnect: { baseMs: number; maxMs: number };
  /** Shown in pg_stat_activity, so an operator (or a test) can find the listening connection. */
  applicationName?: string;
  connectTimeoutMs?: number;
}

/** The part of a pino logger the feed uses. */
export interface ChangeFeedLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

type Handler = (payload: string) => void;

/**
 * PostgreSQL LISTEN/NOTIFY on one dedicated connection, so that what one instance changes reaches
 * every instance. A pooled connection cannot listen: the pool hands it to other work and closes
 * it when idle. A notification sent inside a transaction is delivered when, and only if, the
 * transaction commits. Notifications sent while the connection is down are lost; subscribers
 * learn of that through `onReconnect` and must assume that anything may have changed.
 */
export class ChangeFeed {
  private readonly options: ChangeFeedOptions;
  private readonly handlers = new Map<ChangeChannel, Set<Handler>>();
  private readonly reconnectHandlers = new Set<() => void>();
  private client: pg.Client | null = null;
  private running = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: ChangeFeedOptions) {
    if (!(options.reconnect.baseMs > 0) || !(options.reconnect.maxMs >= options.reconnect.baseMs))
      throw new RangeError('reconnect needs 0 < baseMs <= maxMs');
    this.options = options;
  }

  /** Whether the feed is listening now: while false, notifications are being missed. */
  get connected(): boolean {
    return this.client !== null;
  }

  /**
   * Opens the listening connection and listens on every subscribed channel. Throws if the first
   * connection fails, leaving the feed stopped; once started, it reconnects by itself.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.connect();
    } catch (error) {
      this.running = false;
      throw error;
    }
  }

  /** Calls `handler` with the payload of every notification on `channel` (one of CHANGE_CHANNELS). */
  subscribe(channel: string, handler: Handler): void {
    const name = checkChannel(channel);
    const existing = this.handlers.get(name);
    if (existing) {
      existing.add(handler);
      return;
    }
    this.handlers.set(name, new Set([handler]));
    const client = this.client;
    // A failure here breaks the connection too; the reconnection then listens on every channel.
    if (client) client.query(listenStatement(name)).catch((error) => this.lost(client, error));
  }

  /** Calls `handler` each time the connection is back after a loss (not after `start`). */
  onReconnect(handler: () => void): void {
    this.reconnectHandlers.add(handler);
  }

  /** Sends `payload` on `channel` through `db`; inside a transaction, it is delivered on commit. */
  publish(db: Kysely<Database>, channel: string, payload: string): Promise<void> {
    return publishChange(db, channel, payload);
  }

  /** Closes the connection and stops reconnecting. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      application_name: this.options.applicationName ?? 'beauty-crafter-platform:change-feed',
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5_000,
      keepAlive: true,
    });
    // Without an 'error' handler a connection broken by a server restart or a terminated backend
    // emits an unhandled 'error' and the process exits.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, null));
    client.on('notification', (message) => this.dispatch(message));
    try {
      await client.connect();
      for (const channel of this.handlers.keys()) await client.query(listenStatement(channel));
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (!this.running) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempt = 0;
  }

  private lost(client: pg.Client, error: unknown): void {
    // Events of a connection that is no longer (or not yet) the current one change nothing.
    if (client !== this.client) return;
    this.client = null;
    client.end().catch(() => undefined);
    if (!this.running) return;
    this.options.logger?.warn({ err: describeError(error) }, 'change feed connection lost, reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.timer || !this.running) return;
    const { baseMs, maxMs } = this.options.reconnect;
    const ceiling = Math.min(maxMs, baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    // Half fixed, half random: instances that lost the server together do not all return at once.
    const delayMs = ceiling / 2 + Math.random() * (ceiling / 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reconnect();
    }, delayMs);
    this.timer.unref?.();
  }

  private async reconnect(): Promise<void> {
    try {
      await this.connect();
    } catch (error) {
      this.options.logger?.warn({ err: describeError(error) }, 'change feed reconnection failed');
      this.scheduleReconnect();
      return;
    }
    if (!this.connected) return;
    this.options.logger?.info({}, 'change feed reconnected');
    for (const handler of this.reconnectHandlers) {
      try {
        handler();
      } catch (error) {
        this.options.logger?.warn({ err: describeError(error) }, 'change feed reconnect handler failed');
      }
    }
  }

  private dispatch(message: pg.Notification): void {
    const handlers = this.handlers.get(message.channel as ChangeChannel);
    if (!handlers) return;
    for (const handler of handlers) {
      try {
        handler(message.payload ?? '');
      } catch (error) {
        // The payload is not logged: it may name a key's hash.
        this.options.logger?.warn(
          { err: describeError(error), channel: message.channel },
          'change feed handler failed',
        );
      }
    }
  }
}

/**
 * Sends `payload` on `channel` with pg_notify, both as parameters. Through a transaction, the
 * notification is delivered when it commits and never if it rolls back.
 */
export async function publishChange(db: Kysely<Database>, channel: string, payload: string): Promise<void> {
  const name = checkChannel(channel);
  if (Buffer.byteLength(payload, 'utf8') > MAX_PAYLOAD_BYTES)
    throw new RangeError(`a change payload is limited to ${MAX_PAYLOAD_BYTES} bytes`);
  await notify(db, name, payload);
}

function checkChannel(channel: string): ChangeChannel {
  const known = CHANGE_CHANNELS.find((name) => name === channel);
  if (!known || !IDENTIFIER.test(known)) throw new RangeError(`unknown change channel: ${channel}`);
  return known;
}

/** LISTEN takes an identifier, not a parameter: quoted, and only ever one of CHANGE_CHANNELS. */
function listenStatement(channel: ChangeChannel): string {
  return `listen ${pg.escapeIdentifier(checkChannel(channel))}`;
}

function describeError(error: unknown): { message: string; code?: string } | undefined {
  if (error === null || error === undefined) return undefined;
  const e = error as { message?: unknown; code?: unknown };
  return {
    message: String(e.message ?? error),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
  };
}
