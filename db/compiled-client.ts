import pg from 'pg';
import { statementNameOf } from './compiled-query';
import { isStalePlan } from './retry';

type QueryCallback = (error: Error | null, result?: pg.QueryResult) => void;

/**
 * A `pg.Client` that sends the SQL of prepared queries (./compiled-query.ts) as named statements:
 * PostgreSQL parses, analyses and plans such a statement once per connection and then only binds
 * and executes it. Kysely sends every statement unnamed, which PostgreSQL parses and plans
 * again on every call; for a one-row read by primary key that is most of the server's work.
 * Any other SQL text goes through unchanged, as does everything else of pg's client.
 *
 * pg keeps the names a connection has parsed, so a new connection (after a server restart, an
 * idle timeout) parses again by itself.
 */
export class PreparingClient extends pg.Client {
  /** Names PostgreSQL refused to reuse on this connection: their SQL is sent unnamed from then on. */
  private stale: Set<string> | undefined;

  /** Sends `text` as a named statement if it is a prepared query's and still usable here. */
  preparedQuery(text: string, values: unknown[], name: string): Promise<pg.QueryResult> {
    // Read before sending: the status when the statement was sent, not when its error arrived.
    const idle = this.getTransactionStatus() === 'I';
    return baseQuery.call(this, { name, text, values }).catch((error: unknown) => {
      if (!isStalePlan(error)) throw error;
      this.stale ??= new Set();
      this.stale.add(name);
      // Outside a transaction the failed statement changed nothing: send it again, unnamed. Inside
      // one, the transaction is aborted; `isRetryableError` lets its caller run it again.
      if (idle) return baseQuery.call(this, text, values);
      throw error;
    });
  }

  isStale(name: string): boolean {
    return this.stale?.has(name) === true;
  }
}

const baseQuery = pg.Client.prototype.query as (
  this: pg.Client,
  config: unknown,
  values?: unknown,
  callback?: QueryCallback,
) => Promise<pg.QueryResult>;

// An override through the prototype: pg's typings declare `query` with a dozen overloads that a
// class method cannot restate. Kysely calls `client.query(sql, parameters)`; only that form of a
// prepared query's SQL is named.
(PreparingClient.prototype as unknown as { query: unknown }).query = function query(
  this: PreparingClient,
  config: unknown,
  values?: unknown,
  callback?: QueryCallback,
) {
  if (typeof config === 'string' && callback === undefined && Array.isArray(values)) {
    const name = statementNameOf(config);
    if (name !== undefined && !this.isStale(name)) return this.preparedQuery(config, values, name);
  }
  return baseQuery.call(this, config, values, callback);
};
