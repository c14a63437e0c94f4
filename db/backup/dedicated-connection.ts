import { connect } from 'node:net';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { tryAdvisoryLock } from '../advisory-locks';

/**
 * A Kysely that knows no tables: catalogue queries and COPY statements are written with the sql
 * tag, and migrations bring their own view of the schema.
 */
export type SchemalessKysely = Kysely<Record<string, never>>;

/**
 * One PostgreSQL session of its own, outside the pool, with a Kysely over it: for work that must
 * stay on one session from start to end (a snapshot that COPY statements share, a restore in one
 * transaction, a session-level advisory lock). Statement timeouts are off: a COPY of a large
 * table legitimately runs for minutes.
 */
export class DedicatedConnection {
  readonly client: pg.Client;
  /** Every query through it runs on `client`, inside whatever transaction the client is in. */
  readonly db: SchemalessKysely;
  private closed = false;

  private constructor(client: pg.Client) {
    this.client = client;
    const session = {
      query: (text: string, parameters: readonly unknown[]) => client.query(text, [...parameters]),
      release: () => undefined,
    };
    this.db = new Kysely<Record<string, never>>({
      dialect: new PostgresDialect({
        // A pool of exactly this one session; Kysely never ends it (close() does).
        pool: { connect: async () => session, end: async () => undefined } as never,
      }),
    });
  }

  /** `target`: a connection URL (the platform's own), or explicit settings (a checked restore target). */
  static async open(target: string | pg.ClientConfig, applicationName: string): Promise<DedicatedConnection> {
    const client = new pg.Client({
      ...(typeof target === 'string' ? { connectionString: target } : target),
      application_name: applicationName,
      statement_timeout: 0,
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
    });
    // Without a listener a connection lost mid-backup would be an unhandled 'error' event that
    // ends the process; the query under way fails with it instead.
    client.on('error', () => undefined);
    await client.connect();
    return new DedicatedConnection(client);
  }

  /** `pg_try_advisory_lock`: held by this session until it unlocks or closes. */
  tryLock(key: bigint): Promise<boolean> {
    return tryAdvisoryLock(this.db, key);
  }

  /**
   * Ends the session (which releases its advisory locks and rolls back an open transaction).
   * A server that does not answer the goodbye within `timeoutMs` gets its socket cut instead:
   * closing must not hang, whatever state the session is in.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      this.client.end().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!ended) this.destroy();
  }

  /**
   * Asks the server to cancel the statement under way, as psql's Ctrl-C does (a CancelRequest on
   * a connection of its own): for a COPY TO STDOUT whose output nobody reads any more, which would
   * otherwise run to the end of the table. Best effort, bounded; the statement then fails with
   * "canceling statement due to user request" (or has already ended: nothing happens).
   */
  async cancelStatement(timeoutMs = 2_000): Promise<void> {
    const { host, port, processID, secretKey } = this.client as unknown as {
      host: string;
      port: number;
      processID: number | null;
      secretKey: number | null;
    };
    if (this.closed || processID === null || secretKey === null) return;
    const request = Buffer.alloc(16);
    request.writeInt32BE(16, 0);
    request.writeInt32BE(80877102, 4);
    request.writeInt32BE(processID, 8);
    request.writeInt32BE(secretKey, 12);
    await new Promise<void>((resolve) => {
      const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect({ host, port });
      const done = () => {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      socket.once('connect', () => socket.end(request));
      // The server closes the connection once it has read the request.
      socket.once('close', done);
      socket.once('error', done);
    });
  }

  /**
   * Cuts the session's socket at once: the query under way fails ("Connection terminated"), and
   * the server, seeing the connection gone, rolls back and releases the session's locks.
   */
  destroy(): void {
    this.closed = true;
    (this.client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  }
}
