import { createHash } from 'node:crypto';
import { type Compilable, type CompiledQuery, createQueryId, type Kysely } from 'kysely';
import type { Database } from './database';

/**
 * A query written once with Kysely's builder and compiled once, then run with new values: the
 * builder's immutable nodes and the compiler's walk (most of what Kysely costs a one-row read) are
 * paid on the first run only. The values never enter the SQL text: the builder is given
 * placeholders, each of which must come out of the compiler as a `$n` parameter, and every run
 * binds the caller's values in their place.
 *
 * The shape is fixed: whatever varies the SQL text (an optional filter, `for update`) is a second
 * prepared query, never a condition on a placeholder.
 *
 * Its SQL is also registered as a named statement (`statementName`): PlatformDatabase's client
 * sends it to PostgreSQL as a named prepared statement, parsed and planned once per connection.
 */
export interface PreparedQuery<A extends readonly unknown[], R> {
  /** Runs on `db` (the database or a transaction) with `args` in the placeholders' places. */
  execute(db: Kysely<Database>, ...args: A): Promise<R[]>;
  /** The first row, or undefined. */
  executeTakeFirst(db: Kysely<Database>, ...args: A): Promise<R | undefined>;
  /** The compiled SQL (after the first run or `compile`), for tests and EXPLAIN. */
  compile(db: Kysely<Database>): CompiledQuery<R>;
  /** How many times the builder ran: 1 once compiled, whatever the number of runs. */
  readonly compilations: number;
}

/** A stand-in value the builder is given; it must reach the compiler untouched. */
class Placeholder {
  constructor(readonly index: number) {}
  /** Ends up in the SQL text only if something spliced the value in: `compile` refuses that. */
  toString(): string {
    return `\u0000placeholder:${this.index}\u0000`;
  }
}

/**
 * Prepares `build`, a function of the database and the query's values (as many as `arity`).
 * The builder must pass each value to Kysely as a value (`where('id', '=', id)`); a value used
 * as an identifier, inlined with `sql.lit`, or inspected in JavaScript is refused on the first run.
 */
export function prepareQuery<A extends readonly unknown[], R>(
  arity: A['length'],
  build: (db: Kysely<Database>, ...args: A) => Compilable<R>,
): PreparedQuery<A, R> {
  let compiled: CompiledQuery<R> | undefined;
  /** For each parameter of `compiled`: the argument it takes (>= 0), or -1 for a constant. */
  let slots: Int32Array = new Int32Array(0);
  let compilations = 0;

  const compile = (db: Kysely<Database>): CompiledQuery<R> => {
    if (compiled) return compiled;
    const placeholders = Array.from({ length: arity }, (_, i) => new Placeholder(i));
    const query = build(db, ...(placeholders as unknown as A)).compile();
    compilations++;
    const seen = new Set<number>();
    slots = Int32Array.from(query.parameters, (value) => {
      if (!(value instanceof Placeholder)) return -1;
      seen.add(value.index);
      return value.index;
    });
    if (query.sql.includes('\u0000placeholder:'))
      throw new Error('a prepared query spliced one of its values into the SQL text');
    if (seen.size !== arity)
      throw new Error(
        `a prepared query must bind each of its ${arity} values as a parameter; ${arity - seen.size} never reached the compiler as one`,
      );
    registerStatement(query.sql);
    compiled = query;
    return query;
  };

  const run = (db: Kysely<Database>, args: A): Promise<R[]> => {
    let query: CompiledQuery<R>;
    try {
      query = compiled ?? compile(db);
    } catch (error) {
      // A refused builder fails the call like a failed query, never synchronously.
      return Promise.reject(error);
    }
    const parameters = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as number;
      parameters[i] = slot < 0 ? query.parameters[i] : args[slot];
    }
    // Outside a transaction, straight to a pooled connection when the database offers it.
    const direct = db.isTransaction ? undefined : directRunners.get(db);
    if (direct) return direct(query.sql, parameters) as Promise<R[]>;
    const bound: CompiledQuery<R> = {
      query: query.query,
      queryId: createQueryId(),
      sql: query.sql,
      parameters,
    };
    return db.executeQuery<R>(bound).then((result) => result.rows);
  };

  return {
    execute: (db, ...args) => run(db, args),
    executeTakeFirst: (db, ...args) => run(db, args).then(first),

    compile,
    get compilations() {
      return compilations;
    },
  };
}

function first<R>(rows: R[]): R | undefined {
  return rows[0];
}

/** Runs one statement on a pooled connection and answers its rows. */
export type DirectRunner = (sqlText: string, parameters: unknown[]) => Promise<unknown[]>;

const directRunners = new WeakMap<Kysely<Database>, DirectRunner>();

/**
 * Lets prepared queries run on `db` (not on its transactions) through `runner` instead of Kysely's
 * executor: the statement is compiled already, so what remains of Kysely on the way (connection
 * provider, driver, result transformation for plugins, of which the platform has none) is overhead.
 * The runner must do what Kysely's path does for the platform: observation, health, pool handling.
 */
export function runPreparedQueriesDirectly(db: Kysely<Database>, runner: DirectRunner): void {
  directRunners.set(db, runner);
}

/** SQL text of every prepared query -> the name its statement has on each connection. */
const statementNames = new Map<string, string>();

function registerStatement(sqlText: string): void {
  if (statementNames.has(sqlText)) return;
  // A name from the text itself: the same query gets the same name in every process, and two
  // texts never share one (PostgreSQL would refuse a second Parse under a name in use).
  statementNames.set(sqlText, `bc_${createHash('sha256').update(sqlText).digest('hex').slice(0, 24)}`);
}

/**
 * The prepared-statement name of a prepared query's SQL, or undefined for any other SQL text.
 * Every prepared query's text is a constant of the code, so the map stays as small as the
 * number of prepared queries.
 */
export function statementNameOf(sqlText: string): string | undefined {
  return statementNames.get(sqlText);
}
