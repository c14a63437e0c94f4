/**
 * `npm run load`: mixed traffic (health probes, API-key-authenticated queries, database reads
 * and writes) at a fixed arrival rate against the platform, judged against thresholds.
 *
 * Open model: requests are launched on a fixed schedule whether or not earlier ones have been
 * answered, and latency runs from each request's due time, so a server that falls behind shows
 * its queue in the percentiles instead of slowing the generator down (coordinated omission).
 * Afterwards every acknowledged write is looked for through the API: none may be lost.
 *
 * Without --url it starts the platform itself (Bun, NODE_ENV=production, an embedded PostgreSQL
 * in a temporary DATA_DIR). Exit codes: 0 every threshold met, 1 a threshold missed or the run
 * failed, 2 a usage error. Options: `--help`.
 */

import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { processCpuSeconds } from './lib/cpu';
import { parseLoadArgs, USAGE, UsageError } from './lib/load-args';
import { formatReport } from './lib/load-report';
import { runMix } from './lib/mix-runner';
import {
  LOAD_ADMIN,
  prepareApiKey,
  type StartedPlatform,
  startPlatform,
  storedWrites,
} from './lib/platform-setup';
import { Processes } from './lib/processes';
import { endpointsOf, LoadClient } from './lib/traffic';

async function main(): Promise<number> {
  let options: ReturnType<typeof parseLoadArgs>;
  try {
    options = parseLoadArgs(process.argv.slice(2));
    if (
      options.url &&
      !process.env.LOAD_API_KEY &&
      !(process.env.LOAD_ADMIN_EMAIL && process.env.LOAD_ADMIN_PASSWORD)
    )
      throw new UsageError('--url needs LOAD_API_KEY, or LOAD_ADMIN_EMAIL and LOAD_ADMIN_PASSWORD');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`load: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const progress = (line: string) => console.error(`[load] ${line}`);

  const processes = new Processes();
  let dataDir: string | undefined;
  let platform: StartedPlatform | undefined;
  let release: (() => Promise<void>) | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      await release?.().catch((error) => progress(`could not revoke the run's API key: ${error}`));
      await processes.stopAll();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  // Nothing the suite started may outlive it, even when it dies without running cleanup.
  process.on('exit', () => {
    processes.killAllNow();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  for (const [name, number] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
  ] as const) {
    process.once(name, () => {
      progress(`${name}: stopping`);
      void cleanup().finally(() => process.exit(128 + number));
    });
  }

  try {
    let origin = options.url;
    let credentials = {
      apiKey: process.env.LOAD_API_KEY,
      email: process.env.LOAD_ADMIN_EMAIL,
      password: process.env.LOAD_ADMIN_PASSWORD,
    };
    if (!origin) {
      // Under /tmp and world-readable: as root, the embedded PostgreSQL runs as the postgres user.
      dataDir = await mkdtemp('/tmp/bc-load-');
      await chmod(dataDir, 0o755);
      progress(`starting the platform on ${options.runtime} with an embedded PostgreSQL in ${dataDir}`);
      platform = await startPlatform(processes, { dataDir, runtime: options.runtime });
      origin = platform.origin;
      credentials = { apiKey: undefined, ...LOAD_ADMIN };
    }
    const run = { tag: `load-${randomBytes(5).toString('hex')}` };
    const key = await prepareApiKey(origin, credentials, run.tag);
    release = key.release;
    const client = new LoadClient(origin, {
      connections: options.connections,
      timeoutMs: options.timeoutMs,
      apiKey: key.key,
    });
    const endpoints = endpointsOf(run);
    progress(
      `${options.rate} req/s for ${options.durationMs / 1000} s after ${options.warmupMs / 1000} s warm-up, tag ${run.tag}`,
    );
    const loadAverageBefore = loadavg()[0] ?? 0;
    const serverCpuBefore = platform ? processCpuSeconds(platform.pid) : 0;
    const result = await runMix({
      client,
      endpoints,
      rate: options.rate,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      weights: options.mix,
    });
    const serverCpuShare = platform
      ? (processCpuSeconds(platform.pid) - serverCpuBefore) / (result.wallMs / 1000)
      : undefined;
    client.close();

    const writes =
      options.mix.write > 0 ? result.checkWrites(await storedWrites(origin, key.key, run)) : undefined;
    const report = result.report({
      target: platform
        ? `${origin} (platform started by the suite: ${options.runtime}, NODE_ENV=production, embedded PostgreSQL)`
        : origin,
      tag: run.tag,
      options,
      writes,
      serverCpuShare,
      machine: { cores: cpus().length, loadAverageBefore, loadAverageAfter: loadavg()[0] ?? 0 },
    });
    console.log(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.pass ? 0 : 1;
  } catch (error) {
    progress(`failed: ${error instanceof Error ? error.message : String(error)}`);
    if (platform) {
      const tail = (await readFile(platform.logFile, 'utf8').catch(() => ''))
        .trimEnd()
        .split('\n')
        .slice(-15);
      progress(`last lines of the platform's log:\n${tail.join('\n')}`);
    }
    return 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`load: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
