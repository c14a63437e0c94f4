import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../db/local-processes';
import {
  adminHeaders,
  mustRun,
  PROCESS_ADMIN,
  ROOT,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process';
import { dueAt, requestCount, runSchedule, weightedSequence } from '../load/lib/arrival';
import { LatencyRecorder, percentileOfSorted } from '../load/lib/latency';
import { DEFAULT_LIMITS, parseLoadArgs, UsageError } from '../load/lib/load-args';
import type { LoadReport } from '../load/lib/load-report';
import { checkWrites, evaluate, type Stats } from '../load/lib/load-results';
import { writeSeq, writeText } from '../load/lib/traffic';

/**
 * The load suite (`npm run load`, tests/load/load.ts): first its own logic (arrival schedule,
 * mix, percentiles, thresholds, write accounting, command line), then the real program, run for
 * a few seconds against a real server and PostgreSQL.
 */

describe('load suite: arrival schedule and mix', () => {
  it('spaces requests evenly at the rate and counts whole requests in the duration', () => {
    expect(requestCount(200, 30_000)).toBe(6000);
    expect(requestCount(50, 3_000)).toBe(150);
    expect(requestCount(3, 1_000)).toBe(3);
    expect(requestCount(7, 500)).toBe(3);
    expect(dueAt(0, 200)).toBe(0);
    expect(dueAt(1, 200)).toBe(5);
    expect(dueAt(6000, 200)).toBe(30_000);
  });

  it('interleaves the weighted mix exactly per cycle, without runs of one class', () => {
    const next = weightedSequence([
      ['health', 40],
      ['read', 30],
      ['auth', 20],
      ['write', 10],
    ] as const);
    const picks = Array.from({ length: 300 }, next);
    for (let cycle = 0; cycle < 3; cycle++) {
      const counts: Record<string, number> = {};
      for (const pick of picks.slice(cycle * 100, cycle * 100 + 100)) counts[pick] = (counts[pick] ?? 0) + 1;
      expect(counts).toEqual({ health: 40, read: 30, auth: 20, write: 10 });
    }
    // Smooth: the 40% class never comes more than twice in a row, the 10% one never twice.
    expect(picks.join(',')).not.toMatch(/health,health,health/);
    expect(picks.join(',')).not.toMatch(/write,write/);
  });

  it('leaves out classes of weight 0 and refuses a mix with none left', () => {
    const next = weightedSequence([
      ['health', 0],
      ['write', 1],
    ] as const);
    expect(new Set(Array.from({ length: 10 }, next))).toEqual(new Set(['write']));
    expect(() => weightedSequence([['health', 0]] as const)).toThrow(/positive weight/);
  });

  it('launches every request in order, none before its due time, without waiting for answers', async () => {
    const launches: { index: number; due: number; at: number }[] = [];
    const start = performance.now() + 5;
    const outcome = await runSchedule(40, 1000, start, (index, due) =>
      launches.push({ index, due, at: performance.now() }),
    );
    expect(outcome.launched).toBe(40);
    expect(launches.map((l) => l.index)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    for (const launch of launches) {
      expect(launch.due).toBeCloseTo(start + launch.index, 6);
      expect(launch.at).toBeGreaterThanOrEqual(launch.due);
    }
    expect(outcome.lagsMs.length).toBe(40);
    expect(Math.min(...outcome.lagsMs)).toBeGreaterThanOrEqual(0);
  });

  it('launches everything already due at once when the event loop was blocked (no slipping)', async () => {
    const launches: { index: number; due: number }[] = [];
    const start = performance.now();
    const schedule = runSchedule(20, 1000, start, (index, due) => launches.push({ index, due }));
    // Block the loop for 15 ms: the requests due meanwhile keep their due times.
    const until = performance.now() + 15;
    while (performance.now() < until) {
      // busy on purpose
    }
    const outcome = await schedule;
    // Rounded: `start + i - start` is not exactly `i` in doubles when the sum crosses a power of two.
    expect(launches.map((l) => Math.round((l.due - start) * 1e6) / 1e6)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(Math.max(...outcome.lagsMs)).toBeGreaterThanOrEqual(10);
  });
});

describe('load suite: percentiles', () => {
  it('takes the nearest rank: a value that was observed', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentileOfSorted(hundred, 50)).toBe(50);
    expect(percentileOfSorted(hundred, 95)).toBe(95);
    expect(percentileOfSorted(hundred, 99)).toBe(99);
    expect(percentileOfSorted(hundred, 100)).toBe(100);
    expect(percentileOfSorted(hundred, 0)).toBe(1);
    expect(percentileOfSorted([1, 2, 3, 4], 50)).toBe(2);
    expect(percentileOfSorted([7], 99)).toBe(7);
    expect(percentileOfSorted([], 99)).toBeNaN();
    expect(() => percentileOfSorted([1], 101)).toThrow(RangeError);
  });

  it('records in any order, grows past its first buffer and merges', () => {
    const recorder = new LatencyRecorder();
    for (let i = 2000; i >= 1; i--) recorder.record(i / 10);
    expect(recorder.count).toBe(2000);
    expect(recorder.percentile(50)).toBe(100);
    expect(recorder.percentile(99)).toBe(198);
    expect(recorder.max).toBe(200);
    const other = new LatencyRecorder();
    other.record(1000);
    recorder.merge(other);
    expect(recorder.max).toBe(1000);
    expect(recorder.count).toBe(2001);
  });
});

describe('load suite: thresholds and writes', () => {
  const stats = (name: string, over: Partial<Stats> = {}): Stats => ({
    name,
    sent: 100,
    completed: 100,
    rps: 10,
    p50Ms: 1,
    p95Ms: 2,
    p99Ms: 3,
    maxMs: 4,
    failed: 0,
    errors: {},
    ...over,
  });
  const total = (over: Partial<Stats> = {}) =>
    stats('total', { sent: 2000, completed: 2000, rps: 200, ...over });

  it('passes a healthy run and says what it measured against which limit', () => {
    const thresholds = evaluate([stats('health'), stats('write')], total(), {
      limits: DEFAULT_LIMITS,
      rate: 200,
      writes: checkWrites([1, 2, 3], [1, 2, 3], 0),
    });
    expect(thresholds.map((t) => t.name)).toEqual([
      'health p99',
      'write p99',
      'error rate',
      'achieved rate',
      'writes stored = acknowledged',
    ]);
    expect(thresholds.every((t) => t.pass)).toBe(true);
    expect(thresholds[0]).toMatchObject({
      limit: `< ${DEFAULT_LIMITS.p99Ms.health} ms`,
      measured: '3.00 ms',
    });
  });

  it('fails each threshold on its own breach', () => {
    // At the bound is a miss: p99 must stay below it.
    const slow = evaluate([stats('read', { p99Ms: DEFAULT_LIMITS.p99Ms.read })], total(), {
      limits: DEFAULT_LIMITS,
      rate: 200,
      writes: undefined,
    });
    expect(slow.find((t) => t.name === 'read p99')?.pass).toBe(false);

    const failing = (failed: number) =>
      evaluate([], total({ failed, completed: 2000 - failed }), {
        limits: DEFAULT_LIMITS,
        rate: 200,
        writes: undefined,
      });
    // 0.1% of 2000 is 2 failures allowed, 3 are too many.
    expect(failing(2).find((t) => t.name === 'error rate')?.pass).toBe(true);
    expect(failing(3).find((t) => t.name === 'error rate')?.pass).toBe(false);

    const rate = (rps: number) =>
      evaluate([], total({ rps }), { limits: DEFAULT_LIMITS, rate: 200, writes: undefined }).find(
        (t) => t.name === 'achieved rate',
      )?.pass;
    expect(rate(190)).toBe(true);
    expect(rate(189.9)).toBe(false);
  });

  it('finds lost, doubled and unexplained writes', () => {
    expect(checkWrites([1, 2, 3], [1, 3], 0)).toMatchObject({ acknowledged: 3, stored: 2, lost: 1 });
    expect(checkWrites([1, 2], [1, 2, 2], 0)).toMatchObject({ duplicated: 1, lost: 0 });
    // A write that timed out may have committed: one unacknowledged row per failed write at most.
    const explained = checkWrites([1], [1, 2], 1);
    const unexplained = checkWrites([1], [1, 2], 0);
    const verdict = (writes: ReturnType<typeof checkWrites>) =>
      evaluate([], total(), { limits: DEFAULT_LIMITS, rate: 200, writes }).at(-1)?.pass;
    expect(verdict(explained)).toBe(true);
    expect(verdict(unexplained)).toBe(false);
    expect(verdict(checkWrites([1, 2, 3], [1, 3], 0))).toBe(false);
    expect(verdict(checkWrites([1, 2], [1, 2, 2], 0))).toBe(false);
  });

  it('matches stored rows to this run only', () => {
    const run = { tag: 'load-abc' };
    expect(writeSeq(run, writeText(run, 42))).toBe(42);
    expect(writeSeq(run, writeText({ tag: 'load-other' }, 42))).toBeUndefined();
    expect(writeSeq(run, 'deploy started')).toBeUndefined();
  });
});

describe('load suite: command line', () => {
  it('has defaults a plain `npm run load` uses', () => {
    const options = parseLoadArgs([], {});
    expect(options).toMatchObject({
      rate: 200,
      durationMs: 30_000,
      warmupMs: 3_000,
      mix: { health: 40, read: 30, auth: 20, write: 10 },
      url: undefined,
      runtime: 'bun',
      json: false,
    });
    expect(options.limits).toEqual(DEFAULT_LIMITS);
  });

  it('reads rate, durations, mix, thresholds and LOAD_URL', () => {
    const options = parseLoadArgs(
      ['--rate', '50', '--duration', '1.5m', '--warmup', '500ms', '--mix', 'health=1,write=3', '--p99', '20'],
      { LOAD_URL: 'http://127.0.0.1:3000/' },
    );
    expect(options.rate).toBe(50);
    expect(options.durationMs).toBe(90_000);
    expect(options.warmupMs).toBe(500);
    expect(options.mix).toEqual({ health: 1, read: 0, auth: 0, write: 3 });
    expect(options.limits.p99Ms).toEqual({ health: 20, read: 20, auth: 20, write: 20 });
    expect(options.url).toBe('http://127.0.0.1:3000');
    const perClass = parseLoadArgs([
      '--p99',
      '20',
      '--p99-write',
      '80',
      '--max-error-rate',
      '1%',
      '--min-rate',
      '0.9',
    ]);
    expect(perClass.limits).toEqual({
      p99Ms: { health: 20, read: 20, auth: 20, write: 80 },
      maxErrorRate: 0.01,
      minRateRatio: 0.9,
    });
  });

  it.each([
    [['--rate', 'fast'], /--rate/],
    [['--rate', '0'], /--rate/],
    [['--duration', '10 minutes'], /--duration/],
    [['--duration', '0s'], /--duration/],
    [['--mix', 'health=40,chaos=5'], /unknown class "chaos"/],
    [['--mix', 'health=1,health=2'], /given twice/],
    [['--mix', 'health=0'], /every weight is 0/],
    [['--mix', 'health'], /class=weight/],
    [['--p99', '-1'], /--p99/],
    [['--max-error-rate', '150%'], /--max-error-rate/],
    [['--url', 'ftp://example.test'], /--url/],
    [['--runtime', 'deno'], /--runtime/],
    [['--connections', '2.5'], /--connections/],
    [['--frobnicate'], /frobnicate/],
    [['positional'], /positional/i],
  ])('refuses %j as a usage error', (argv, message) => {
    expect(() => parseLoadArgs(argv, {})).toThrow(UsageError);
    expect(() => parseLoadArgs(argv, {})).toThrow(message);
  });
});

interface ProgramRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs tests/load/load.ts as `npm run load` does, with only the environment given here. */
function runProgram(args: string[], env: Record<string, string> = {}): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/load/load.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('load suite: the program', () => {
  it('exits 2 with the usage on a bad command line, before starting anything', async () => {
    const bad = await runProgram(['--mix', 'health=40,chaos=5']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown class "chaos"');
    expect(bad.stderr).toContain('Usage:');
    const noCredentials = await runProgram(['--url', 'http://127.0.0.1:9']);
    expect(noCredentials.code).toBe(2);
    expect(noCredentials.stderr).toContain('LOAD_API_KEY');
  });

  it('exits 1 when the platform it is sent to does not answer', async () => {
    const port = await freePort();
    const run = await runProgram(['--url', `http://127.0.0.1:${port}`, '--duration', '1s'], {
      LOAD_ADMIN_EMAIL: PROCESS_ADMIN.email,
      LOAD_ADMIN_PASSWORD: PROCESS_ADMIN.password,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/failed: .*(fetch failed|ECONNREFUSED)/);
  });
});

describe.runIf(mustRun('bun'))('load suite: against a running platform', () => {
  let root: string;
  let server: ServerProcess;
  const credentials = { LOAD_ADMIN_EMAIL: PROCESS_ADMIN.email, LOAD_ADMIN_PASSWORD: PROCESS_ADMIN.password };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bc-load-suite-'));
    // The embedded PostgreSQL runs as the `postgres` user when we are root: it must reach its folder.
    await chmod(root, 0o755);
    server = await startServer({ runtime: 'bun', env: { DATA_DIR: root } });
  });
  afterAll(async () => {
    await stopAllServers();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('sends the mix at the rate, passes its thresholds and finds every acknowledged write', async () => {
    // 4 s at 50 req/s: 200 requests, two whole cycles of the 100-weight mix. Latency and rate
    // bounds far beyond any real answer: tests do not judge wall-clock time (other test files
    // share the cores); `npm run load` does, with its defaults.
    const run = await runProgram(
      [
        ...['--url', server.url, '--rate', '50', '--duration', '4s', '--warmup', '0s', '--json'],
        ...['--p99', '10000', '--min-rate', '50%'],
      ],
      credentials,
    );
    expect(run.code, `${run.stderr}\n${run.stdout}`).toBe(0);
    const report = JSON.parse(run.stdout) as LoadReport;
    const byClass = Object.fromEntries(report.classes.map((c) => [c.name, c]));
    expect(report.total).toMatchObject({ sent: 200, completed: 200, failed: 0, errors: {} });
    expect(byClass.health).toMatchObject({ sent: 80, completed: 80 });
    expect(byClass.read).toMatchObject({ sent: 60, completed: 60 });
    expect(byClass.auth).toMatchObject({ sent: 40, completed: 40 });
    expect(byClass.write).toMatchObject({ sent: 20, completed: 20 });
    for (const endpoint of report.endpoints) expect(endpoint.completed).toBeGreaterThan(0);
    expect(report.total.rps).toBeGreaterThan(25);
    expect(report.total.rps).toBeLessThanOrEqual(50);
    expect(report.total.p50Ms).toBeLessThanOrEqual(report.total.p99Ms);
    expect(report.total.p99Ms).toBeLessThanOrEqual(report.total.maxMs);
    expect(report.pass).toBe(true);
    expect(report.thresholds.map((t) => [t.name, t.pass])).toEqual([
      ['health p99', true],
      ['read p99', true],
      ['auth p99', true],
      ['write p99', true],
      ['error rate', true],
      ['achieved rate', true],
      ['writes stored = acknowledged', true],
    ]);

    // The writes: 20 measured plus the one sent before the clock started, all stored.
    expect(report.writes).toMatchObject({ acknowledged: 21, stored: 21, lost: 0, duplicated: 0 });
    // Counted again here, independently of the program, through the admin's own session.
    const admin = await adminHeaders(server);
    const input = encodeURIComponent(JSON.stringify({ tag: report.tag, limit: 500 }));
    const response = await fetch(`${server.url}/api/trpc/system.annotations.list?input=${input}`, {
      headers: admin,
    });
    const rows = ((await response.json()) as { result: { data: { items: { text: string }[] } } }).result.data
      .items;
    expect(new Set(rows.map((r) => r.text)).size).toBe(21);
  });

  it('prints the tables and exits 1 when a threshold cannot be met', async () => {
    const run = await runProgram(
      [
        ...['--url', server.url, '--rate', '50', '--duration', '2s', '--warmup', '0s', '--p99', '0.001'],
        // Only the latency bound is impossible; nothing else may depend on the machine's speed.
        '--min-rate',
        '10%',
      ],
      credentials,
    );
    expect(run.code, run.stderr).toBe(1);
    // The traffic itself succeeded: only the latency bounds fail.
    const totalRow = run.stdout.split('\n').find((line) => line.startsWith('| total '));
    expect(totalRow?.split('|').map((cell) => cell.trim())).toEqual([
      '',
      'total',
      '100',
      '100',
      // 100 answers over the 2 s, or over a little more when the last answers came after them.
      expect.stringMatching(/^\d\d\.\d$/),
      expect.any(String),
      expect.any(String),
      expect.any(String),
      expect.any(String),
      '0',
      '',
    ]);
    for (const name of ['health', 'read', 'auth', 'write'])
      expect(run.stdout).toMatch(new RegExp(`\\| ${name} p99 +\\| < 0.001 ms +\\| [^|]+ \\| FAIL +\\|`));
    expect(run.stdout).toMatch(/\| error rate +\|[^|]+\|[^|]+\| PASS +\|/);
    expect(run.stdout).toContain('FAIL: 4 of 7 thresholds missed');
  });
});
