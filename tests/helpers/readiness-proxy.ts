import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small round-robin reverse proxy in front of server instances, behaving like a Kubernetes
 * Service with readiness gates (or a load balancer with active health checks): an instance
 * receives requests only while its `GET /api/health/ready` answers 200, polled every `pollMs`.
 *
 * It is kept as honest as a real proxy. It retries a request on another instance in one case
 * only: the connection was refused (ECONNREFUSED), so not a byte of the request reached the
 * instance and sending it elsewhere cannot apply it twice. This is what nginx's
 * `proxy_next_upstream error` and Envoy's `connect-failure` retry policy do. Any other failure
 * (a reset, a timeout, a connection closed mid-response) reaches the client as a failure, and is
 * counted. With no instance in rotation it answers 503 at once, as a real proxy would.
 *
 * Like a Kubernetes readiness probe (failureThreshold), one slow or failed probe does not take an
 * instance out: `failureThreshold` consecutive ones do. A 503 or a refused connection is a
 * definite answer and takes it out at once; the threshold is for probes that timed out.
 */
export interface ProxyStats {
  /** Requests received from clients. */
  received: number;
  /** Requests sent again to another instance after a refused connection. */
  retriedAfterRefused: number;
  /** Requests answered by the proxy itself with 502 (upstream failed) or 503 (no instance ready). */
  failedUpstream: number;
  noInstanceReady: number;
  /** Readiness probes that did not answer 200, by what they got ("503", "timeout", "ECONNREFUSED"). */
  probeFailures: Record<string, number>;
}

interface Instance {
  id: string;
  port: number;
  inRotation: boolean;
  /** Consecutive probes that timed out. */
  timeouts: number;
  /** Keep-alive connections to the instance, as proxies keep upstream connections open. */
  agent: Agent;
  polling: boolean;
  poller: Promise<void>;
}

export interface ReadinessProxy {
  url: string;
  stats: ProxyStats;
  /** Starts polling an instance's readiness; it takes traffic once ready. */
  add(id: string, port: number): void;
  /** Stops sending to an instance and stops polling it. */
  remove(id: string): Promise<void>;
  /** Whether the proxy currently routes to the instance. */
  inRotation(id: string): boolean;
  close(): Promise<void>;
}

/** Starts the proxy on a free port of 127.0.0.1. */
export async function startReadinessProxy({
  pollMs = 50,
  probeTimeoutMs = 250,
  failureThreshold = 2,
}: {
  pollMs?: number;
  probeTimeoutMs?: number;
  failureThreshold?: number;
} = {}): Promise<ReadinessProxy> {
  const instances = new Map<string, Instance>();
  const stats: ProxyStats = {
    received: 0,
    retriedAfterRefused: 0,
    failedUpstream: 0,
    noInstanceReady: 0,
    probeFailures: {},
  };
  let next = 0;

  function pick(exclude: Set<string>): Instance | undefined {
    const ready = [...instances.values()].filter((i) => i.inRotation && !exclude.has(i.id));
    if (ready.length === 0) return undefined;
    next = (next + 1) % ready.length;
    return ready[next];
  }

  async function poll(instance: Instance): Promise<void> {
    while (instance.polling) {
      const answer = await probe(instance.port, probeTimeoutMs);
      if (answer !== '200') stats.probeFailures[answer] = (stats.probeFailures[answer] ?? 0) + 1;
      instance.timeouts = answer === 'timeout' ? instance.timeouts + 1 : 0;
      if (answer === '200') instance.inRotation = true;
      else if (answer !== 'timeout' || instance.timeouts >= failureThreshold) instance.inRotation = false;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.received++;
    // Bodies here are small JSON; buffered so that a refused attempt can be sent again unchanged.
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const tried = new Set<string>();
    for (;;) {
      const instance = pick(tried);
      if (!instance) {
        stats.noInstanceReady++;
        reply(res, 503, 'NO_INSTANCE_READY', 'no instance is ready');
        return;
      }
      tried.add(instance.id);
      const outcome = await forward(instance, req, body, res);
      if (outcome === 'refused') {
        // Nothing reached it: take it out until its readiness says otherwise, and try another.
        instance.inRotation = false;
        stats.retriedAfterRefused++;
        continue;
      }
      if (outcome === 'failed') stats.failedUpstream++;
      return;
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    add(id, instancePort) {
      const instance: Instance = {
        id,
        port: instancePort,
        inRotation: false,
        timeouts: 0,
        agent: new Agent({ keepAlive: true }),
        polling: true,
        poller: Promise.resolve(),
      };
      instance.poller = poll(instance);
      instances.set(id, instance);
    },
    async remove(id) {
      const instance = instances.get(id);
      if (!instance) return;
      instances.delete(id);
      instance.inRotation = false;
      instance.polling = false;
      await instance.poller;
      instance.agent.destroy();
    },
    inRotation: (id) => instances.get(id)?.inRotation ?? false,
    async close() {
      for (const id of [...instances.keys()]) {
        const instance = instances.get(id)!;
        instances.delete(id);
        instance.polling = false;
        await instance.poller;
        instance.agent.destroy();
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/**
 * Sends one request to an instance and streams its answer back. 'refused' when the connection
 * was refused before anything was sent (the caller may try elsewhere); 'failed' when it broke
 * later (the client got a 502, or a cut-off response).
 */
function forward(
  instance: Instance,
  req: IncomingMessage,
  body: Buffer,
  res: ServerResponse,
): Promise<'ok' | 'refused' | 'failed'> {
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers['content-length'] = String(body.length);
    let responded = false;
    const upstream = request(
      {
        host: '127.0.0.1',
        port: instance.port,
        method: req.method,
        path: req.url,
        headers,
        agent: instance.agent,
        timeout: 15_000,
      },
      (answer) => {
        responded = true;
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
        answer.on('end', () => resolve('ok'));
        answer.on('error', () => {
          res.destroy();
          resolve('failed');
        });
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (responded) {
        res.destroy();
        resolve('failed');
      } else if (error.code === 'ECONNREFUSED') {
        resolve('refused');
      } else {
        reply(res, 502, 'BAD_GATEWAY', `upstream ${instance.id} failed: ${error.code ?? error.message}`);
        resolve('failed');
      }
    });
    upstream.end(body);
  });
}

function reply(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code, message, requestId: null } }));
}

/**
 * One readiness probe on a fresh connection (probes never share the traffic's pooled sockets):
 * the status as a string, 'timeout', or the connection error's code.
 */
function probe(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    let timedOut = false;
    const req = request(
      { host: '127.0.0.1', port, path: '/api/health/ready', agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        resolve(String(res.statusCode));
      },
    );
    req.on('timeout', () => {
      timedOut = true;
      req.destroy();
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve(timedOut ? 'timeout' : (error.code ?? 'error')),
    );
    req.end();
  });
}
