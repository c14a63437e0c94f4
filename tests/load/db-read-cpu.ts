import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../../db/database';
import { startEmbeddedPostgres } from '../../db/embedded-postgres';
import { findApiKeyInOrganization } from '../../db/repositories/api-keys';
import { readBuildInfo } from '../../server/base/build-info';
import { loadConfig } from '../../server/base/config';
import { createLogger } from '../../server/base/logger';
import { buildDependencies } from '../../server/composition/dependencies';
import { createApp } from '../../server/http/app';
import type { Role } from '../../shared/auth';

/**
 * One-row reads by primary key, N at a time in sequence, through each layer of the platform and
 * through a bare `pg.Pool`, against an embedded PostgreSQL. Prints, per layer, µs per read of
 * wall time and of this process's CPU (`process.cpuUsage`), PostgreSQL's CPU per read (all its
 * processes, from /proc) and what PostgreSQL was sent per read (pg_stat_statements: statements
 * and execution time). In process and sequential on purpose: no load generator, no HTTP server,
 * so the figures are the cost of the database path and nothing else.
 *
 *   ./node_modules/.bin/bun tests/load/db-read-cpu.ts [reads]
 *   node --import tsx tests/load/db-read-cpu.ts [reads]
 *   DATABASE_URL=postgres://…/throwaway LAYERS=bare,app ROUNDS=1 … (a server of your own, to strace
 *   or perf its postmaster; LAYERS picks layers by a word of their names)
 *
 * What it found (issue 12): the platform sends PostgreSQL exactly what the bare route sends. Per
 * request, 1.00 statement (pg_stat_statements, the same text; no BEGIN/COMMIT around the read, no
 * SET, no validation `select 1`), one socket write (pg corks Parse/Bind/Describe/Execute/Sync,
 * on Bun as on Node: 2,005 sendto for 2,000 queries under strace, with or without the platform's
 * keepAlive, statement_timeout and application_name, which travel once in the startup packet;
 * PostgreSQL arms the statement timer lazily, 3 setitimer calls per connection, not per
 * statement) and one context switch of the backend per statement. The PostgreSQL time both pay
 * is parsing and planning: Kysely, like `pool.query(text, values)`, sends every statement unnamed,
 * re-parsed and re-planned on each call (4 lseek per statement under strace: the planner sizing
 * the table and its index). That was ~30 of the ~50 µs of PostgreSQL CPU per read. The platform
 * paid more than the bare route for the same statement because more of its own work ran between
 * statements on the same cores: executor time alone rose from 4.0 to 5.0 µs (Bun) and 5.0 to
 * 8.6 µs (Node), PostgreSQL CPU per request from 54 (bare) to 96 µs (app.fetch, Bun, before the
 * fix), and 50-300 µs of memory-touching JavaScript between bare reads alone adds ~15 % to
 * PostgreSQL's CPU per read.
 * The fix that holds under any load: prepared queries (db/compiled-query.ts) are sent as named
 * statements, planned once per connection: PostgreSQL CPU per read 48-50 µs (bare route) against
 * 22-24 µs (platform).
 */
const READS = Number(process.argv[2] ?? process.env.READS ?? 20_000);
const WARMUP = Math.min(5_000, READS);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

// Character for character what tests/load/baselines/bare-hono-pg.ts sends.
const SELECT_KEY = 'select * from "api_keys" where "id" = $1 and "organization_id" = $2';
const ADMIN = { email: 'bench@platform.test', password: 'bench-admin-password-0123' };

interface Fixture {
  keyId: string;
  organizationId: string;
  key: string;
  actor: { organizationId: string; userId: string; role: Role };
}

interface Layer {
  name: string;
  read: () => Promise<unknown>;
}

