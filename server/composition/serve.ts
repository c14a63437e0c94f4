export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface RunningServer {
  /** The port actually bound (useful with PORT=0). */
  port: number;
  /** Stops accepting connections; requests already received are answered. */
  close(): Promise<void>;
}

interface BunServer {
  port: number;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
declare const Bun:
  | {
      serve(options: {
        fetch: FetchHandler;
        hostname: string;
        port: number;
        maxRequestBodySize?: number;
        idleTimeout?: number;
      }): BunServer;
    }
  | undefined;

/** Serves `fetch` on Bun's native server when running on Bun, else on Node's http through @hono/node-server. */
export async function serve(
  fetch: FetchHandler,
  { host, port, maxBodyBytes }: { host: string; port: number; maxBodyBytes: number },
): Promise<RunningServer> {
  if (typeof Bun !== 'undefined') {
    // Bun's idle timeout is in seconds (max 255); long-polling clients are not expected.
    const server = Bun.serve({
      fetch,
      hostname: host,
      port,
      maxRequestBodySize: maxBodyBytes * 2,
      idleTimeout: 30,
    });
    return {
      port: server.port,
      async close() {
        // false: stop listening but let active requests finish.
        await server.stop(false);
      },
    };
  }
  const { serve: nodeServe } = await import('@hono/node-server');
  return new Promise((resolve, reject) => {
    const server = nodeServe({ fetch, hostname: host, port }, (info) => {
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            // Node's close() stops listening, closes idle keep-alive sockets, and waits for
            // sockets with a request in flight; their responses still go out. But a socket busy
            // when close() ran stays open after its response (keep-alive) until the client or
            // keepAliveTimeout ends it, so close() did not resolve and shutdown sat out its 1 s
            // bound on every drain with requests in flight. Close such sockets as they go idle.
            const http = server as { closeIdleConnections?: () => void };
            const sweep = setInterval(() => http.closeIdleConnections?.(), 25);
            server.close(() => {
              clearInterval(sweep);
              done();
            });
          }),
      });
    });
    server.once('error', reject);
  });
}
