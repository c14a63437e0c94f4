import type { LoadResult } from './load';

/** One load run plus the CPU time the server spent on it. */
export interface Measurement extends LoadResult {
  serverCpuSeconds: number;
}

export interface ScenarioResult {
  scenario: string;
  baselineName: string;
  /** Minimum platform/baseline throughput ratio the design asks for. */
  targetRatio: number;
  /**
   * Both servers query the platform's PostgreSQL, which runs on their core (it inherits the
   * platform's pinning): neither can use its whole core, and its CPU time is not the servers'.
   */
  sharesCoreWithDatabase?: boolean;
  /** One entry per round, measured back to back. */
  baseline: Measurement[];
  platform: Measurement[];
}

/** Below this share of its core, a server was not saturated or something else ran on its core. */
const SATURATED = 0.9;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const perCpuSecond = (m: Measurement) => m.requests / m.serverCpuSeconds;
const cpuShare = (m: Measurement) => m.serverCpuSeconds / m.durationSeconds;

/**
 * Ratios are medians of per-round ratios, not ratios of medians: each round measures baseline
 * and platform back to back, so a slow patch on the machine (another process, throttling)
 * affects both sides of one ratio instead of one side of the result.
 */
function medianRatio(result: ScenarioResult, measure: (m: Measurement) => number): number {
  return median(
    result.platform.map((p, i) => {
      const base = result.baseline[i];
      return base ? measure(p) / measure(base) : Number.NaN;
    }),
  );
}

export const ratio = (result: ScenarioResult) => medianRatio(result, (m) => m.requestsPerSecond);
export const cpuRatio = (result: ScenarioResult) => medianRatio(result, perCpuSecond);
export const met = (result: ScenarioResult) => ratio(result) >= result.targetRatio;

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => n.toFixed(2);
const percent = (n: number) => `${Math.round(n * 100)}%`;

function summary(runs: Measurement[]) {
  return {
    rps: median(runs.map((r) => r.requestsPerSecond)),
    p50: median(runs.map((r) => r.p50Ms)),
    p99: median(runs.map((r) => r.p99Ms)),
    perCpuSecond: median(runs.map(perCpuSecond)),
    cpuShare: median(runs.map(cpuShare)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
  };
}

/** One progress line per measurement, as it completes. */
export function formatRun(round: number, scenario: string, target: string, m: Measurement): string {
  const errors = m.errors ? `  ERRORS ${m.errors}` : '';
  return [
    `round ${round}`,
    scenario.padEnd(31),
    target.padEnd(14),
    `${thousands(m.requestsPerSecond).padStart(8)} req/s`,
    `p50 ${ms(m.p50Ms).padStart(6)} ms`,
    `p99 ${ms(m.p99Ms).padStart(6)} ms`,
    `server CPU ${percent(cpuShare(m)).padStart(4)}${errors}`,
  ].join('  ');
}

/** The table the issue asks for: throughput and latency, and the throughput ratio judged. */
export function formatTable(results: ScenarioResult[]): string {
  const rows = [
    '| scenario | target | req/s | p50 ms | p99 ms | ratio to baseline | target ratio | met? |',
    '|---|---|--:|--:|--:|--:|--:|---|',
  ];
  for (const result of results) {
    const base = summary(result.baseline);
    const plat = summary(result.platform);
    rows.push(
      `| ${result.scenario} | ${result.baselineName} (baseline) | ${thousands(base.rps)} | ${ms(base.p50)} | ${ms(base.p99)} | 1.00 | | |`,
      `| ${result.scenario} | platform | ${thousands(plat.rps)} | ${ms(plat.p50)} | ${ms(plat.p99)} | ${ratio(result).toFixed(2)} | >= ${result.targetRatio.toFixed(2)} | ${met(result) ? 'yes' : '**NO**'} |`,
    );
  }
  return rows.join('\n');
}

/**
 * The same comparison per CPU-second the server used: what each request costs, which other
 * processes on the machine do not change. When the two ratios disagree, the machine was busy.
 */
export function formatCpuTable(results: ScenarioResult[]): string {
  const rows = [
    '| scenario | target | requests per server CPU-second | server CPU use | ratio to baseline |',
    '|---|---|--:|--:|--:|',
  ];
  for (const result of results) {
    const base = summary(result.baseline);
    const plat = summary(result.platform);
    rows.push(
      `| ${result.scenario} | ${result.baselineName} (baseline) | ${thousands(base.perCpuSecond)} | ${percent(base.cpuShare)} | 1.00 |`,
      `| ${result.scenario} | platform | ${thousands(plat.perCpuSecond)} | ${percent(plat.cpuShare)} | ${cpuRatio(result).toFixed(2)} |`,
    );
  }
  return rows.join('\n');
}

/** Lines to print under the tables: what makes numbers suspect, then the misses. */
export function formatVerdict(results: ScenarioResult[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    const base = summary(result.baseline);
    const plat = summary(result.platform);
    if (base.errors + plat.errors) {
      lines.push(
        `WARNING: ${result.scenario}: ${base.errors + plat.errors} failed requests; its numbers are suspect.`,
      );
    }
    if (result.sharesCoreWithDatabase) {
      lines.push(
        `NOTE: ${result.scenario}: both servers share their core with PostgreSQL (${result.baselineName} used ` +
          `${percent(base.cpuShare)} of it, platform ${percent(plat.cpuShare)}); per CPU-second counts the servers' own CPU only.`,
      );
      continue;
    }
    for (const [name, s] of [
      [result.baselineName, base],
      ['platform', plat],
    ] as const) {
      if (s.cpuShare < SATURATED) {
        lines.push(
          `WARNING: ${result.scenario}: ${name} used ${percent(s.cpuShare)} of its core: the load did not saturate ` +
            'it or other processes ran on its core; trust the per-CPU-second ratio more than req/s.',
        );
      }
    }
  }
  const missed = results.filter((r) => !met(r));
  if (missed.length === 0) lines.push('All targets met.');
  for (const r of missed) {
    lines.push(
      `MISSED: ${r.scenario} at ${ratio(r).toFixed(2)}x of ${r.baselineName} in req/s (${cpuRatio(r).toFixed(2)}x per CPU-second), target >= ${r.targetRatio.toFixed(2)}x.`,
    );
  }
  return lines;
}
