import type { LoadResult } from './load';

export interface ScenarioResult {
  scenario: string;
  baselineName: string;
  /** Minimum platform/baseline throughput ratio the design asks for. */
  targetRatio: number;
  /** One entry per round, measured back to back. */
  baseline: LoadResult[];
  platform: LoadResult[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The ratio is the median of per-round ratios, not the ratio of medians: each round measures
 * baseline and platform back to back, so a slow patch on the machine (another process, thermal
 * throttling) affects both sides of one ratio instead of one side of the result.
 */
export function ratio(result: ScenarioResult): number {
  return median(
    result.platform.map(
      (p, i) => p.requestsPerSecond / (result.baseline[i]?.requestsPerSecond ?? Number.NaN),
    ),
  );
}

export function met(result: ScenarioResult): boolean {
  return ratio(result) >= result.targetRatio;
}

const rps = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => n.toFixed(2);

function summary(runs: LoadResult[]) {
  return {
    rps: median(runs.map((r) => r.requestsPerSecond)),
    p50: median(runs.map((r) => r.p50Ms)),
    p99: median(runs.map((r) => r.p99Ms)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
  };
}

/** One progress line per measurement, as it completes. */
export function formatRun(round: number, scenario: string, target: string, r: LoadResult): string {
  const errors = r.errors ? `  ERRORS ${r.errors}` : '';
  return `round ${round} ${scenario.padEnd(24)} ${target.padEnd(15)} ${rps(r.requestsPerSecond).padStart(9)} req/s  p50 ${ms(r.p50Ms)} ms  p99 ${ms(r.p99Ms)} ms${errors}`;
}

export function formatTable(results: ScenarioResult[]): string {
  const rows = [
    '| scenario | target | req/s | p50 ms | p99 ms | ratio to baseline | target ratio | met? |',
    '|---|---|--:|--:|--:|--:|--:|---|',
  ];
  for (const result of results) {
    const base = summary(result.baseline);
    const plat = summary(result.platform);
    rows.push(
      `| ${result.scenario} | ${result.baselineName} (baseline) | ${rps(base.rps)} | ${ms(base.p50)} | ${ms(base.p99)} | 1.00 | | |`,
    );
    rows.push(
      `| ${result.scenario} | platform | ${rps(plat.rps)} | ${ms(plat.p50)} | ${ms(plat.p99)} | ${ratio(result).toFixed(2)} | >= ${result.targetRatio.toFixed(2)} | ${met(result) ? 'yes' : '**NO**'} |`,
    );
  }
  return rows.join('\n');
}

/** Lines to print under the table: misses and any run that saw errors (its numbers are suspect). */
export function formatVerdict(results: ScenarioResult[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    const errors = summary(result.baseline).errors + summary(result.platform).errors;
    if (errors)
      lines.push(`WARNING: ${result.scenario}: ${errors} failed requests; its numbers are suspect.`);
  }
  const missed = results.filter((r) => !met(r));
  if (missed.length === 0) lines.push('All targets met.');
  for (const r of missed) {
    lines.push(
      `MISSED: ${r.scenario} at ${ratio(r).toFixed(2)}x of ${r.baselineName}, target >= ${r.targetRatio.toFixed(2)}x.`,
    );
  }
  return lines;
}
