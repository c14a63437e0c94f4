/**
 * `npm run bench`: the platform against bare baselines on Bun, side by side, on one machine.
 *
 * Each server is pinned to core 0 and the load generator to core 1, so the server under test
 * never competes with the load for CPU. Rounds interleave baseline and platform (alternating
 * which goes first) so drift in the machine's speed lands on both sides of each ratio.
 * It prints a table and exits 0 whether or not targets are met: a measurement, not a test.
 *
 * Environment: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (2),
 * BENCH_CONNECTIONS (64), BENCH_LOADGEN (wrk | autocannon), and BENCH_PLATFORM_ENV, settings
 * for the platform only, e.g. "LOG_LEVEL=warn METRICS_DEFAULTS=false", to measure their cost.
 */

import { rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processCpuSeconds } from './lib/cpu';
import { loadGeneratorVersion, pickLoadGenerator, runLoad } from './lib/load';
import { Processes } from './lib/processes';
import {
  formatCpuTable,
  formatRun,
  formatTable,
  formatVerdict,
  type Measurement,
  type ScenarioResult,
} from './lib/report';
import {
  type BaselineName,
  BUN,
  platformDatabaseUrl,
  type RunningTarget,
  startBaseline,
  startPlatform,
} from './lib/servers';

const SERVER_CPU = 0;
const BENCH_ADMIN = { email: 'bench@platform.test', password: 'bench-admin-password-0123' };
const LOAD_CPU = 1;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the bench provisions on the platform before measuring. */
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
  targetRatio: number;
  /** Sends the platform's API key (the baseline has no auth and ignores it). */
  apiKey?: boolean;
  /**
   * Both sides read the same data, so their bodies must be equal, except for these fields of
   * `result.data` (each with the reason it legitimately differs). Without it, bodies need only
   * be of about the same size (the baselines make up values of the same shape).
   */
  sameBodyExcept?: string[];
}

/** The design's targets (DESIGN.md, "Performance targets"). */
const SCENARIOS: Scenario[] = [
  {
    scenario: 'GET /api/health/lightweight',
    path: '/api/health/lightweight',
    baseline: 'bare-hono',
    targetRatio: 0.9,
  },
  // Public, no database: the anonymous path (per-address rate limit, no credential).
  {
    scenario: 'tRPC system.info',
    path: '/api/trpc/system.info',
    baseline: 'bare-hono-trpc',
    targetRatio: 0.75,
  },
  // The target of DESIGN.md: an API-key-authenticated query through the whole production stack
  // (credential, key verification with its cache, scope and role policy, metrics, access log).
  {
    scenario: 'tRPC auth.me (API key)',
    path: '/api/trpc/auth.me',
    baseline: 'bare-hono-trpc',
    targetRatio: 0.75,
    apiKey: true,
  },
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
];

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

