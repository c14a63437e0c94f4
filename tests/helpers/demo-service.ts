import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../db/local-processes';
import { verifyWebhookSignature } from '../../server/base/outbound/webhook-signature';
import type { WebhookAction, WebhookCall } from '../../server/services/deployments/provider-webhook';

/**
 * The world a deployment moves, for end-to-end tests: builds of a small HTTP service running as
 * child processes (tests/fixtures/demo-service.mjs), and a traffic router in the test process that
 * the platform's webhook provider drives. The router splits a steady synthetic load between the
 * stable build and the canary by the weight it was last told, and records every call and every
 * answer with its time, so a test can say when the canary's errors began and when it was removed.
 */

const PROGRAM = fileURLToPath(new URL('../fixtures/demo-service.mjs', import.meta.url));

/** One build of the demo service, running. */
export interface DemoService {
  version: string;
  pid: number;
  port: number;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Its Prometheus text endpoint. */
  metricsUrl: string;
  /** `127.0.0.1:PORT`, as a Prometheus static target. */
  target: string;
  /** SIGTERM, then SIGKILL after a second; safe to call twice. */
  stop(): Promise<void>;
}

export interface DemoServiceOptions {
  version: string;
  /** Share of GET / answered 500, 0 to 1 (every n-th request, not at random). */
  failureRate?: number;
  /** A port chosen beforehand (so metrics sources can be pointed at it before it runs); default: any. */
  port?: number;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts a build of the demo service and resolves once it listens. */
export async function startDemoService(options: DemoServiceOptions): Promise<DemoService> {
  // Plain JavaScript: whatever runs the tests (Node, or Bun under `bun --bun vitest`) runs it.
  const child = spawn(process.execPath, [PROGRAM], {
    env: {
      PATH: process.env.PATH ?? '',
      VERSION: options.version,
      FAILURE_RATE: String(options.failureRate ?? 0),
      PORT: String(options.port ?? 0),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  const output: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));

  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`demo service ${options.version} did not start`)),
      10_000,
    );
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`demo service ${options.version} exited during start-up: ${output.join('')}`));
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => l.includes('"listening"'));
      if (!line) return;
      clearTimeout(timer);
      resolve(Number((JSON.parse(line) as { port: number }).port));
    });
  });

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 1_000);
    await exited;
    clearTimeout(killer);
  };
  return {
    version: options.version,
    pid: child.pid as number,
    port,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    target: `127.0.0.1:${port}`,
    stop,
  };
}

// --- The traffic router --------------------------------------------------------------------------------

/** One webhook call the router received. */
export interface RouterCall extends WebhookCall {
  /** When it arrived (ms since the epoch). */
  at: number;
  idempotencyKey: string;
  /** A repeat of a key already carried out: answered 200, not acted on again. */
  duplicate: boolean;
}

/** One request of the synthetic load, as its answer came back. */
export interface LoadSample {
  /** When the router sent it (ms since the epoch). */
  sentAt: number;
  /** When the answer (or the failure) came (ms since the epoch). */
  at: number;
  /** Which build the router sent it to. */
  to: 'stable' | 'canary';
  version: string;
  /** The HTTP status, or 'error' when no answer came (a build being stopped). */
  status: number | 'error';
}

export interface TrafficRouterOptions {
  /** The service this router fronts; calls for another are refused. */
  service: string;
  /** The webhook secret the deployment's provider signs with. */
  secret: string;
  stable: DemoService;
  /** The canary build the router starts on `prepare` (or the first `setWeight`): its failure share. */
  canaryFailureRate: number;
  /** The synthetic load (default 50 requests a second). */
  requestsPerSecond?: number;
}

/**
 * A load balancer with a control API, as the webhook provider expects one:
 * - `prepare` starts the canary build (the version the call names), without traffic;
 * - `setWeight` starts it if needed and sends that percentage of the load to it;
 * - `promote` sends all of the load to the canary;
 * - `rollback` sends all of it back to the stable build and stops the canary.
 * Every call must carry a valid signature (401 otherwise); a repeated Idempotency-Key is answered
 * without acting again.
 */
export class TrafficRouter {
  readonly calls: RouterCall[] = [];
  readonly samples: LoadSample[] = [];
  /** Calls refused for a bad signature. */
  refused = 0;
  /** Calls for one deployment that arrived while another for it was being handled: two drivers at once. */
  overlaps = 0;
  /** The canary's port, chosen before it runs, so analysis and Prometheus can point at it. */
  readonly canaryPort: number;
  url = '';
  private weight = 0;
  private promoted = false;
  private canary: DemoService | null = null;
  private readonly inFlightCalls = new Set<string>();
  private readonly done = new Set<string>();
  private readonly server: Server;
  private load: ReturnType<typeof setInterval> | null = null;
  private readonly inFlightLoad = new Set<Promise<void>>();
  /** Weighted round robin: exactly `weight` of every 100 requests go to the canary. */
  private credit = 0;

