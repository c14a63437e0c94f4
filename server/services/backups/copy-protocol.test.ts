import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { copyOut } from './copy-protocol';

/**
 * pg's side of a COPY TO STDOUT, played by hand: the query object gets the protocol messages a
 * pg.Client would hand it, and the socket records whether it is paused.
 */
function fakeClient() {
  const socket = {
    paused: false,
    pause() {
      socket.paused = true;
    },
    resume() {
      socket.paused = false;
    },
  };
  let query: (pg.Submittable & Record<string, (...args: unknown[]) => void>) | null = null;
  const client = {
    query(submitted: typeof query) {
      query = submitted;
      submitted!.submit({ query: () => undefined, stream: socket } as unknown as pg.Connection);
    },
  } as unknown as pg.Client;
  const server = {
    rows(count: number, bytes = 1_000) {
      for (let i = 0; i < count; i++) query!.handleCopyData!({ chunk: Buffer.alloc(bytes, 0x61) });
    },
    finish(count: number) {
      query!.handleCommandComplete!({ text: `COPY ${count}` });
      query!.handleReadyForQuery!();
    },
  };
  return { client, socket, server };
}

describe('copyOut', () => {
  it('leaves the socket flowing when the consumer gave up mid-stream (a failed archive write)', async () => {
    const { client, socket, server } = fakeClient();
    const { stream, rows } = copyOut(client, 'copy t to stdout');
    stream.on('error', () => undefined);
    // Nobody reads: the stream fills up and the socket is paused, as with a slow disk.
    server.rows(2_000);
    expect(socket.paused).toBe(true);
    stream.destroy(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    expect(socket.paused).toBe(false);
    // The rest of the table still arrives, then the end: nothing may pause the socket again,
    // or the reply to the rollback that follows would never be read.
    server.rows(2_000);
    server.finish(4_000);
    expect(socket.paused).toBe(false);
    await expect(rows).resolves.toBe(4_000);
  });

  it('resumes the socket when the query ends with the consumer still behind', async () => {
    const { client, socket, server } = fakeClient();
    const { stream, rows } = copyOut(client, 'copy t to stdout');
    server.rows(1_100);
    server.finish(1_100);
    // The statement after the COPY must be answered even before the last blocks are read.
    expect(socket.paused).toBe(false);
    await expect(rows).resolves.toBe(1_100);
    let bytes = 0;
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    expect(bytes).toBe(1_100 * 1_000);
  });
});
