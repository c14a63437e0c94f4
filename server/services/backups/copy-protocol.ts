import { once } from 'node:events';
import { Readable } from 'node:stream';
import type pg from 'pg';

/**
 * PostgreSQL's COPY sub-protocol over a `pg.Client`, which has no COPY API of its own but hands
 * every protocol message of the running query to the query object (its "submittable"): these
 * two classes are such objects. pg-copy-streams does the same; this is the part we need, kept
 * here rather than added as a dependency.
 */

/** pg's connection as the COPY sub-protocol uses it: methods pg has but its type declarations omit. */
interface CopyConnection extends pg.Connection {
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
}

/** The row count in a COPY command's completion tag (`COPY 123`). */
function rowsOf(message: { text?: string }): number {
  const match = /^COPY (\d+)$/.exec(message.text ?? '');
  return match ? Number(match[1]) : 0;
}

/**
 * `COPY ... TO STDOUT`: the data as a stream (whole rows, in blocks of up to 64 KiB), and the row count
 * the server reported once it is done. The socket is paused while the consumer is behind, so a
 * table larger than memory streams through.
 */
export function copyOut(client: pg.Client, text: string): { stream: Readable; rows: Promise<number> } {
  const query = new CopyOutQuery(text);
  client.query(query);
  return { stream: query, rows: query.done };
}

const BLOCK_BYTES = 64 * 1024;

class CopyOutQuery extends Readable implements pg.Submittable {
  readonly done: Promise<number>;
  private resolve!: (rows: number) => void;
  private reject!: (error: Error) => void;
  private connection: CopyConnection | null = null;
  private rows = 0;
  private paused = false;
  private block = Buffer.allocUnsafe(BLOCK_BYTES);
  private filled = 0;

  constructor(private readonly text: string) {
    super({ highWaterMark: 16 * BLOCK_BYTES });
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The stream's consumer sees the error through the stream; `done` must not also be unhandled.
    this.done.catch(() => undefined);
  }

  submit(connection: pg.Connection): void {
    this.connection = connection as CopyConnection;
    connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    if (this.destroyed) return;
    // The chunk is a view into pg-protocol's read buffer, which the next socket read overwrites:
    // it is copied at once. Rows (one message each) are gathered into blocks, so the stages
    // downstream (gzip, hashing) work on 64 KiB at a time instead of one row at a time.
    const { chunk } = message;
    if (this.filled + chunk.length > this.block.length) this.pushBlock();
    if (chunk.length > this.block.length) {
      this.pushBuffer(Buffer.from(chunk));
      return;
    }
    chunk.copy(this.block, this.filled);
    this.filled += chunk.length;
  }

  private pushBlock(): void {
    if (this.filled === 0) return;
    const full = this.block.subarray(0, this.filled);
    this.block = Buffer.allocUnsafe(BLOCK_BYTES);
    this.filled = 0;
    this.pushBuffer(full);
  }

  private pushBuffer(buffer: Buffer): void {
    // A destroyed stream refuses every push: pausing the socket for it would never be undone (no
    // consumer is left to call _read), and the replies to the statements after the COPY (the
    // rollback of a backup whose archive write failed) would never arrive.
    if (this.destroyed) return;
    if (!this.push(buffer) && !this.paused) {
      this.paused = true;
      this.connection?.stream.pause();
    }
  }

  override _read(): void {
    this.resumeSocket();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A consumer that gave up must not leave the socket paused: the rest of the data is read and
    // dropped, so the connection stays usable (or can at least be closed cleanly).
    this.resumeSocket();
    callback(error);
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rows = rowsOf(message);
  }

  handleReadyForQuery(): void {
    if (!this.destroyed) {
      this.pushBlock();
      this.push(null);
    }
    this.resumeSocket();
    this.resolve(this.rows);
  }

  handleError(error: Error): void {
    this.resumeSocket();
    this.reject(error);
    this.destroy(error);
  }

  // A statement that is not COPY TO STDOUT answers with rows or nothing: refuse it.
  handleRowDescription(): void {
    this.handleError(new Error('expected COPY ... TO STDOUT, the statement returned rows'));
  }
  handleDataRow(): void {}
  handleEmptyQuery(): void {
    this.handleError(new Error('expected COPY ... TO STDOUT, the statement was empty'));
  }

  private resumeSocket(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection?.stream.resume();
  }
}

/**
 * `COPY ... FROM STDIN`, fed from `source` with the socket's backpressure respected. Resolves with
 * the rows the server loaded. When the source fails (a corrupt gzip stream) the COPY is aborted
 * with CopyFail and the promise rejects with the source's error; when the server refuses the data
 * it rejects with the server's error, once feeding has stopped (so nothing is sent after it).
 */
export function copyIn(client: pg.Client, text: string, source: AsyncIterable<Buffer>): Promise<number> {
  const query = new CopyInQuery(text, source);
  client.query(query);
  return query.done;
}

class CopyInQuery implements pg.Submittable {
  readonly done: Promise<number>;
  private resolve!: (rows: number) => void;
  private reject!: (error: Error) => void;
  private rows = 0;
  private serverError: Error | null = null;
  private sourceError: Error | null = null;
  private pumping: Promise<void> | null = null;
  private readonly stop = new AbortController();

  constructor(
    private readonly text: string,
    private readonly source: AsyncIterable<Buffer>,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  submit(connection: pg.Connection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: pg.Connection): void {
    this.pumping = this.pump(connection as CopyConnection);
  }

  handleCommandComplete(message: { text?: string }): void {
    this.rows = rowsOf(message);
  }

  handleReadyForQuery(): void {
    this.resolve(this.rows);
  }

  handleError(error: Error): void {
    this.serverError = error;
    this.stop.abort();
    const settle = () => this.reject(this.sourceError ?? error);
    if (this.pumping) this.pumping.then(settle, settle);
    else settle();
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}

  private async pump(connection: CopyConnection): Promise<void> {
    const socket = connection.stream;
    try {
      for await (const chunk of this.source) {
        if (this.serverError) return;
        connection.sendCopyFromChunk(chunk);
        if (socket.writableNeedDrain) await once(socket, 'drain', { signal: this.stop.signal });
      }
      if (!this.serverError) connection.endCopyFrom();
    } catch (error) {
      if (this.serverError) return;
      this.sourceError = error instanceof Error ? error : new Error(String(error));
      // The server answers CopyFail with an error, which ends the query through handleError.
      connection.sendCopyFail(this.sourceError.message.slice(0, 500));
    }
  }
}
