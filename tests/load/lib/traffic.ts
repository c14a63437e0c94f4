import { Agent, request } from 'node:http';
import type { TrafficClass } from './load-args';

/** One kind of request of the mix. */
export interface Endpoint {
  trafficClass: TrafficClass;
  /** The route or procedure, as the report names it. */
  name: string;
  method: 'GET' | 'POST';
  path: string;
  /** Sends the run's API key. */
  authenticated: boolean;
  /** The body of the `seq`th call (writes), whose answer is then read as an acknowledgement. */
  body?: (seq: number) => string;
}

/** What the traffic of one run is tagged with, so its rows can be counted apart from any other. */
export interface RunIdentity {
  /** An annotation tag: lower-case letters, digits and `-`. */
  tag: string;
}

/** The text of write `seq`: what the count afterwards matches acknowledgements against. */
export const writeText = (run: RunIdentity, seq: number) => `load suite ${run.tag} write ${seq}`;
const WRITE_TEXT = /^load suite (\S+) write (\d+)$/;

/** The write number an annotation's text carries, if it is one of this run's writes. */
export function writeSeq(run: RunIdentity, text: string): number | undefined {
  const match = WRITE_TEXT.exec(text);
  return match && match[1] === run.tag ? Number(match[2]) : undefined;
}

const query = (procedure: string, input?: unknown) =>
  `/api/trpc/${procedure}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`;

/**
 * The mix's requests. Health: the probe (no I/O) and the full report (database check included).
 * Auth: tRPC queries through API-key verification, the path partners take. Read: list procedures
 * that query PostgreSQL. Write: an insert that commits a row (an operator annotation, with an
 * idempotency key as a careful client sends it), counted afterwards.
 */
export function endpointsOf(run: RunIdentity): Endpoint[] {
  return [
    {
      trafficClass: 'health',
      name: 'GET /api/health/lightweight',
      method: 'GET',
      path: '/api/health/lightweight',
      authenticated: false,
    },
    {
      trafficClass: 'health',
      name: 'GET /api/health',
      method: 'GET',
      path: '/api/health',
      authenticated: false,
    },
    { trafficClass: 'auth', name: 'auth.me', method: 'GET', path: query('auth.me'), authenticated: true },
    {
      trafficClass: 'auth',
      name: 'system.info',
      method: 'GET',
      path: query('system.info'),
      authenticated: true,
    },
    {
      trafficClass: 'read',
      name: 'system.annotations.list',
      method: 'GET',
      path: query('system.annotations.list', { tag: run.tag, limit: 20 }),
      authenticated: true,
    },
    {
      trafficClass: 'read',
      name: 'auth.apiKeys.list',
      method: 'GET',
      path: query('auth.apiKeys.list', { limit: 20 }),
      authenticated: true,
    },
    {
      trafficClass: 'read',
      name: 'devops.environments.list',
      method: 'GET',
      path: query('devops.environments.list'),
      authenticated: true,
    },
    {
      trafficClass: 'write',
      name: 'system.annotations.create',
      method: 'POST',
      path: '/api/trpc/system.annotations.create',
      authenticated: true,
      body: (seq) =>
        JSON.stringify({ text: writeText(run, seq), tags: [run.tag], idempotencyKey: `${run.tag}-${seq}` }),
    },
  ];
}

/** How one request ended: an HTTP status, or `timeout` / a network error code. */
export interface Outcome {
  ok: boolean;
  /** `200`, `503`, `timeout`, `ECONNRESET`... */
  result: string;
  /** The body, when it was asked for. */
  body?: string;
}

/**
 * One keep-alive HTTP/1.1 client for the whole run (node:http: no per-request connection setup,
 * and little CPU, so the generator is not what limits the rate). At most `connections` sockets:
 * requests beyond them wait in the agent's queue, and since latency is measured from the due
 * time, that wait counts as the latency it is.
 */
export class LoadClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(
    origin: string,
    private readonly options: { connections: number; timeoutMs: number; apiKey: string },
  ) {
    this.url = new URL(origin);
    // Idle sockets close after 4 s, before the server's own idle timeout could close one just as
    // it is reused (an ECONNRESET that would be the client's fault, not the server's).
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: options.connections,
      maxFreeSockets: options.connections,
      scheduling: 'lifo',
      timeout: 4_000,
    });
  }

  send(endpoint: Endpoint, seq: number, wantBody: boolean): Promise<Outcome> {
    const payload = endpoint.body?.(seq);
    const headers: Record<string, string> = {};
    if (endpoint.authenticated) headers.authorization = `Bearer ${this.options.apiKey}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const req = request(
        {
          host: this.url.hostname,
          port: this.url.port || 80,
          method: endpoint.method,
          path: endpoint.path,
          headers,
          agent: this.agent,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          const chunks: Buffer[] = [];
          if (wantBody) res.on('data', (chunk: Buffer) => chunks.push(chunk));
          else res.resume();
          res.on('end', () =>
            finish({
              ok,
              result: String(status),
              ...(wantBody ? { body: Buffer.concat(chunks).toString('utf8') } : {}),
            }),
          );
          res.on('error', (error: NodeJS.ErrnoException) =>
            finish({ ok: false, result: error.code ?? 'ERROR' }),
          );
        },
      );
      const timer = setTimeout(() => {
        finish({ ok: false, result: 'timeout' });
        req.destroy();
      }, this.options.timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => finish({ ok: false, result: error.code ?? 'ERROR' }));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
