/**
 * `npm run bench`: the platform against the stacks a user would assemble instead, side by side,
 * on one machine, on Bun and on Node. docs/benchmarks.md says what each scenario is and keeps
 * every run's table (this program adds the newest at the top).
 *
 * Each server is pinned to core 0 and the load generator to core 1, so the server under test
 * never competes with the load for CPU. Rounds interleave baseline and platform (alternating
 * which goes first) so drift in the machine's speed lands on both sides of each ratio. The Bun
 * servers run first and are stopped before the Node ones start, so no idle server of the other
 * runtime (or its PostgreSQL) sits on the measured core. It prints a table and exits 0 whether or
 * not targets are met: a measurement, not a test.
 *
 * Environment: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (2),
 * BENCH_CONNECTIONS (64), BENCH_LOADGEN (wrk | autocannon), BENCH_RUNTIMES (bun,node),
 * BENCH_DOCS (1: add the table to docs/benchmarks.md; 0: only .bench/results.md), and
 * BENCH_PLATFORM_ENV, settings for the platform only, e.g. "LOG_LEVEL=warn METRICS_DEFAULTS=false",
 * to measure their cost.
 */

import { rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processCpuSeconds } from './lib/cpu';
import { loadGeneratorVersion, pickLoadGenerator, runLoad } from './lib/load';
import { Processes } from './lib/processes';
import { formatRun, formatTable, formatVerdict, type Measurement, type ScenarioResult } from './lib/report';
import {
  type BaselineName,
  BUN,
  platformDatabaseUrl,
  productionNodeFlags,
  type RunningTarget,
  type Runtime,
  startBaseline,
  startPlatform,
} from './lib/servers';

const SERVER_CPU = 0;
const BENCH_ADMIN = { email: 'bench@platform.test', password: 'bench-admin-password-0123' };
const LOAD_CPU = 1;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = join(ROOT, 'docs/benchmarks.md');
/** docs/benchmarks.md: the bench inserts each run's section right under this line. */
const RESULTS_MARKER = '<!-- npm run bench inserts each run here, newest first -->';

/** What the bench provisions on a platform before measuring. */
interface Fixture {
  /** The API key the authenticated scenarios send. */
  apiKey: string;
  /** That key's id and organization: the row the read-by-primary-key scenario reads. */
  apiKeyId: string;
  organizationId: string;
}

interface Scenario {
  scenario: string;
  path: string;
  /** The tRPC input, sent as `?input=` (a GET query), from what the bench provisioned. */
  input?: (fixture: Fixture) => unknown;
  baseline: BaselineName;
  /** DESIGN.md's target; none for a reference row. */
  targetRatio?: number;
  /** The platform's p99 may be at most this many times its p50. */
  maxP99OverP50?: number;
  /** Sends the platform's API key (the baseline has no auth and ignores it). */
  apiKey?: boolean;
  /**
   * Both sides read the same data, so their bodies must be equal, except for these fields of
   * `result.data` (each with the reason it legitimately differs). Without it, bodies need only
   * be of about the same size (the baselines make up values of the same shape).
   */
  sameBodyExcept?: string[];
}

const LIGHTWEIGHT = { scenario: 'GET /api/health/lightweight', path: '/api/health/lightweight' };
const SYSTEM_INFO = { scenario: 'tRPC system.info', path: '/api/trpc/system.info' };
const AUTH_ME = { scenario: 'tRPC auth.me (API key)', path: '/api/trpc/auth.me', apiKey: true };

