import {
  type CompiledQuery,
  type DatabaseConnection,
  Kysely,
  type Kysely as KyselyType,
  PostgresDialect,
  type QueryResult,
  sql,
} from 'kysely';
import pg from 'pg';
import { PreparingClient } from './compiled-client';
import { runPreparedQueriesDirectly } from './compiled-query';
import type { Database } from './database';
import {
  isConnectionError,
  isRetryableError,
  isTransientError,
  type RetryOptions,
  retryAfterFailure,
  withRetry,
} from './retry';

export interface DatabaseOptions {
  url: string;
  /** Most connections the pool opens. */
  poolMax: number;
  /** Bound on opening a connection and on waiting for a free one from the pool. */
  connectTimeoutMs: number;
  /** Server-side bound on every statement (0 disables it). */
  statementTimeoutMs: number;
  idleTimeoutMs: number;
  /** How `connect`, `read` and `transaction` retry transient failures. */
  retry: Omit<RetryOptions, 'retryable' | 'onRetry' | 'signal'>;
  applicationName?: string;
  /**
   * Send the SQL of prepared queries (db/compiled-query.ts) as named statements, planned once per
   * connection (default true). Off for a pooler that cannot keep them (PgBouncer in transaction
   * mode before 1.21, or without max_prepared_statements).
   */
  namedStatements?: boolean;
  /** Told of every query: its SQL text, duration and outcome. Must not throw. */
  onQuery?: (event: QueryEvent) => void;
  /** Told when the database goes from reachable to unreachable or back. Must not throw. */
  onHealthChange?: (healthy: boolean, lastError: string | null) => void;
  /** Told of connection-level trouble (pool errors, retries). Must not throw. */
  onWarning?: (message: string, error: unknown) => void;
}

export interface QueryEvent {
  sql: string;
  durationMs: number;
  error?: unknown;
  /** Rows returned, or affected by an insert, update, delete or merge; absent when the query failed. */
  rows?: number;
}

export interface PoolStats {
  /** Connections open now, idle or in use. */
  total: number;
  idle: number;
  /** Callers waiting for a connection while none is idle and the pool may open no more. */
  waiting: number;
  max: number;
  /** Connections handed out since start. */
  acquired: number;
  /** Connections opened since start. */
  connects: number;
  /** Connection-level failures since start: lost connections, failed connects, failed queries on a broken link. */
  errors: number;
  /** Connections opened again after a connection-level failure. */
  reconnects: number;
  lastError: { message: string; code: string | null; at: string } | null;
  healthy: boolean;
  lastHealthyAt: string | null;
}

/** The commit was sent but its answer was lost: the transaction may or may not have been applied. */
export class AmbiguousCommitError extends Error {
  override name = 'AmbiguousCommitError';
  constructor(override readonly cause: unknown) {
    super('the connection failed while committing; the outcome of the transaction is unknown');
  }
}

/**
 * The platform's database: Kysely over one `pg.Pool`, the same code path for the embedded
 * server and for DATABASE_URL. Adds what the pool lacks: error handlers that keep the process
 * alive through a server restart, retries that only repeat what is safe to repeat, a cheap
 * health signal, and statistics.
 */
export class PlatformDatabase {
  readonly db: Kysely<Database>;
  readonly pool: pg.Pool;
  private readonly options: DatabaseOptions;
  private counters = { acquired: 0, connects: 0, errors: 0, reconnects: 0 };
  private lastError: PoolStats['lastError'] = null;
  private healthy = false;
  private lastHealthyAt = 0;
  private connectionLost = false;
  private readonly seenInQueries = new WeakSet<object>();
  private pingInFlight: Promise<number> | null = null;
  private healthTimer: ReturnType<typeof setInterval> | null = null;
  private readonly readRetry: RetryOptions;