async function main(): Promise<void> {
  const rounds = positiveInt('BENCH_ROUNDS', 3);
  const seconds = positiveInt('BENCH_SECONDS', 5);
  const warmupSeconds = positiveInt('BENCH_WARMUP_SECONDS', 2);
  const connections = positiveInt('BENCH_CONNECTIONS', 64);
  const overrides = platformOverrides();
  const generator = pickLoadGenerator();
  if (cpus().length < 2) throw new Error('the bench needs two cores: one for the server, one for the load');

  const processes = new Processes();
  // Under /tmp and world-readable: the embedded PostgreSQL runs as the postgres user.
  const dir = await mkdtemp('/tmp/bc-bench-');
  await chmod(dir, 0o755);
  const targets: RunningTarget[] = [];

  let interrupted = false;
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      // Newest first: the load generator stops before the server it loads.
      await processes.stopAll();
      for (const target of targets) await target.stop();
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
    const bunVersion = (
      await processes.run({ name: 'bun', command: BUN, args: ['--version'] })
    ).output.trim();
    const header = [
      `CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores; load average ${loadavg()[0]?.toFixed(2)} at start; Linux ${release()}`,
      `Runtime: Bun ${bunVersion} (servers, pinned to core ${SERVER_CPU}); bench driver Node ${process.versions.node}`,
      `Load generator: ${await loadGeneratorVersion(processes, generator)} (pinned to core ${LOAD_CPU}), ${connections} connections${generator === 'wrk' ? ', 1 thread' : ' (latencies in whole ms; may not saturate a server)'}, keep-alive GET`,
      `Method: ${rounds} rounds x ${seconds} s per target after ${warmupSeconds} s warm-up, baseline and platform interleaved; medians across rounds; ratio = median of per-round ratios`,
      `Platform: commit ${commit}, NODE_ENV=production, embedded PostgreSQL, ${
        Object.keys(overrides).length
          ? Object.entries(overrides)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')
          : 'default LOG_LEVEL (info) and metrics'
      }`,
    ];
    console.log(header.join('\n'));

    const options = { processes, dir, cpu: SERVER_CPU, commit };
    const bareHono = await startBaseline('bare-hono', '/api/health/lightweight', options);
    targets.push(bareHono);
    const bareHonoTrpc = await startBaseline('bare-hono-trpc', '/api/trpc/system.info', options);
    targets.push(bareHonoTrpc);
    const platform = await startPlatform({
      ...options,
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
    const headersOf = (scenario: Scenario): Record<string, string> =>
      scenario.apiKey ? { authorization: `Bearer ${fixture.apiKey}` } : {};
    // Started last: it reads the row the bench just created, in the platform's own database.
    const bareHonoPg = await startBaseline(
      'bare-hono-pg',
      urlOf(SCENARIOS.find((s) => s.baseline === 'bare-hono-pg')!, fixture),
      {
        ...options,
        env: {
          DATABASE_URL: await platformDatabaseUrl(dir, overrides),
          ORGANIZATION_ID: fixture.organizationId,
          // The platform's pool size: DB_POOL_MAX's default unless BENCH_PLATFORM_ENV sets it.
          DB_POOL_MAX: overrides.DB_POOL_MAX ?? '10',
        },
      },
    );
    targets.push(bareHonoPg);
    const baselines: Record<BaselineName, RunningTarget> = {
      'bare-hono': bareHono,
      'bare-hono-trpc': bareHonoTrpc,
      'bare-hono-pg': bareHonoPg,
    };
    for (const scenario of SCENARIOS) {
      await checkEquivalent(
        scenario,
        urlOf(scenario, fixture),
        baselines[scenario.baseline],
        platform,
        headersOf(scenario),
      );
    }

    const load = async (
      target: RunningTarget,
      scenario: Scenario,
      duration: number,
    ): Promise<Measurement> => {
      const cpuBefore = processCpuSeconds(target.pid);
      const result = await runLoad(processes, generator, `${target.origin}${urlOf(scenario, fixture)}`, {
        seconds: duration,
        connections,
        cpu: LOAD_CPU,
        headers: headersOf(scenario),
      });
      return { ...result, serverCpuSeconds: processCpuSeconds(target.pid) - cpuBefore };
    };

    // Warm-up lets both JITs compile the hot paths before anything counts.
    console.log(`warming up (${warmupSeconds} s per target and scenario)`);
    for (const scenario of SCENARIOS) {
      await load(baselines[scenario.baseline], scenario, warmupSeconds);
      await load(platform, scenario, warmupSeconds);
    }

    const results: ScenarioResult[] = SCENARIOS.map((s) => ({
      scenario: s.scenario,
      baselineName: s.baseline,
      targetRatio: s.targetRatio,
      sharesCoreWithDatabase: s.baseline === 'bare-hono-pg',
      baseline: [],
      platform: [],
    }));
    for (let round = 1; round <= rounds; round++) {
      for (const [index, scenario] of SCENARIOS.entries()) {
        const result = results[index]!;
        const sides: ['baseline' | 'platform', RunningTarget][] = [
          ['baseline', baselines[scenario.baseline]],
          ['platform', platform],
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

    const tables = `${formatTable(results)}\n\nPer CPU-second of the server:\n\n${formatCpuTable(results)}`;
    const verdict = formatVerdict(results);
    console.log(`\n${tables}\n\n${verdict.join('\n')}`);

    const outDir = join(ROOT, '.bench');
    await mkdir(outDir, { recursive: true });
    const stamp = new Date().toISOString();
    await writeFile(
      join(outDir, 'results.md'),
      `# npm run bench, ${stamp}\n\n${header.join('  \n')}\n\n${tables}\n\n${verdict.join('  \n')}\n`,
    );
    console.log('(written to .bench/results.md)');
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

main().catch((error) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
