import { parseArgs } from 'node:util';

/** The traffic classes of the mix, in the order tables list them. */
export const TRAFFIC_CLASSES = ['health', 'read', 'auth', 'write'] as const;
export type TrafficClass = (typeof TRAFFIC_CLASSES)[number];

export interface Limits {
  /** p99 latency bound per class, in ms (measured from each request's due time). */
  p99Ms: Record<TrafficClass, number>;
  /** Failed requests (non-2xx, network errors, timeouts) as a share of all sent, 0..1. */
  maxErrorRate: number;
  /** Answered requests per second as a share of the target rate, 0..1. */
  minRateRatio: number;
}

export interface LoadSuiteOptions {
  rate: number;
  durationMs: number;
  warmupMs: number;
  mix: Record<TrafficClass, number>;
  /** A running platform to load instead of starting one. */
  url: string | undefined;
  runtime: 'bun' | 'node';
  /** Keep-alive connections the client may open at most (requests beyond them queue, and wait counts). */
  connections: number;
  timeoutMs: number;
  limits: Limits;
  json: boolean;
  help: boolean;
}

/**
 * Defaults for a 2-core CI machine running the suite alone, where the server, its PostgreSQL and
 * the generator each get the CPU they ask for (together well under one core at 200 req/s): p99
 * there is a few ms for health and auth and tens of ms for reads and committed writes, so these
 * bounds leave a margin of 10x or more for a noisy virtual machine. A server that stalls for a
 * fraction of a second (a blocked event loop, an exhausted pool, a lock), cannot keep up with
 * the rate (its queue, and so every latency, grows for the whole run), fails requests or loses
 * a write misses them. On a machine whose cores are busy with other work, latencies include the
 * wait for a core and may miss them too: the report then warns that launches were late.
 */
export const DEFAULT_LIMITS: Limits = {
  p99Ms: { health: 200, read: 300, auth: 200, write: 500 },
  maxErrorRate: 0.001,
  minRateRatio: 0.95,
};

export const USAGE = `Usage: node --import tsx tests/load/load.ts [options]

Mixed traffic at a fixed arrival rate (open model) against the platform; exits 1 when a
threshold is missed, 2 on a usage error.

  --rate N             requests per second to send (default 200)
  --duration D         how long to measure, e.g. 30s, 2m, 500ms (default 30s)
  --warmup D           traffic before measuring, not counted (default 3s)
  --mix LIST           class weights (default health=40,read=30,auth=20,write=10)
  --url URL            load a running platform (or LOAD_URL); credentials from LOAD_API_KEY, or
                       LOAD_ADMIN_EMAIL and LOAD_ADMIN_PASSWORD to create a key for the run
  --runtime R          bun or node, for the platform the suite starts itself (default bun)
  --connections N      keep-alive connections at most (default 64)
  --timeout D          a request unanswered this long is an error (default 10s)
  --p99 MS             p99 bound for every class (defaults: ${formatP99(DEFAULT_LIMITS.p99Ms)})
  --p99-health MS, --p99-read MS, --p99-auth MS, --p99-write MS   per class
  --max-error-rate R   failed requests allowed, e.g. 0.1% or 0.001 (default 0.1%)
  --min-rate R         answered req/s as a share of --rate, e.g. 95% (default 95%)
  --json               print the results as JSON instead of tables
  --help               this text
`;

function formatP99(p99: Record<TrafficClass, number>): string {
  return TRAFFIC_CLASSES.map((c) => `${c} ${p99[c]} ms`).join(', ');
}