  private constructor(
    private readonly options: TrafficRouterOptions,
    canaryPort: number,
  ) {
    this.canaryPort = canaryPort;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
      });
    });
  }

  /** Starts the control API on 127.0.0.1 and the synthetic load (all of it to the stable build). */
  static async start(options: TrafficRouterOptions): Promise<TrafficRouter> {
    const router = new TrafficRouter(options, await freePort());
    await new Promise<void>((resolve) => router.server.listen(0, '127.0.0.1', resolve));
    router.url = `http://127.0.0.1:${(router.server.address() as AddressInfo).port}/traffic`;
    const everyMs = 1_000 / (options.requestsPerSecond ?? 50);
    router.load = setInterval(() => router.sendOne(), everyMs);
    return router;
  }

  /** The canary's Prometheus text endpoint (whether it runs yet or not). */
  get canaryMetricsUrl(): string {
    return `http://127.0.0.1:${this.canaryPort}/metrics`;
  }

  /** The canary as a Prometheus static target. */
  get canaryTarget(): string {
    return `127.0.0.1:${this.canaryPort}`;
  }

  /** Whether the canary build is running now. */
  get canaryRunning(): boolean {
    return this.canary !== null;
  }

  /** The calls for one deployment (repeats included), as `action` or `setWeight(n)`. */
  callsFor(deploymentId: string): string[] {
    return this.calls
      .filter((c) => c.deploymentId === deploymentId)
      .map((c) => (c.action === 'setWeight' ? `setWeight(${c.weight})` : c.action));
  }

  /** The first answer of the canary that was a 500: when its errors began, as a user saw them. */
  firstCanaryError(): LoadSample | undefined {
    return this.samples.find((s) => s.to === 'canary' && s.status === 500);
  }

  /** Stops the load, the control API and the canary build (the caller owns the stable one). */
  async stop(): Promise<void> {
    if (this.load) clearInterval(this.load);
    this.load = null;
    await Promise.allSettled([...this.inFlightLoad]);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.canary?.stop();
    this.canary = null;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const answer = (status: number, content: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(content));
    };
    const valid = verifyWebhookSignature({
      secret: this.options.secret,
      body,
      timestamp: header(req, 'x-platform-timestamp'),
      signature: header(req, 'x-platform-signature'),
    });
    if (req.method !== 'POST' || !valid) {
      this.refused++;
      answer(401, { error: 'bad signature' });
      return;
    }
    const call = JSON.parse(body) as WebhookCall;
    if (call.service !== this.options.service) {
      answer(400, { error: `this router fronts ${this.options.service}, not ${call.service}` });
      return;
    }
    const idempotencyKey = header(req, 'idempotency-key') ?? '';
    const duplicate = this.done.has(idempotencyKey);
    this.calls.push({ ...call, at: Date.now(), idempotencyKey, duplicate });
    if (duplicate) {
      answer(200, { ok: true, duplicate: true });
      return;
    }
    if (this.inFlightCalls.has(call.deploymentId)) this.overlaps++;
    this.inFlightCalls.add(call.deploymentId);
    try {
      await this.carryOut(call.action, call);
    } finally {
      this.inFlightCalls.delete(call.deploymentId);
    }
    this.done.add(idempotencyKey);
    answer(200, { ok: true });
  }

  private async carryOut(action: WebhookAction, call: WebhookCall): Promise<void> {
    switch (action) {
      case 'prepare':
        await this.ensureCanary(call.version);
        return;
      case 'setWeight':
        await this.ensureCanary(call.version);
        this.weight = call.weight ?? 0;
        return;
      case 'promote':
        await this.ensureCanary(call.version);
        this.promoted = true;
        this.weight = 100;
        return;
      case 'rollback':
        this.weight = 0;
        this.promoted = false;
        await this.canary?.stop();
        this.canary = null;
        return;
      case 'scale':
        throw new Error('this router runs canaries only: scale is not supported');
    }
  }

  private async ensureCanary(version: string): Promise<void> {
    if (this.canary?.version === version) return;
    await this.canary?.stop();
    this.canary = null;
    this.canary = await startDemoService({
      version,
      failureRate: this.options.canaryFailureRate,
      port: this.canaryPort,
    });
  }

  private sendOne(): void {
    const canary = this.canary;
    let toCanary = false;
    if (canary && (this.promoted || this.weight > 0)) {
      this.credit += this.promoted ? 100 : this.weight;
      if (this.credit >= 100) {
        this.credit -= 100;
        toCanary = true;
      }
    }
    const build = toCanary && canary ? canary : this.options.stable;
    const to = toCanary ? 'canary' : 'stable';
    const sentAt = Date.now();
    // Generous: a loaded CI machine must not turn a slow answer into an error of the stable build.
    const request = fetch(build.url, { signal: AbortSignal.timeout(5_000) })
      .then(async (response) => {
        await response.body?.cancel();
        this.samples.push({ sentAt, at: Date.now(), to, version: build.version, status: response.status });
      })
      .catch(() => {
        this.samples.push({ sentAt, at: Date.now(), to, version: build.version, status: 'error' });
      });
    this.inFlightLoad.add(request);
    void request.finally(() => this.inFlightLoad.delete(request));
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