interface Figures {
  wallUs: number;
  cpuUs: number;
  postgresCpuUs: number | null;
  /** pg_stat_statements per read: calls of every statement, and their summed execution time. */
  statementsPerRead: number;
  execUsPerRead: number;
  /** Times a PostgreSQL process was switched out (it slept waiting for the next statement, or was preempted). */
  postgresSwitchesPerRead: number | null;
  top: string[];
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'bc-db-read-cpu-'));
  await chmod(root, 0o755);
  // DATABASE_URL: a throwaway database on a server of your own (to strace or perf its postmaster).
  const server = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, stop: async () => undefined }
    : await startEmbeddedPostgres({ dataDir: join(root, 'data') });
  const admin = new pg.Pool({ connectionString: server.url, max: 1 });
  const stop: (() => Promise<unknown>)[] = [];
  try {
    const postmasterPid = await postmasterOf(admin);
    await admin.query('create extension if not exists pg_stat_statements');
    const config = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: server.url,
      DATA_DIR: root,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      AUTH_PASSWORD_COST: '10',
      RATE_LIMIT_IP_PER_MINUTE: '10000000',
      RATE_LIMIT_USER_PER_MINUTE: '10000000',
    });
    // Production defaults (access log at info, metrics, analytics); the lines go nowhere.
    const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
    const deps = buildDependencies({
      config,
      logger: createLogger({ level: config.LOG_LEVEL, destination: discard }),
      build: readBuildInfo(),
      databaseUrl: server.url,
      kek: new Uint8Array(32).fill(7),
    });
    await deps.initializer.start();
    stop.push(
      () => deps.initializer.stop(),
      () => deps.database.close(),
    );
    const fixture = await provision(deps);
    const app = createApp(deps);

    const bare = new pg.Pool({ connectionString: server.url, max: config.DB_POOL_MAX });
    stop.push(() => bare.end());
    const bareKysely = new Kysely<Database>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: server.url, max: config.DB_POOL_MAX }),
      }),
    });
    stop.push(() => bareKysely.destroy());
    const actor = { kind: 'user' as const, ...fixture.actor };
    const url = `http://127.0.0.1/api/trpc/auth.apiKeys.get?input=${encodeURIComponent(JSON.stringify({ id: fixture.keyId }))}`;
    const headers = { authorization: `Bearer ${fixture.key}` };

    const layers: Layer[] = [
      {
        name: 'bare pg.Pool (pool.query)',
        read: () => bare.query(SELECT_KEY, [fixture.keyId, fixture.organizationId]),
      },
      {
        // The platform sends this read as a named statement: the driver's own best, for comparison.
        name: 'bare pg.Pool, named statement',
        read: () =>
          bare.query({
            name: 'bare_select_key',
            text: SELECT_KEY,
            values: [fixture.keyId, fixture.organizationId],
          }),
      },
      {
        name: 'bare Kysely (same pool options as bare)',
        read: () => findApiKeyInOrganization(bareKysely, fixture.keyId, fixture.organizationId),
      },
      {
        name: 'platform database.read(findApiKeyInOrganization)',
        read: () =>
          deps.database.read((db) => findApiKeyInOrganization(db, fixture.keyId, fixture.organizationId)),
      },
      {
        name: 'platform ApiKeyService.get',
        read: () => deps.auth.apiKeys.get(actor, fixture.keyId),
      },
      {
        name: 'platform app.fetch auth.apiKeys.get (API key)',
        read: async () => {
          const response = await app.fetch(new Request(url, { headers }));
          if (response.status !== 200) throw new Error(`auth.apiKeys.get answered ${response.status}`);
          await response.arrayBuffer();
        },
      },
    ];

    // LAYERS=bare,app picks layers by a word of their names (strace or perf one path at a time).
    const only = (process.env.LAYERS ?? '').split(',').filter(Boolean);
    const chosen = only.length
      ? layers.filter((layer) => only.some((word) => layer.name.toLowerCase().includes(word.toLowerCase())))
      : layers;
    const runtime =
      typeof (globalThis as { Bun?: unknown }).Bun === 'undefined'
        ? `Node ${process.version}`
        : `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;
    console.log(
      `${runtime}: ${READS} sequential reads per layer, ${ROUNDS} rounds (median shown), after ${WARMUP} warm-up reads`,
    );
    const results = new Map<string, Figures[]>();
    for (const layer of chosen) await run(layer, WARMUP);
    for (let round = 0; round < ROUNDS; round++) {
      for (const layer of chosen) {
        await admin.query('select pg_stat_statements_reset()');
        const figures = await measure(layer, READS, admin, postmasterPid);
        results.set(layer.name, [...(results.get(layer.name) ?? []), figures]);
      }
    }
    printTable(chosen, results);
  } finally {
    for (const close of stop.reverse()) await close().catch(() => undefined);
    await admin.end();
    await server.stop();
    await rm(root, { recursive: true, force: true });
  }
}

async function provision(deps: ReturnType<typeof buildDependencies>): Promise<Fixture> {
  const user = await deps.database.db
    .selectFrom('users')
    .select(['id', 'organization_id', 'role'])
    .where('email', '=', ADMIN.email)
    .executeTakeFirstOrThrow();
  const { key, apiKey } = await deps.auth.apiKeys.create(
    { organizationId: user.organization_id, userId: user.id, role: user.role },
    { name: 'db-read-cpu', scopes: ['auth:read'] },
  );
  const actor = { organizationId: user.organization_id, userId: user.id, role: user.role };
  return { keyId: apiKey.id, organizationId: user.organization_id, key, actor };
}

async function run(layer: Layer, reads: number): Promise<void> {
  for (let i = 0; i < reads; i++) await layer.read();
}

async function measure(layer: Layer, reads: number, admin: pg.Pool, postmasterPid: number): Promise<Figures> {
  const pgBefore = await postgresProcesses(postmasterPid);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await run(layer, reads);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const pgAfter = await postgresProcesses(postmasterPid);
  const { rows } = await admin.query<{ query: string; calls: string; total_exec_time: number }>(
    `select query, calls, total_exec_time from pg_stat_statements
      where query not like '%pg_stat_statements%' and query not like '%pg_stat_database%'
      order by calls desc`,
  );
  const calls = rows.reduce((sum, row) => sum + Number(row.calls), 0);
  const execMs = rows.reduce((sum, row) => sum + row.total_exec_time, 0);
  return {
    wallUs: (wallMs * 1000) / reads,
    cpuUs: (cpu.user + cpu.system) / reads,
    postgresCpuUs: pgBefore && pgAfter ? ((pgAfter.ticks - pgBefore.ticks) * 10_000) / reads : null,
    statementsPerRead: calls / reads,
    execUsPerRead: (execMs * 1000) / reads,
    postgresSwitchesPerRead: pgBefore && pgAfter ? (pgAfter.switches - pgBefore.switches) / reads : null,
    top: rows.slice(0, 4).map((row) => `${(Number(row.calls) / reads).toFixed(2)}x ${oneLine(row.query)}`),
  };
}

/** The PostgreSQL server's main process: the parent of a backend, when it runs on this machine. */
async function postmasterOf(admin: pg.Pool): Promise<number> {
  const { rows } = await admin.query<{ pid: number }>('select pg_backend_pid() as pid');
  const stat = await readFile(`/proc/${rows[0]?.pid}/stat`, 'utf8').catch(() => '');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? 0);
}

/**
 * User + system clock ticks (1/100 s) and context switches of the postmaster and every process it
 * started, or null when they cannot be read (a server on another machine). Only the processes
 * alive now: connections of the measured layers stay open across a measurement.
 */
async function postgresProcesses(postmasterPid: number): Promise<{ ticks: number; switches: number } | null> {
  if (!postmasterPid) return null;
  try {
    let ticks = 0;
    let switches = 0;
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
      if (!stat) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      if (pid !== postmasterPid && Number(fields[1]) !== postmasterPid) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
      const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
      for (const match of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm))
        switches += Number(match[1]);
    }
    return { ticks, switches };
  } catch {
    return null;
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 90 ? `${flat.slice(0, 87)}...` : flat;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function printTable(layers: Layer[], results: Map<string, Figures[]>): void {
  const rows = layers.map((layer) => {
    const runs = results.get(layer.name) ?? [];
    const pick = (f: (x: Figures) => number | null) => {
      const values = runs.map(f).filter((v): v is number => v !== null);
      return values.length ? median(values) : null;
    };
    return {
      layer: layer.name,
      wall: pick((f) => f.wallUs),
      cpu: pick((f) => f.cpuUs),
      pgCpu: pick((f) => f.postgresCpuUs),
      statements: pick((f) => f.statementsPerRead),
      exec: pick((f) => f.execUsPerRead),
      switches: pick((f) => f.postgresSwitchesPerRead),
      top: runs.at(-1)?.top ?? [],
    };
  });
  const fmt = (v: number | null, digits = 1) => (v === null ? '-' : v.toFixed(digits));
  console.log(
    '\n| layer | wall µs/read | process CPU µs/read | PostgreSQL CPU µs/read | PG switches/read | statements/read | PG exec µs/read |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.layer} | ${fmt(r.wall)} | ${fmt(r.cpu)} | ${fmt(r.pgCpu)} | ${fmt(r.switches, 2)} | ${fmt(r.statements, 2)} | ${fmt(r.exec, 2)} |`,
    );
  }
  console.log('\nStatements PostgreSQL ran per read (last round, pg_stat_statements):');
  for (const r of rows) {
    console.log(`  ${r.layer}`);
    for (const line of r.top) console.log(`    ${line}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