/** A command line the suite cannot run: exit code 2, with the usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses the command line (and LOAD_URL); throws UsageError on anything it cannot use. */
export function parseLoadArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): LoadSuiteOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        rate: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        mix: { type: 'string' },
        url: { type: 'string' },
        runtime: { type: 'string' },
        connections: { type: 'string' },
        timeout: { type: 'string' },
        p99: { type: 'string' },
        ...Object.fromEntries(TRAFFIC_CLASSES.map((c) => [`p99-${c}`, { type: 'string' as const }])),
        'max-error-rate': { type: 'string' },
        'min-rate': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const text = (name: string) => values[name] as string | undefined;

  const all = text('p99') === undefined ? undefined : positive('--p99', text('p99')!);
  const p99Ms = { ...DEFAULT_LIMITS.p99Ms };
  for (const c of TRAFFIC_CLASSES) {
    const own = text(`p99-${c}`);
    p99Ms[c] = own !== undefined ? positive(`--p99-${c}`, own) : (all ?? p99Ms[c]);
  }
  const runtime = text('runtime') ?? 'bun';
  if (runtime !== 'bun' && runtime !== 'node') throw new UsageError('--runtime must be bun or node');
  const url = text('url') ?? (env.LOAD_URL || undefined);
  if (url !== undefined && !/^https?:\/\/[^/]+\/?$/.test(url))
    throw new UsageError(`--url must be an origin such as http://127.0.0.1:3000, got "${url}"`);

  const durationMs = positiveDuration('--duration', text('duration') ?? '30s');
  const rate = positive('--rate', text('rate') ?? '200');
  return {
    rate,
    durationMs,
    warmupMs: duration('--warmup', text('warmup') ?? '3s'),
    mix: parseMix(text('mix') ?? 'health=40,read=30,auth=20,write=10'),
    url: url?.replace(/\/$/, ''),
    runtime,
    connections: wholeNumber('--connections', text('connections') ?? '64'),
    timeoutMs: positiveDuration('--timeout', text('timeout') ?? '10s'),
    limits: {
      p99Ms,
      maxErrorRate: share('--max-error-rate', text('max-error-rate') ?? '0.1%'),
      minRateRatio: share('--min-rate', text('min-rate') ?? '95%'),
    },
    json: values.json === true,
    help: values.help === true,
  };
}

/** `health=40,read=30,...`: every class named at most once; a class left out gets no traffic. */
export function parseMix(raw: string): Record<TrafficClass, number> {
  const mix = Object.fromEntries(TRAFFIC_CLASSES.map((c) => [c, 0])) as Record<TrafficClass, number>;
  const seen = new Set<string>();
  for (const part of raw.split(',')) {
    const match = /^\s*([a-z]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!match) throw new UsageError(`--mix: expected class=weight, got "${part}"`);
    const [, name, weight] = match as unknown as [string, string, string];
    if (!(TRAFFIC_CLASSES as readonly string[]).includes(name))
      throw new UsageError(`--mix: unknown class "${name}" (classes: ${TRAFFIC_CLASSES.join(', ')})`);
    if (seen.has(name)) throw new UsageError(`--mix: "${name}" is given twice`);
    seen.add(name);
    mix[name as TrafficClass] = Number(weight);
  }
  if (Object.values(mix).every((w) => w === 0)) throw new UsageError('--mix: every weight is 0');
  return mix;
}

/** `30s`, `2m`, `500ms`, `1.5s`; a bare number is seconds. */
export function duration(flag: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!match) throw new UsageError(`${flag}: expected a duration such as 30s, 2m or 500ms, got "${raw}"`);
  const unit = match[2] ?? 's';
  return Number(match[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000);
}

function positiveDuration(flag: string, raw: string): number {
  const ms = duration(flag, raw);
  if (ms <= 0) throw new UsageError(`${flag} must be longer than 0`);
  return ms;
}

function positive(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0)
    throw new UsageError(`${flag} must be a number above 0, got "${raw}"`);
  return value;
}

function wholeNumber(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} must be a whole number >= 1`);
  return value;
}

/** `0.1%` or `0.001`: a share between 0 and 1. */
function share(flag: string, raw: string): number {
  const percent = raw.trim().endsWith('%');
  const value = Number(percent ? raw.trim().slice(0, -1) : raw);
  const result = percent ? value / 100 : value;
  if (raw.trim() === '' || !Number.isFinite(result) || result < 0 || result > 1)
    throw new UsageError(`${flag} must be a share such as 0.1% or 0.001, got "${raw}"`);
  return result;
}
