/**
 * CPU µs per tRPC request, single-call path against tRPC's fetch adapter, measured in process:
 * the whole app built the way main.ts builds it (production defaults: access log at info,
 * metrics, analytics, rate limits, secure headers), N sequential `app.fetch` calls per scenario,
 * CPU read from `process.cpuUsage()` (user + system, every thread: GC and the log writer count).
 * The two apps share their dependencies and differ only in TRPC_FAST_PATH.
 *
 *   ./node_modules/.bin/bun tests/load/trpc-dispatch-cpu.ts
 *   node --import tsx tests/load/trpc-dispatch-cpu.ts
 *
 * Not a test and not the benchmark (`npm run bench` measures throughput across processes): a
 * table of µs per request, to compare the two dispatchers on one machine.
 *
 * Environment: TRPC_CPU_REQUESTS (20000 a round), TRPC_CPU_ROUNDS (5; the median is printed),
 * DATABASE_URL (else an embedded PostgreSQL in a throwaway folder).
 */

import { createApp } from '../../server/http/app';
import type { AppDeps } from '../../server/http/deps';
import { cpuPerRequest, type Fetch, runScript, startInProcessPlatform } from './lib/in-process';

const REQUESTS = Number(process.env.TRPC_CPU_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.TRPC_CPU_ROUNDS ?? 5);
const ORIGIN = 'http://127.0.0.1';

interface Scenario {
  name: string;
  request: () => Request;
}

async function main(): Promise<void> {
  const platform = await startInProcessPlatform('trpc-dispatch-cpu');
  const { deps, key } = platform;
  try {
    const getInput = encodeURIComponent(JSON.stringify({ id: platform.keyId }));

    const scenarios: Scenario[] = [
      { name: 'system.info (anonymous)', request: () => new Request(`${ORIGIN}/api/trpc/system.info`) },
      {
        name: 'auth.me (API key)',
        request: () => new Request(`${ORIGIN}/api/trpc/auth.me`, { headers: { 'x-api-key': key } }),
      },
      {
        name: 'auth.apiKeys.get (API key, one row)',
        request: () =>
          new Request(`${ORIGIN}/api/trpc/auth.apiKeys.get?input=${getInput}`, {
            headers: { 'x-api-key': key },
          }),
      },
    ];
    const variants = [
      { name: 'fetch adapter (off)', fetch: appOf(deps, false) },
      { name: 'single-call path (on)', fetch: appOf(deps, true) },
    ];

    console.log(
      `trpc-dispatch-cpu on ${platform.runtime}: ` +
        `${REQUESTS} sequential requests a round, median of ${ROUNDS} rounds, CPU µs per request`,
    );
    for (const scenario of scenarios) {
      const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
      for (const variant of variants)
        await cpuPerRequest(variant.fetch, scenario.request, Math.min(REQUESTS, 5_000));
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate the order so that drift in the machine's speed lands on both variants.
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order)
          samples.get(variant.name)!.push(await cpuPerRequest(variant.fetch, scenario.request, REQUESTS));
      }
      const [off, on] = variants.map((v) => median(samples.get(v.name)!)) as [number, number];
      console.log(`\n${scenario.name}`);
      console.log(`  ${variants[0]!.name.padEnd(24)} ${off.toFixed(1).padStart(7)} µs`);
      console.log(
        `  ${variants[1]!.name.padEnd(24)} ${on.toFixed(1).padStart(7)} µs  (${(off - on).toFixed(1)} µs less, ${((1 - on / off) * 100).toFixed(0)}%)`,
      );
    }
  } finally {
    await platform.close();
  }
}

function appOf(deps: AppDeps, fastPath: boolean): Fetch {
  const app = createApp({ ...deps, config: { ...deps.config, TRPC_FAST_PATH: fastPath } });
  return (request) => app.fetch(request);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

runScript(main);