/** The design's targets (DESIGN.md, "Performance targets"), by runtime. */
const SCENARIOS: Record<Runtime, Scenario[]> = {
  bun: [
    { ...LIGHTWEIGHT, baseline: 'bare-hono', targetRatio: 0.9 },
    // Public, no database: the anonymous path (per-address rate limit, no credential).
    { ...SYSTEM_INFO, baseline: 'bare-hono-trpc', targetRatio: 0.75 },
    // The target of DESIGN.md: an API-key-authenticated query through the whole production stack
    // (credential, key verification with its cache, scope and role policy, metrics, access log).
    { ...AUTH_ME, baseline: 'bare-hono-trpc', targetRatio: 0.75 },
    // One row by primary key, through the same stack and Kysely, against a hand-written route
    // sending the same SQL through `pg` to the same database. The platform's work is the same
    // API-key path as auth.me plus one statement (ApiKeyService.get, findApiKeyInOrganization):
    //   select * from "api_keys" where "id" = $1 and "organization_id" = $2
    // `id` is the primary key; the organization is the caller's (tenancy), a filter on that row.
    {
      scenario: 'tRPC auth.apiKeys.get (API key)',
      path: '/api/trpc/auth.apiKeys.get',
      input: (fixture) => ({ id: fixture.apiKeyId }),
      baseline: 'bare-hono-pg',
      targetRatio: 0.8,
      apiKey: true,
      // The platform overlays on last_used_at the uses of the key this instance has not written
      // yet (the bench's own calls, flushed every 5 s); the baseline answers the column as stored.
      sameBodyExcept: ['lastUsedAt'],
    },
    // Reference: beside the stack a user would assemble from the Hono ecosystem (no target on Bun).
    { ...SYSTEM_INFO, baseline: 'hono-ecosystem' },
  ],
  // DESIGN.md: on Node, at least the req/s of the Hono ecosystem stack on Node, p99 <= 3x p50.
  node: [
    { ...LIGHTWEIGHT, baseline: 'hono-ecosystem', targetRatio: 1, maxP99OverP50: 3 },
    { ...SYSTEM_INFO, baseline: 'hono-ecosystem', targetRatio: 1, maxP99OverP50: 3 },
    { ...AUTH_ME, baseline: 'hono-ecosystem', targetRatio: 1, maxP99OverP50: 3 },
  ],
};

const urlOf = (scenario: Scenario, fixture: Fixture) =>
  scenario.input
    ? `${scenario.path}?input=${encodeURIComponent(JSON.stringify(scenario.input(fixture)))}`
    : scenario.path;

/**
 * Signs in as the bench's admin and creates the API key the authenticated scenarios send, the way
 * a user would: through auth.login and auth.apiKeys.create; auth.me with the key names its
 * organization.
 */
async function provisionApiKey(origin: string): Promise<Fixture> {
  const post = async (procedure: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${origin}/api/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as { result?: { data?: Record<string, unknown> } };
    if (!json.result?.data)
      throw new Error(`${procedure} failed: ${response.status} ${JSON.stringify(json)}`);
    return json.result.data;
  };
  const { accessToken } = await post('auth.login', BENCH_ADMIN);
  const { key, apiKey } = await post(
    'auth.apiKeys.create',
    { name: 'bench', scopes: ['auth:read'] },
    { authorization: `Bearer ${accessToken}` },
  );
  const response = await fetch(`${origin}/api/trpc/auth.me`, { headers: { authorization: `Bearer ${key}` } });
  const me = (await response.json()) as { result?: { data?: { organizationId?: string } } };
  const organizationId = me.result?.data?.organizationId;
  if (!organizationId) throw new Error(`auth.me failed: ${response.status} ${JSON.stringify(me)}`);
  return { apiKey: String(key), apiKeyId: String((apiKey as { id: string }).id), organizationId };
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number`);
  return value;
}

function platformOverrides(): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const pair of (process.env.BENCH_PLATFORM_ENV ?? '').split(/\s+/).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`BENCH_PLATFORM_ENV: expected KEY=VALUE, got "${pair}"`);
    overrides[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return overrides;
}

/** A tRPC body without the named fields of `result.data`, for comparing the rest exactly. */
function withoutFields(body: string, fields: string[]): string {
  const json = JSON.parse(body) as { result?: { data?: Record<string, unknown> } };
  const data = json.result?.data;
  if (data) for (const field of fields) delete data[field];
  return JSON.stringify(json);
}

/**
 * Both sides must answer the same thing, or the ratio compares different work: same status
 * (200), same content type, bodies of about the same size, or equal bodies but for the listed
 * fields when both read the same data (`sameBodyExcept`).
 */
async function checkEquivalent(
  scenario: Scenario,
  url: string,
  baseline: RunningTarget,
  platform: RunningTarget,
  headers: Record<string, string>,
) {
  const [a, b] = await Promise.all(
    [baseline, platform].map(async (target) => {
      const response = await fetch(`${target.origin}${url}`, { headers });
      const body = await response.text();
      return {
        status: response.status,
        type: response.headers.get('content-type'),
        length: body.length,
        body,
      };
    }),
  );
  const except = scenario.sameBodyExcept;
  const same =
    a!.status === 200 &&
    b!.status === 200 &&
    a!.type === b!.type &&
    Math.abs(a!.length - b!.length) <= a!.length * 0.1 &&
    (except === undefined || withoutFields(a!.body, except) === withoutFields(b!.body, except));
  if (!same) {
    throw new Error(
      `${scenario.scenario}: baseline and platform answer differently: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`,
    );
  }
}

function selectedRuntimes(): Runtime[] {
  const raw = (process.env.BENCH_RUNTIMES ?? 'bun,node').split(',').map((r) => r.trim());
  const runtimes = raw.filter(Boolean) as Runtime[];
  for (const runtime of runtimes) {
    if (runtime !== 'bun' && runtime !== 'node')
      throw new Error(`BENCH_RUNTIMES: expected bun and/or node, got "${runtime}"`);
  }
  if (runtimes.length === 0) throw new Error('BENCH_RUNTIMES names no runtime');
  return runtimes;
}

/** Adds a run's section to docs/benchmarks.md under RESULTS_MARKER (newest first, older kept). */
async function recordInDocs(section: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(DOCS, 'utf8');
  } catch {
    text = `# Benchmarks\n\n${RESULTS_MARKER}\n`;
  }
  const at = text.indexOf(RESULTS_MARKER);
  text =
    at < 0
      ? `${text.trimEnd()}\n\n${RESULTS_MARKER}\n\n${section}\n`
      : `${text.slice(0, at + RESULTS_MARKER.length)}\n\n${section}\n${text.slice(at + RESULTS_MARKER.length).replace(/^\n*/, '\n')}`;
  await writeFile(DOCS, `${text.trimEnd()}\n`);
}

