import type { Stats, Threshold, WriteCheck } from './load-results';

/** Everything a run measured, as `--json` prints it and the tables show it. */
export interface LoadReport {
  target: string;
  /** The tag of the run's rows (its annotations), to find them afterwards. */
  tag: string;
  rate: number;
  durationMs: number;
  warmupMs: number;
  mix: Record<string, number>;
  /** From the first due time to the last answer of the measured period. */
  elapsedMs: number;
  classes: Stats[];
  endpoints: Stats[];
  total: Stats;
  writes: WriteCheck | undefined;
  generator: {
    /** How late requests were launched against their due time (counted in latency anyway). */
    lagP99Ms: number;
    lagMaxMs: number;
    /** CPU the load generator used, as a share of one core. */
    cpuShare: number;
    connections: number;
  };
  /** The machine: other work on its cores shows in every latency. */
  machine: { cores: number; loadAverageBefore: number; loadAverageAfter: number };
  /** CPU of the platform's process (not its PostgreSQL), when the suite started it. */
  serverCpuShare: number | undefined;
  thresholds: Threshold[];
  pass: boolean;
}

/** Launch lag above this means the generator did not get the CPU it needed to keep its schedule. */
const LATE_LAUNCH_MS = 10;

const ms = (n: number) => (Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1));

function errorsText(errors: Record<string, number>): string {
  const parts = Object.entries(errors).map(([result, n]) => `${result} x${n}`);
  return parts.length ? parts.join(', ') : '0';
}

function table(header: string[], rows: string[][], right: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function statsTable(first: string, stats: Stats[]): string {
  return table(
    [first, 'sent', 'completed', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'errors'],
    stats.map((s) => [
      s.name,
      String(s.sent),
      String(s.completed),
      s.rps.toFixed(1),
      ms(s.p50Ms),
      ms(s.p95Ms),
      ms(s.p99Ms),
      ms(s.maxMs),
      errorsText(s.errors),
    ]),
    [false, true, true, true, true, true, true, true, false],
  );
}

/** The printed report: header, per-class and per-endpoint tables, writes, thresholds, verdict. */
export function formatReport(r: LoadReport): string {
  const mix = Object.entries(r.mix)
    .map(([c, w]) => `${c}=${w}`)
    .join(',');
  const lines = [
    `Load: ${r.rate} req/s for ${r.durationMs / 1000} s (after ${r.warmupMs / 1000} s warm-up), mix ${mix}, open model (latency from each request's due time)`,
    `Target: ${r.target}`,
    `Machine: ${r.machine.cores} cores, 1-minute load average ${r.machine.loadAverageBefore.toFixed(2)} before the run, ${r.machine.loadAverageAfter.toFixed(2)} after`,
    `Generator: 1 Node process, up to ${r.generator.connections} keep-alive connections, ` +
      `launch lag p99 ${ms(r.generator.lagP99Ms)} ms / max ${ms(r.generator.lagMaxMs)} ms, ` +
      `CPU ${(r.generator.cpuShare * 100).toFixed(0)}% of a core` +
      (r.serverCpuShare === undefined
        ? ''
        : `; server CPU ${(r.serverCpuShare * 100).toFixed(0)}% of a core`),
    '',
    statsTable('class', [...r.classes.filter((c) => c.sent > 0), r.total]),
    '',
    statsTable(
      'endpoint',
      r.endpoints.filter((e) => e.sent > 0),
    ),
  ];
  if (r.writes) {
    const w = r.writes;
    lines.push(
      '',
      `Writes (warm-up included): ${w.acknowledged} acknowledged, ${w.stored} rows stored, ${w.lost} lost, ` +
        `${w.duplicated} doubled, ${w.unacknowledged} stored without acknowledgement (${w.failed} writes failed)`,
    );
  }
  // Latency runs from the due time, so a late launch already counts against the server; said
  // here because then part of a miss is the machine's (CPU taken by other processes).
  if (r.generator.lagP99Ms > LATE_LAUNCH_MS) {
    lines.push(
      '',
      `WARNING: requests were launched up to ${ms(r.generator.lagMaxMs)} ms late (p99 ${ms(r.generator.lagP99Ms)} ms): ` +
        'the generator was short of CPU, so the machine is busier than this load; latencies include that wait.',
    );
  }
  lines.push(
    '',
    'Thresholds:',
    table(
      ['threshold', 'limit', 'measured', 'result'],
      r.thresholds.map((t) => [t.name, t.limit, t.measured, t.pass ? 'PASS' : 'FAIL']),
      [false, false, false, false],
    ),
    '',
    r.pass
      ? `PASS: all ${r.thresholds.length} thresholds met`
      : `FAIL: ${r.thresholds.filter((t) => !t.pass).length} of ${r.thresholds.length} thresholds missed`,
  );
  return lines.join('\n');
}
