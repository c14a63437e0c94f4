import { LatencyRecorder } from './latency';
import { type Limits, TRAFFIC_CLASSES, type TrafficClass } from './load-args';

/** Counts and latencies of one traffic class or endpoint during the measured period. */
export class Tally {
  sent = 0;
  completed = 0;
  readonly errors = new Map<string, number>();
  readonly latency = new LatencyRecorder();

  constructor(readonly name: string) {}

  /**
   * A finished request. Failures keep their latency too: a timeout is the slowest answer there
   * is, and leaving it out would flatter p99 exactly when the server is struggling.
   */
  finish(ok: boolean, result: string, latencyMs: number): void {
    if (ok) this.completed++;
    else this.errors.set(result, (this.errors.get(result) ?? 0) + 1);
    this.latency.record(latencyMs);
  }

  get failed(): number {
    let sum = 0;
    for (const n of this.errors.values()) sum += n;
    return sum;
  }

  static total(name: string, parts: Tally[]): Tally {
    const total = new Tally(name);
    for (const part of parts) {
      total.sent += part.sent;
      total.completed += part.completed;
      for (const [result, n] of part.errors) total.errors.set(result, (total.errors.get(result) ?? 0) + n);
      total.latency.merge(part.latency);
    }
    return total;
  }
}

export interface Stats {
  name: string;
  sent: number;
  /** Answered with a 2xx status. */
  completed: number;
  /** Completed per second of the measured period. */
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  failed: number;
  /** Failures by HTTP status or network error (`timeout`, `ECONNRESET`...). */
  errors: Record<string, number>;
}

/** `elapsedMs`: from the first request's due time to the last answer. */
export function statsOf(tally: Tally, elapsedMs: number): Stats {
  return {
    name: tally.name,
    sent: tally.sent,
    completed: tally.completed,
    rps: elapsedMs > 0 ? tally.completed / (elapsedMs / 1000) : 0,
    p50Ms: tally.latency.percentile(50),
    p95Ms: tally.latency.percentile(95),
    p99Ms: tally.latency.percentile(99),
    maxMs: tally.latency.max,
    failed: tally.failed,
    errors: Object.fromEntries([...tally.errors].sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** Writes acknowledged during the whole run (warm-up included) against the rows found afterwards. */
export interface WriteCheck {
  acknowledged: number;
  /** Rows of this run the platform lists. */
  stored: number;
  /** Acknowledged, yet not stored: a lost write. */
  lost: number;
  /** Stored more than once: an acknowledged write applied twice. */
  duplicated: number;
  /** Stored without an acknowledgement: a write whose answer was lost (a timeout) but which committed. */
  unacknowledged: number;
  /** Writes that failed or timed out, the only ones that may explain an unacknowledged row. */
  failed: number;
}

export function checkWrites(acknowledged: Iterable<number>, stored: number[], failed: number): WriteCheck {
  const acked = new Set(acknowledged);
  const seen = new Map<number, number>();
  for (const seq of stored) seen.set(seq, (seen.get(seq) ?? 0) + 1);
  let lost = 0;
  for (const seq of acked) if (!seen.has(seq)) lost++;
  let duplicated = 0;
  let unacknowledged = 0;
  for (const [seq, n] of seen) {
    if (n > 1) duplicated += n - 1;
    if (!acked.has(seq)) unacknowledged++;
  }
  return { acknowledged: acked.size, stored: stored.length, lost, duplicated, unacknowledged, failed };
}

export interface Threshold {
  name: string;
  limit: string;
  measured: string;
  pass: boolean;
}

const ms = (n: number) => (Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const pct = (n: number) => `${(n * 100).toFixed(n < 0.01 ? 3 : 1)}%`;

/**
 * The verdict of a run: p99 per class that sent traffic, the share of failed requests, the rate
 * the platform kept up with, and (when there were writes) that every acknowledged write is stored
 * exactly once. Each threshold says what it allowed and what was measured.
 */
export function evaluate(
  classes: Stats[],
  total: Stats,
  { limits, rate, writes }: { limits: Limits; rate: number; writes: WriteCheck | undefined },
): Threshold[] {
  const out: Threshold[] = [];
  for (const c of classes) {
    if (c.sent === 0) continue;
    const limit = limits.p99Ms[c.name as TrafficClass];
    out.push({
      name: `${c.name} p99`,
      limit: `< ${limit} ms`,
      measured: `${ms(c.p99Ms)} ms`,
      pass: c.p99Ms < limit,
    });
  }
  const errorRate = total.sent ? total.failed / total.sent : 0;
  out.push({
    name: 'error rate',
    limit: `<= ${pct(limits.maxErrorRate)}`,
    measured: `${pct(errorRate)} (${total.failed} of ${total.sent})`,
    pass: total.sent > 0 && errorRate <= limits.maxErrorRate,
  });
  out.push({
    name: 'achieved rate',
    limit: `>= ${pct(limits.minRateRatio)} of ${rate} req/s`,
    measured: `${total.rps.toFixed(1)} req/s (${pct(total.rps / rate)})`,
    pass: total.rps >= limits.minRateRatio * rate,
  });
  if (writes) {
    out.push({
      name: 'writes stored = acknowledged',
      limit: 'none lost or doubled',
      measured: `${writes.acknowledged} acknowledged, ${writes.stored} stored, ${writes.lost} lost, ${writes.duplicated} doubled, ${writes.unacknowledged} unacknowledged`,
      // An unacknowledged row is fine only as the trace of a write whose answer never came.
      pass: writes.lost === 0 && writes.duplicated === 0 && writes.unacknowledged <= writes.failed,
    });
  }
  return out;
}

/** Tallies for every class of the mix, in table order. */
export function classTallies(): Map<TrafficClass, Tally> {
  return new Map(TRAFFIC_CLASSES.map((c) => [c, new Tally(c)]));
}