  constructor(options: DatabaseOptions) {
    this.options = options;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolMax,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: options.idleTimeoutMs,
      statement_timeout: options.statementTimeoutMs || undefined,
      application_name: options.applicationName ?? 'beauty-crafter-platform',
      keepAlive: true,
      Client: options.namedStatements === false ? pg.Client : PreparingClient,
    });
    this.readRetry = { ...options.retry, retryable: isRetryableError };
    // Without these two handlers an idle connection broken by a server restart emits an
    // unhandled 'error' and the process exits (node-postgres #1324; on Bun the per-client one
    // is needed as well).
    this.pool.on('error', (error) => this.recordConnectionError(error));
    this.pool.on('connect', (client) => {
      client.on('error', (error) => this.recordConnectionError(error));
      this.counters.connects++;
      if (this.connectionLost) {
        this.connectionLost = false;
        this.counters.reconnects++;
      }
    });
    this.pool.on('acquire', () => {
      this.counters.acquired++;
    });
    this.db = new Kysely<Database>({
      dialect: new PostgresDialect({
        pool: this.pool,
        onCreateConnection: async (connection) => this.instrument(connection),
      }),
    });
    runPreparedQueriesDirectly(this.db, (sqlText, parameters) => this.runStatement(sqlText, parameters));
  }

  /**
   * Waits until the server answers, retrying with capped exponential backoff and jitter.
   * Throws the last error once the configured attempts are spent.
   */
  async connect(signal?: AbortSignal): Promise<void> {
    await withRetry(() => this.ping(this.options.connectTimeoutMs), {
      ...this.options.retry,
      retryable: (error) => isTransientError(error) || error instanceof PingTimeoutError,
      onRetry: (error, attempt, delayMs) =>
        this.options.onWarning?.(
          `database not reachable (attempt ${attempt}), retrying in ${delayMs} ms`,
          error,
        ),
      signal,
    });
  }

  /**
   * Runs a read, repeating it on a transient failure (never on a full pool: `isRetryableError`
   * says why). Only for statements with no effect:
   * a read that fails half-way can be sent again without changing anything.
   */
  read<T>(query: (db: KyselyType<Database>) => Promise<T>): Promise<T> {
    // The first attempt bare: the retry machinery (an async frame, an options object) only runs
    // once it has failed, which on the hot path it never does.
    let first: Promise<T>;
    try {
      first = query(this.db);
    } catch (error) {
      first = Promise.reject(error);
    }
    return first.catch((error) =>
      retryAfterFailure(error, () => query(this.db), this.readRetry).catch((last) => this.noteFailure(last)),
    );
  }

  /**
   * Runs `work` in a transaction. With `retry` (the default) the whole transaction is run again
   * after a transient failure (a lost connection, a serialization failure, a deadlock), which is
   * safe because a failed transaction left nothing behind. The one case where that is not
   * known, a connection lost while committing, throws AmbiguousCommitError, unless `idempotent`
   * says that applying the work twice has the effect of applying it once (an insert guarded by
   * an idempotency key): then it is run again too.
   */
  async transaction<T>(
    work: (trx: KyselyType<Database>) => Promise<T>,
    { retry = true, idempotent = false }: { retry?: boolean; idempotent?: boolean } = {},
  ): Promise<T> {
    const once = async () => {
      const trx = await this.db.startTransaction().execute();
      let result: T;
      try {
        result = await work(trx);
      } catch (error) {
        await trx
          .rollback()
          .execute()
          .catch(() => undefined);
        throw error;
      }
      try {
        await trx.commit().execute();
      } catch (error) {
        throw isConnectionError(error) ? new AmbiguousCommitError(error) : error;
      }
      return result;
    };
    const attempt = retry
      ? withRetry(once, {
          ...this.options.retry,
          retryable: (error) =>
            error instanceof AmbiguousCommitError ? idempotent : isRetryableError(error),
        })
      : once();
    return attempt.catch((error) => this.noteFailure(error));
  }

  /**
   * A connection that could not even be opened never reaches Kysely's log hook; note it here so
   * readiness drops at the first failed request rather than at the next health check.
   */
  private noteFailure(error: unknown): never {
    const cause = error instanceof AmbiguousCommitError ? error.cause : error;
    if (isConnectionError(cause)) this.markUnhealthy(cause);
    throw error;
  }

  /** Round trip to the server, bounded by `timeoutMs`; resolves with its latency in ms. */
  async ping(timeoutMs: number): Promise<number> {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PingTimeoutError(timeoutMs)), timeoutMs);
    });
    try {
      await Promise.race([sql`select 1`.execute(this.db), timeout]);
      return performance.now() - started;
    } catch (error) {
      this.markUnhealthy(error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Whether the database answered recently. A query that succeeded within `maxAgeMs` counts, so
   * busy servers answer readiness probes without I/O; otherwise one ping (shared by concurrent
   * callers) decides.
   */
  async isReachable({ maxAgeMs, timeoutMs }: { maxAgeMs: number; timeoutMs: number }): Promise<boolean> {
    if (this.healthy && performance.now() - this.lastHealthyAt <= maxAgeMs) return true;
    this.pingInFlight ??= this.ping(timeoutMs).finally(() => {
      this.pingInFlight = null;
    });
    return this.pingInFlight.then(
      () => true,
      () => false,
    );
  }

  /** Pings every `intervalMs` so that health reflects reality even without traffic. */
  startHealthChecks(intervalMs: number, timeoutMs: number): void {
    this.stopHealthChecks();
    this.healthTimer = setInterval(() => {
      this.ping(timeoutMs).catch(() => undefined);
    }, intervalMs);
    this.healthTimer.unref?.();
  }

  stopHealthChecks(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
  }

  isHealthy(): boolean {
    return this.healthy;
  }

  stats(): PoolStats {
    const { totalCount, idleCount, waitingCount } = this.pool;
    return {
      total: totalCount,
      idle: idleCount,
      // pg-pool queues every caller of connect() while it has an idle client and hands it one on
      // the next tick, so `waitingCount` also counts callers about to be served: a scrape whose
      // own collectors read the database (deployment and backup figures) saw 1-2 of them with
      // every connection idle. Waiting means none is free and none may be opened.
      waiting: Math.max(0, waitingCount - idleCount - Math.max(0, this.options.poolMax - totalCount)),
      max: this.options.poolMax,
      ...this.counters,
      lastError: this.lastError,
      healthy: this.healthy,
      lastHealthyAt: this.lastHealthyAt
        ? new Date(performance.timeOrigin + this.lastHealthyAt).toISOString()
        : null,
    };
  }

  /** Stops health checks and closes every connection once the queries under way have finished. */
  async close(): Promise<void> {
    this.stopHealthChecks();
    await this.db.destroy();
  }

  /**
   * Times every statement of a connection and counts its rows, once for the connection's life:
   * one wrapper around the driver's `executeQuery`, in place of Kysely's log hook (which times
   * in a wrapper of its own and hands over no result) plus a second one for the rows.
   */
  private instrument(connection: DatabaseConnection): void {
    const execute = connection.executeQuery.bind(connection);
    connection.executeQuery = async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
      const started = performance.now();
      let result: QueryResult<R>;
      try {
        result = await execute<R>(query);
      } catch (error) {
        this.observeFailure(query.sql, performance.now() - started, error);
        throw error;
      }
      const finished = performance.now();
      this.observeSuccess(query.sql, finished - started, finished, rowsOf(query, result));
      return result;
    };
  }

  /**
   * One statement of a prepared query on a pooled connection, outside any transaction: what
   * Kysely's executor would do with it, less the layers a compiled statement does not need.
   * Observed, and released to the pool, exactly as Kysely's path does.
   */
  private async runStatement(sqlText: string, parameters: unknown[]): Promise<unknown[]> {
    const client = await this.pool.connect();
    const started = performance.now();
    let result: pg.QueryResult;
    try {
      result = await client.query(sqlText, parameters);
    } catch (error) {
      client.release();
      this.observeFailure(sqlText, performance.now() - started, error);
      throw error;
    }
    const finished = performance.now();
    client.release();
    const affected = AFFECTING_COMMANDS.has(result.command) ? (result.rowCount ?? 0) : result.rows.length;
    this.observeSuccess(sqlText, finished - started, finished, affected);
    return result.rows;
  }

  private observeSuccess(sqlText: string, durationMs: number, finishedAt: number, rows: number): void {
    this.lastHealthyAt = finishedAt;
    if (!this.healthy) this.setHealthy(true);
    this.options.onQuery?.({ sql: sqlText, durationMs, error: undefined, rows });
  }

  private observeFailure(sqlText: string, durationMs: number, error: unknown): void {
    if (isConnectionError(error)) {
      // Counted by the client's 'error' event, which a broken connection also emits.
      this.setHealthy(false);
      if (error && typeof error === 'object') this.seenInQueries.add(error);
    }
    this.options.onQuery?.({ sql: sqlText, durationMs, error, rows: undefined });
  }

  private setHealthy(healthy: boolean): void {
    if (this.healthy === healthy) return;
    this.healthy = healthy;
    this.options.onHealthChange?.(healthy, this.lastError?.message ?? null);
  }

  private markUnhealthy(error: unknown): void {
    this.setHealthy(false);
    const alreadyCounted = typeof error === 'object' && error !== null && this.seenInQueries.has(error);
    if (!alreadyCounted && (isConnectionError(error) || error instanceof PingTimeoutError)) {
      this.recordConnectionError(error);
    }
  }

  private recordConnectionError(error: unknown): void {
    this.counters.errors++;
    this.connectionLost = true;
    const e = error as { message?: string; code?: string };
    this.lastError = {
      message: String(e?.message ?? error),
      code: typeof e?.code === 'string' ? e.code : null,
      at: new Date().toISOString(),
    };
    this.setHealthy(false);
    this.options.onWarning?.('database connection error', error);
  }
}

export class PingTimeoutError extends Error {
  override name = 'PingTimeoutError';
  constructor(timeoutMs: number) {
    super(`the database did not answer within ${timeoutMs} ms`);
  }
}

/** Commands whose row count is the rows they changed, as Kysely counts them. */
const AFFECTING_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** Rows returned, or affected by an insert, update, delete or merge. */
function rowsOf(query: CompiledQuery, result: QueryResult<unknown>): number {
  // Kysely answers COMMIT and ROLLBACK with a made-up row holding the command tag.
  if (query.sql === 'commit' || query.sql === 'rollback') return 0;
  const affected = result.numAffectedRows;
  return affected === undefined ? result.rows.length : Number(affected);
}