/** One runtime's servers, started together and stopped before the next runtime's start. */
interface Phase {
  runtime: Runtime;
  platform: RunningTarget;
  baselines: Partial<Record<BaselineName, RunningTarget>>;
  fixture: Fixture;
}

async function main(): Promise<void> {
  const rounds = positiveInt('BENCH_ROUNDS', 3);
  const seconds = positiveInt('BENCH_SECONDS', 5);
  const warmupSeconds = positiveInt('BENCH_WARMUP_SECONDS', 2);
  const connections = positiveInt('BENCH_CONNECTIONS', 64);
  const runtimes = selectedRuntimes();
  const toDocs = process.env.BENCH_DOCS !== '0';
  const overrides = platformOverrides();
  const generator = pickLoadGenerator();
  if (cpus().length < 2) throw new Error('the bench needs two cores: one for the server, one for the load');

  const processes = new Processes();
  // Under /tmp and world-readable: the embedded PostgreSQL runs as the postgres user.
  const dir = await mkdtemp('/tmp/bc-bench-');
  await chmod(dir, 0o755);
  const targets: RunningTarget[] = [];
  const startedAt = Date.now();

  let interrupted = false;
  let cleaning: Promise<void> | undefined;
  const stopTargets = async () => {
    // Newest first: bare-hono-pg reads the platform's PostgreSQL.
    while (targets.length > 0) await targets.pop()!.stop();
  };
  const cleanup = () => {
    cleaning ??= (async () => {
      // Newest first: the load generator stops before the server it loads.
      await processes.stopAll();
      await stopTargets();
      await rm(dir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  // Last resort if the bench dies without running cleanup: nothing it started may outlive it.
  process.on('exit', () => {
    processes.killAllNow();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const [name, number] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const) {
    process.once(name, () => {
      interrupted = true;
      console.error(`\n${name}: stopping every server the bench started`);
      void cleanup().finally(() => process.exit(128 + number));
    });
  }

  try {
    const commit =
      (
        await processes.run({
          name: 'git',
          command: 'git',
          args: ['rev-parse', '--short=12', 'HEAD'],
          cwd: ROOT,
        })
      ).output.trim() || 'unknown';
    const dirty = (
      await processes.run({
        name: 'git',
        command: 'git',
        args: ['status', '--porcelain', '--untracked-files=no'],
        cwd: ROOT,
      })
    ).output.trim();
    const bunVersion = (
      await processes.run({ name: 'bun', command: BUN, args: ['--version'] })
    ).output.trim();
    const header = [
      `CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores; Linux ${release()}; load average ${loadavg()[0]?.toFixed(2)} at start`,
      `Runtimes: ${runtimes.map((r) => (r === 'bun' ? `Bun ${bunVersion}` : `Node ${process.versions.node} (platform: node ${[...productionNodeFlags(), '--import tsx'].join(' ')}, as npm run start:node)`)).join(', ')} (servers, pinned to core ${SERVER_CPU}); bench driver Node ${process.versions.node}`,
      `Load generator: ${await loadGeneratorVersion(processes, generator)} (pinned to core ${LOAD_CPU}), ${connections} connections${generator === 'wrk' ? ', 1 thread' : ' (latencies in whole ms; may not saturate a server)'}, keep-alive GET`,
      `Method: ${rounds} rounds x ${seconds} s per target after ${warmupSeconds} s warm-up, baseline and platform interleaved; medians across rounds; ratio = median of per-round ratios; peak RSS = VmHWM of the server process at the end of its runtime's rounds (the platform's PostgreSQL not included)`,
      `Platform: commit ${commit}${dirty ? ' with uncommitted changes' : ''}, NODE_ENV=production, embedded PostgreSQL, ${
        Object.keys(overrides).length
          ? Object.entries(overrides)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')
          : 'default LOG_LEVEL (info) and metrics'
      }`,
    ];
    console.log(header.join('\n'));

    const results: ScenarioResult[] = [];
    const peakRss: Record<string, number | undefined> = {};

    for (const runtime of runtimes) {
      const scenarios = SCENARIOS[runtime];
      const phase = await startPhase(runtime, scenarios, { processes, dir, commit, overrides, targets });
      const headersOf = (scenario: Scenario): Record<string, string> =>
        scenario.apiKey ? { authorization: `Bearer ${phase.fixture.apiKey}` } : {};
      const baselineOf = (scenario: Scenario) => phase.baselines[scenario.baseline]!;
      for (const scenario of scenarios) {
        await checkEquivalent(
          scenario,
          urlOf(scenario, phase.fixture),
          baselineOf(scenario),
          phase.platform,
          headersOf(scenario),
        );
      }

      const load = async (
        target: RunningTarget,
        scenario: Scenario,
        duration: number,
      ): Promise<Measurement> => {
        const cpuBefore = processCpuSeconds(target.pid);
        const result = await runLoad(
          processes,
          generator,
          `${target.origin}${urlOf(scenario, phase.fixture)}`,
          { seconds: duration, connections, cpu: LOAD_CPU, headers: headersOf(scenario) },
        );
        return { ...result, serverCpuSeconds: processCpuSeconds(target.pid) - cpuBefore };
      };

      // Warm-up lets the JITs compile the hot paths before anything counts.
      console.log(`${runtime}: warming up (${warmupSeconds} s per target and scenario)`);
      for (const scenario of scenarios) {
        await load(baselineOf(scenario), scenario, warmupSeconds);
        await load(phase.platform, scenario, warmupSeconds);
      }

      const phaseResults: ScenarioResult[] = scenarios.map((s) => ({
        scenario: s.scenario,
        runtime,
        baselineName: baselineOf(s).name,
        platformName: phase.platform.name,
        targetRatio: s.targetRatio,
        maxP99OverP50: s.maxP99OverP50,
        sharesCoreWithDatabase: s.baseline === 'bare-hono-pg',
        baseline: [],
        platform: [],
      }));
      for (let round = 1; round <= rounds; round++) {
        for (const [index, scenario] of scenarios.entries()) {
          const result = phaseResults[index]!;
          const sides: ['baseline' | 'platform', RunningTarget][] = [
            ['baseline', baselineOf(scenario)],
            ['platform', phase.platform],
          ];
          // Alternate which side goes first, so neither always runs on a warmer (or hotter) machine.
          if (round % 2 === 0) sides.reverse();
          for (const [side, target] of sides) {
            const run = await load(target, scenario, seconds);
            result[side].push(run);
            console.log(formatRun(round, scenario.scenario, target.name, run));
          }
        }
      }
      results.push(...phaseResults);
      // Sampled while every server of the phase still runs: VmHWM is the peak over its life.
      for (const target of targets) peakRss[target.name] = target.peakRssBytes();
      await stopTargets();
    }

    const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);
    header.push(`Run: ${minutes} min; load average ${loadavg()[0]?.toFixed(2)} at the end`);
    const table = formatTable(results, peakRss);
    const verdict = formatVerdict(results);
    console.log(`\n${header.at(-1)}\n\n${table}\n\n${verdict.join('\n')}`);

    const stamp = new Date().toISOString();
    const section = `## ${stamp.slice(0, 10)} (${stamp.slice(11, 16)} UTC), commit ${commit}\n\n${header.join('  \n')}\n\n${table}\n\n${verdict.join('  \n')}\n`;
    const outDir = join(ROOT, '.bench');
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'results.md'), `# npm run bench, ${stamp}\n\n${section}`);
    if (toDocs) {
      await recordInDocs(section);
      console.log('(written to docs/benchmarks.md and .bench/results.md)');
    } else {
      console.log('(written to .bench/results.md; BENCH_DOCS=0 left docs/benchmarks.md alone)');
    }
  } catch (error) {
    if (interrupted) return;
    // The logs go with the temp directory: show their ends while they exist.
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.log'))) {
      const tail = (await readFile(join(dir, file), 'utf8')).trimEnd().split('\n').slice(-15);
      console.error(`--- last lines of ${file} ---\n${tail.join('\n')}`);
    }
    throw error;
  } finally {
    await cleanup();
  }
}

/**
 * Starts one runtime's servers: the baselines its scenarios name, the platform (its own data
 * directory and embedded PostgreSQL), the API key the authenticated scenarios send, and last the
 * hand-written pg route, which reads the row just created in the platform's database.
 */
async function startPhase(
  runtime: Runtime,
  scenarios: Scenario[],
  context: {
    processes: Processes;
    dir: string;
    commit: string;
    overrides: Record<string, string>;
    targets: RunningTarget[];
  },
): Promise<Phase> {
  const { dir, overrides, targets } = context;
  const options = { processes: context.processes, dir, cpu: SERVER_CPU, commit: context.commit, runtime };
  const readyPaths: Partial<Record<BaselineName, string>> = {
    'bare-hono': LIGHTWEIGHT.path,
    'bare-hono-trpc': SYSTEM_INFO.path,
    'hono-ecosystem': SYSTEM_INFO.path,
  };
  const names = [...new Set(scenarios.map((s) => s.baseline))];
  const baselines: Partial<Record<BaselineName, RunningTarget>> = {};
  for (const name of names.filter((n) => n !== 'bare-hono-pg')) {
    baselines[name] = await startBaseline(name, readyPaths[name]!, options);
    targets.push(baselines[name]!);
  }
  const dataDir = join(dir, `platform-${runtime}`);
  await mkdir(dataDir);
  await chmod(dataDir, 0o755);
  const platform = await startPlatform({
    ...options,
    dataDir,
    overrides: {
      ADMIN_EMAIL: BENCH_ADMIN.email,
      ADMIN_PASSWORD: BENCH_ADMIN.password,
      // The per-address limit is still checked on every anonymous call, as in production; at
      // ~100k requests a second from one address its default (600 a minute) would answer 429.
      RATE_LIMIT_IP_PER_MINUTE: '10000000',
      ...overrides,
    },
  });
  targets.push(platform);
  const fixture = await provisionApiKey(platform.origin);
  const pgScenario = scenarios.find((s) => s.baseline === 'bare-hono-pg');
  if (pgScenario) {
    baselines['bare-hono-pg'] = await startBaseline('bare-hono-pg', urlOf(pgScenario, fixture), {
      ...options,
      env: {
        DATABASE_URL: await platformDatabaseUrl(dataDir, overrides),
        ORGANIZATION_ID: fixture.organizationId,
        // The platform's pool size: DB_POOL_MAX's default unless BENCH_PLATFORM_ENV sets it.
        DB_POOL_MAX: overrides.DB_POOL_MAX ?? '10',
      },
    });
    targets.push(baselines['bare-hono-pg']);
  }
  return { runtime, platform, baselines, fixture };
}

main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
