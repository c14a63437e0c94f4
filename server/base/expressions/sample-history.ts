import { type ParsedSeries, parseSeriesKey } from './metrics-source';

/** One series' labels and value at one sample. */
export interface Series {
  labels: Record<string, string>;
  value: number;
}

/** The series of one sample, by metric name and then by series key. */
export interface Snapshot {
  /** When the sample was taken, ms since the epoch. */
  at: number;
  metrics: Map<string, Map<string, Series>>;
  /** The metrics this snapshot still holds; null while it is the latest and holds all of them. */
  kept: ReadonlySet<string> | null;
}

const MAX_PARSED_KEYS = 100_000;

/**
 * The evaluator's recent samples, for `rate()`. The latest snapshot holds every series (plain
 * selectors read it); once a newer one arrives it is thinned to the metrics some rule's `rate()`
 * reads, and dropped once older than the longest window, so memory stays a few windows of a few
 * metrics however large the registry.
 */
export class SampleHistory {
  private snapshots: Snapshot[] = [];
  private readonly parsed = new Map<string, ParsedSeries>();

  /**
   * Adds a sample taken at `at`. `keep` names the metrics older snapshots must keep, `retainMs`
   * how far back they must reach.
   */
  push(at: number, sample: Map<string, number>, keep: ReadonlySet<string>, retainMs: number): Snapshot {
    const metrics = new Map<string, Map<string, Series>>();
    if (this.parsed.size > MAX_PARSED_KEYS) this.parsed.clear();
    for (const [key, value] of sample) {
      let parsed = this.parsed.get(key);
      if (!parsed) {
        parsed = parseSeriesKey(key);
        this.parsed.set(key, parsed);
      }
      let series = metrics.get(parsed.name);
      if (!series) {
        series = new Map();
        metrics.set(parsed.name, series);
      }
      series.set(key, { labels: parsed.labels, value });
    }
    const previous = this.latest();
    if (previous) {
      for (const name of previous.metrics.keys()) if (!keep.has(name)) previous.metrics.delete(name);
      previous.kept = keep;
    }
    const snapshot: Snapshot = { at, metrics, kept: null };
    this.snapshots.push(snapshot);
    const oldest = at - retainMs;
    while ((this.snapshots[0] as Snapshot).at < oldest) this.snapshots.shift();
    return snapshot;
  }

  latest(): Snapshot | undefined {
    return this.snapshots[this.snapshots.length - 1];
  }

  /** The snapshots taken at or after `from` that hold `metric`, oldest first (the latest included). */
  holding(metric: string, from: number): Snapshot[] {
    return this.snapshots.filter((s) => s.at >= from && (s.kept === null || s.kept.has(metric)));
  }

  get size(): number {
    return this.snapshots.length;
  }
}
