import { AsyncLocalStorage } from 'node:async_hooks';
import type { PlatformDatabase } from '../../../db/connect';

/**
 * What lives for one request at the edge: its database connections. workerd ties a socket to the
 * request that opened it (a pool kept across requests hangs on the second one), so each request
 * opens its own on first use and closes them when its response is done.
 */
export class RequestScope {
  private database: PlatformDatabase | undefined;
  private closing = false;

  /**
   * `openDatabase` is given a way to ask whether the scope is closing: pg's Workers socket reports
   * its own closing as an error ("Stream was cancelled"), which is then no news.
   */
  constructor(private readonly openDatabase: (isClosing: () => boolean) => PlatformDatabase) {}

  /** The request's database, opened on first use: most edge requests never reach it. */
  get db(): PlatformDatabase {
    this.database ??= this.openDatabase(() => this.closing);
    return this.database;
  }

  /** Closes the request's connections once the queries under way have finished. */
  async close(): Promise<void> {
    this.closing = true;
    await this.database?.close();
  }
}

const current = new AsyncLocalStorage<RequestScope>();

/**
 * Runs `work` (the app answering one request) with `scope` as the request's scope. The app itself
 * is built once per isolate; only what `currentScope()` returns changes from request to request.
 */
export function runInScope<T>(scope: RequestScope, work: () => T): T {
  return current.run(scope, work);
}

/** The scope of the request being served; throws outside one (a bug: nothing else may use it). */
export function currentScope(): RequestScope {
  const scope = current.getStore();
  if (!scope) throw new Error('the database is per request at the edge, and no request is being served');
  return scope;
}
