import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Processes } from './processes';

export type LoadGenerator = 'wrk' | 'autocannon';

export interface LoadOptions {
  seconds: number;
  connections: number;
  /** The core the load generator is pinned to. */
  cpu: number;
  /** Request headers, e.g. the API key of an authenticated scenario. */
  headers?: Record<string, string>;
}

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connect, read, write and timeout errors plus responses with a 4xx or 5xx status. */
  errors: number;
}

const WRK = '/usr/bin/wrk';
const AUTOCANNON = fileURLToPath(new URL('../../../node_modules/autocannon/autocannon.js', import.meta.url));
const WRK_SCRIPT = fileURLToPath(new URL('./wrk-report.lua', import.meta.url));

/**
 * wrk when installed: written in C, one thread of it saturates a one-core server with room to
 * spare. autocannon runs on Node and may itself be the bottleneck, which compresses ratios.
 * BENCH_LOADGEN=autocannon forces the fallback.
 */
export function pickLoadGenerator(env: NodeJS.ProcessEnv = process.env): LoadGenerator {
  if (env.BENCH_LOADGEN === 'autocannon') return 'autocannon';
  if (env.BENCH_LOADGEN === 'wrk' && !existsSync(WRK))
    throw new Error(`BENCH_LOADGEN=wrk but ${WRK} is absent`);
  return existsSync(WRK) ? 'wrk' : 'autocannon';
}

export async function loadGeneratorVersion(processes: Processes, generator: LoadGenerator): Promise<string> {
  const { output } =
    generator === 'wrk'
      ? await processes.run({ name: 'wrk -v', command: WRK, args: ['-v'] })
      : await processes.run({
          name: 'autocannon -v',
          command: process.execPath,
          args: [AUTOCANNON, '--version'],
        });
  return (
    output
      .split('\n')[0]
      ?.replace(/\s+Copyright.*$/, '')
      .trim() ?? generator
  );
}

/** Loads `url` with keep-alive GETs for `seconds` and reports throughput and latency. */
export function runLoad(
  processes: Processes,
  generator: LoadGenerator,
  url: string,
  options: LoadOptions,
): Promise<LoadResult> {
  return generator === 'wrk' ? runWrk(processes, url, options) : runAutocannon(processes, url, options);
}

async function runWrk(processes: Processes, url: string, options: LoadOptions): Promise<LoadResult> {
  // One thread: the generator has one core, more threads would only contend for it.
  const args = ['-c', String(options.cpu), WRK, '-t1', `-c${options.connections}`, `-d${options.seconds}s`];
  const { code, output } = await processes.run({
    name: 'wrk',
    command: 'taskset',
    args: [...args, ...headerArgs(options.headers, (n, v) => ['-H', `${n}: ${v}`]), '-s', WRK_SCRIPT, url],
  });
  const line = output.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}):\n${output}`);
  const r = JSON.parse(line.slice('BENCH_RESULT '.length)) as {
    requests: number;
    durationUs: number;
    p50Us: number;
    p99Us: number;
    socketErrors: number;
    badStatus: number;
  };
  return {
    requests: r.requests,
    durationSeconds: r.durationUs / 1e6,
    requestsPerSecond: r.requests / (r.durationUs / 1e6),
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
    errors: r.socketErrors + r.badStatus,
  };
}

async function runAutocannon(processes: Processes, url: string, options: LoadOptions): Promise<LoadResult> {
  const { code, output } = await processes.run({
    name: 'autocannon',
    command: 'taskset',
    args: [
      '-c',
      String(options.cpu),
      process.execPath,
      AUTOCANNON,
      '-j',
      '-n',
      '-c',
      String(options.connections),
      '-d',
      String(options.seconds),
      ...headerArgs(options.headers, (n, v) => ['-H', `${n}=${v}`]),
      url,
    ],
  });
  const json = output.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !json) throw new Error(`autocannon failed (exit ${code}):\n${output}`);
  const r = JSON.parse(json) as {
    duration: number;
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  return {
    requests: r.requests.total,
    durationSeconds: r.duration,
    requestsPerSecond: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}

function headerArgs(
  headers: Record<string, string> | undefined,
  spell: (name: string, value: string) => string[],
): string[] {
  return Object.entries(headers ?? {}).flatMap(([name, value]) => spell(name, value));
}
