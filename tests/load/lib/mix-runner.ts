import { dueAt, requestCount, runSchedule, weightedSequence } from './arrival';
import { percentileOfSorted } from './latency';
import { type LoadSuiteOptions, TRAFFIC_CLASSES, type TrafficClass } from './load-args';
import type { LoadReport } from './load-report';
import { checkWrites, classTallies, evaluate, statsOf, Tally, type WriteCheck } from './load-results';
import type { Endpoint, LoadClient } from './traffic';

export interface MixSpec {
  client: LoadClient;
  endpoints: Endpoint[];
  rate: number;
  /** Traffic before the measured period: same schedule, same mix, not counted. */
  warmupMs: number;
  durationMs: number;
  /** The mix: classes of weight 0 get no traffic. */
  weights: Record<TrafficClass, number>;
}

export interface MixResult {
  /** Wall time of the measured period, from its first due time to its last answer. */
  wallMs: number;
  /** Compares the writes acknowledged during the run with the write numbers found stored. */
  checkWrites(stored: number[]): WriteCheck;
  report(context: {
    target: string;
    tag: string;
    options: LoadSuiteOptions;
    writes: WriteCheck | undefined;
    serverCpuShare: number | undefined;
    machine: LoadReport['machine'];
  }): LoadReport;
}

/** A write answered 200 is acknowledged when its body is the stored row (it carries an id). */
function acknowledges(body: string | undefined): boolean {
  try {
    const parsed = JSON.parse(body ?? '') as { result?: { data?: { id?: unknown } } };
    return typeof parsed.result?.data?.id === 'number';
  } catch {
    return false;
  }
}

/**
 * Runs warm-up and measured period as one unbroken schedule (no gap for the server to catch its
 * breath in), then waits for every answer. Endpoints of a class take turns.
 */
export async function runMix(spec: MixSpec): Promise<MixResult> {
  const { client, endpoints, rate } = spec;
  const warmupCount = requestCount(rate, spec.warmupMs);
  const measuredCount = requestCount(rate, spec.durationMs);
  const byClass = new Map<TrafficClass, Endpoint[]>();
  for (const e of endpoints) byClass.set(e.trafficClass, [...(byClass.get(e.trafficClass) ?? []), e]);
  const nextClass = weightedSequence(TRAFFIC_CLASSES.map((c) => [c, spec.weights[c]] as const));
  const turns = new Map<TrafficClass, number>();
  const classes = classTallies();
  const perEndpoint = new Map(endpoints.map((e) => [e.name, new Tally(e.name)]));

  const acknowledged = new Set<number>();
  let failedWrites = 0;
  let nextWrite = 1;
  let lastAnswer = 0;
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  const pending = new Set<Promise<void>>();

  const launch = (index: number, due: number) => {
    const trafficClass = nextClass();
    const candidates = byClass.get(trafficClass);
    if (!candidates?.length) throw new Error(`no endpoint for class ${trafficClass}`);
    const turn = turns.get(trafficClass) ?? 0;
    turns.set(trafficClass, turn + 1);
    const endpoint = candidates[turn % candidates.length]!;
    const measured = index >= warmupCount;
    if (measured && index === warmupCount) cpuAtStart = process.cpuUsage();
    const isWrite = endpoint.body !== undefined;
    const seq = isWrite ? nextWrite++ : 0;
    const tallies = measured ? [classes.get(trafficClass)!, perEndpoint.get(endpoint.name)!] : [];
    for (const tally of tallies) tally.sent++;
    const answered = client.send(endpoint, seq, isWrite).then((outcome) => {
      const end = performance.now();
      let { ok, result } = outcome;
      if (isWrite) {
        if (ok && acknowledges(outcome.body)) acknowledged.add(seq);
        else {
          if (ok) [ok, result] = [false, 'no row in answer'];
          failedWrites++;
        }
      }
      for (const tally of tallies) tally.finish(ok, result, end - due);
      if (measured) lastAnswer = Math.max(lastAnswer, end);
    });
    pending.add(answered);
    void answered.finally(() => pending.delete(answered));
  };

  // Every endpoint once before the clock starts: a missing scope or a broken route is a setup
  // error to name, not thousands of identical failures in the table.
  for (const endpoint of endpoints.filter((e) => spec.weights[e.trafficClass] > 0)) {
    const seq = endpoint.body ? nextWrite++ : 0;
    const outcome = await client.send(endpoint, seq, true);
    if (!outcome.ok || (endpoint.body && !acknowledges(outcome.body)))
      throw new Error(
        `${endpoint.name} answered ${outcome.result} before the run: ${outcome.body?.slice(0, 300)}`,
      );
    if (endpoint.body) acknowledged.add(seq);
  }

  const startAt = performance.now() + 20;
  const schedule = await runSchedule(warmupCount + measuredCount, rate, startAt, launch);
  await Promise.all(pending);
  const cpu = process.cpuUsage(cpuAtStart);
  const measuredStart = startAt + dueAt(warmupCount, rate);
  // Never shorter than the period itself: answers all in early would otherwise inflate req/s.
  const wallMs = Math.max(lastAnswer - measuredStart, spec.durationMs);
  const lags = schedule.lagsMs.slice(warmupCount).sort();

  return {
    wallMs,
    checkWrites: (stored) => checkWrites(acknowledged, stored, failedWrites),
    report({ target, tag, options, writes, serverCpuShare, machine }) {
      const classStats = [...classes.values()].map((t) => statsOf(t, wallMs));
      const total = statsOf(Tally.total('total', [...classes.values()]), wallMs);
      const thresholds = evaluate(classStats, total, { limits: options.limits, rate, writes });
      return {
        target,
        tag,
        rate,
        durationMs: spec.durationMs,
        warmupMs: spec.warmupMs,
        mix: options.mix,
        elapsedMs: wallMs,
        classes: classStats,
        endpoints: [...perEndpoint.values()].map((t) => statsOf(t, wallMs)),
        total,
        writes,
        generator: {
          lagP99Ms: percentileOfSorted(lags, 99),
          lagMaxMs: lags.length ? lags[lags.length - 1]! : Number.NaN,
          cpuShare: (cpu.user + cpu.system) / 1000 / wallMs,
          connections: options.connections,
        },
        machine,
        serverCpuShare,
        thresholds,
        pass: thresholds.every((t) => t.pass),
      };
    },
  };
}
