import type { LoadResult } from './load';

/** One load run plus the CPU time the server spent on it. */
export interface Measurement extends LoadResult {
  serverCpuSeconds: number;
}

export interface ScenarioResult {
  scenario: string;
  /** The runtime both sides ran on. */
  runtime: 'bun' | 'node';
  baselineName: string;
  platformName: string;
  /**
   * Minimum platform/baseline throughput ratio the design asks for; undefined for a reference
   * row (a comparison printed for context, with no target of its own).
   */
  targetRatio?: number;
  /** The platform's p99 may be at most this many times its p50 (DESIGN.md's Node target). */
  maxP99OverP50?: number;
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

/** The platform's tail: median p99 over median p50 across rounds. */
export function tailRatio(result: ScenarioResult): number {
  const plat = summary(result.platform);
  return plat.p99 / plat.p50;
}

/** Whether the row meets its target; undefined for a reference row. */
export function met(result: ScenarioResult): boolean | undefined {
  if (result.targetRatio === undefined) return undefined;
  const throughput = ratio(result) >= result.targetRatio;
  const tail = result.maxP99OverP50 === undefined || tailRatio(result) <= result.maxP99OverP50;
  return throughput && tail;
}

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => n.toFixed(2);
const percent = (n: number) => `${Math.round(n * 100)}%`;
const mebibytes = (bytes: number | undefined) => (bytes === undefined ? '?' : (bytes / 2 ** 20).toFixed(0));

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
    target.padEnd(21),
    `${thousands(m.requestsPerSecond).padStart(8)} req/s`,
    `p50 ${ms(m.p50Ms).padStart(6)} ms`,
    `p99 ${ms(m.p99Ms).padStart(7)} ms`,
    `server CPU ${percent(cpuShare(m)).padStart(4)}${errors}`,
  ].join('  ');
}

/** What a row's target says, e.g. ">= 0.75x" or ">= 1.00x, p99 <= 3x p50"; "reference" without one. */
function targetText(result: ScenarioResult): string {
  if (result.targetRatio === undefined) return 'reference';
  const tail = result.maxP99OverP50 === undefined ? '' : `, p99 <= ${result.maxP99OverP50}x p50`;
  return `>= ${result.targetRatio.toFixed(2)}x${tail}`;
}

/**
 * The bench's table, two rows a scenario (baseline, then platform): throughput, the platform's
 * ratio to its baseline and its target, latency, requests per CPU-second of the server (what a
 * request costs, which other processes on the machine do not change) with its ratio, and the
 * server process's peak RSS (`peakRss`, by target name).
 */
export function formatTable(results: ScenarioResult[], peakRss: Record<string, number | undefined>): string {
  const rows = [
    '| scenario | runtime | server | req/s | ratio | target | met? | p50 ms | p99 ms | req per server CPU-s | ratio per CPU-s | peak RSS MiB |',
    '|---|---|---|--:|--:|---|---|--:|--:|--:|--:|--:|',
  ];
  for (const result of results) {
    const base = summary(result.baseline);
    const plat = summary(result.platform);
    const verdict = met(result);
    const metText = verdict === undefined ? '' : verdict ? 'yes' : '**NO**';
    rows.push(
      `| ${result.scenario} | ${result.runtime} | ${result.baselineName} | ${thousands(base.rps)} | 1.00 | | | ${ms(base.p50)} | ${ms(base.p99)} | ${thousands(base.perCpuSecond)} | 1.00 | ${mebibytes(peakRss[result.baselineName])} |`,
      `| ${result.scenario} | ${result.runtime} | ${result.platformName} | ${thousands(plat.rps)} | ${ratio(result).toFixed(2)} | ${targetText(result)} | ${metText} | ${ms(plat.p50)} | ${ms(plat.p99)} | ${thousands(plat.perCpuSecond)} | ${cpuRatio(result).toFixed(2)} | ${mebibytes(peakRss[result.platformName])} |`,
    );
  }
  return rows.join('\n');
}

/** Lines to print under the table: what makes numbers suspect, then the misses. */
export function formatVerdict(results: ScenarioResult[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    const base = summary(result.baseline);
    const plat = summary(result.platform);
    const label = `${result.scenario} (${result.runtime})`;
    if (base.errors + plat.errors) {
      lines.push(`WARNING: ${label}: ${base.errors + plat.errors} failed requests; its numbers are suspect.`);
    }
    if (result.sharesCoreWithDatabase) {
      lines.push(
        `NOTE: ${label}: both servers share their core with PostgreSQL (${result.baselineName} used ` +
          `${percent(base.cpuShare)} of it, platform ${percent(plat.cpuShare)}); per CPU-second counts the servers' own CPU only.`,
      );
      continue;
    }
    for (const [name, s] of [
      [result.baselineName, base],
      [result.platformName, plat],
    ] as const) {
      if (s.cpuShare < SATURATED) {
        lines.push(
          `WARNING: ${label}: ${name} used ${percent(s.cpuShare)} of its core: the load did not saturate ` +
            'it or other processes ran on its core; trust the per-CPU-second ratio more than req/s.',
        );
      }
    }
  }
  const judged = results.filter((r) => met(r) !== undefined);
  const missed = judged.filter((r) => met(r) === false);
  if (judged.length > 0 && missed.length === 0) lines.push('All targets met.');
  for (const r of missed) {
    const tail =
      r.maxP99OverP50 === undefined
        ? ''
        : `; p99 ${tailRatio(r).toFixed(1)}x p50, target <= ${r.maxP99OverP50}x`;
    lines.push(
      `MISSED: ${r.scenario} (${r.runtime}) at ${ratio(r).toFixed(2)}x of ${r.baselineName} in req/s (${cpuRatio(r).toFixed(2)}x per CPU-second), target >= ${r.targetRatio!.toFixed(2)}x${tail}.`,
    );
  }
  return lines;
}
