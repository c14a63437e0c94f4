/** What prom-client's Registry reads from a metric at scrape time. */
export interface ScrapedMetric {
  name: string;
  help: string;
  type: 'histogram' | 'counter';
  aggregator: 'sum';
  values: { metricName?: string; labels: Record<string, string>; value: number }[];
}

/**
 * One labelled series of a FastHistogram. A caller that sees the same labels again and again
 * (a route template with its method and status) may keep it and observe into it without a lookup.
 */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly buckets: readonly number[],
  ) {
    this.counts = new Float64Array(buckets.length + 1);
  }

  /** Records `seconds`: a scan of at most 14 bounds and three writes. */
  observe(seconds: number): void {
    const buckets = this.buckets;
    let bucket = 0;
    while (bucket < buckets.length && seconds > (buckets[bucket] as number)) bucket++;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.sum += seconds;
    this.count++;
  }
}

export interface FastHistogramOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
  /** Upper bounds in seconds, ascending. */
  buckets: readonly number[];
}

/**
 * A Prometheus histogram for the request hot path. prom-client's own `observe` validates and
 * hashes a labels object on every call (about a microsecond, measured in-process);
 * here a caller names its series by a string key it already has, labels are built once when a
 * series first appears, and an observation is a Map lookup and three writes.
 *
 * Registered in a prom-client Registry like any metric: the registry calls `get()` at scrape time.
 */
export class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly labelNames: readonly string[];
  private readonly buckets: readonly number[];
  private readonly byKey = new Map<string, HistogramSeries>();

  constructor(options: FastHistogramOptions) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    this.buckets = options.buckets;
  }

  /**
   * Records `seconds` in the series named `key`. `labelValues` (in `labelNames` order) is called
   * only the first time a key is seen; the key must determine them.
   */
  observe(key: string, labelValues: () => readonly (string | number)[], seconds: number): void {
    this.series(key, labelValues).observe(seconds);
  }

  /**
   * The series named `key`, made the first time it is asked for (`labelValues` as in `observe`).
   * Callers may keep it: it lives until `reset()`, after which a kept series no longer reports.
   */
  series(key: string, labelValues: () => readonly (string | number)[]): HistogramSeries {
    let series = this.byKey.get(key);
    if (series === undefined) {
      const values = labelValues();
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = String(values[i]);
      });
      series = new HistogramSeries(labels, this.buckets);
      this.byKey.set(key, series);
    }
    return series;
  }

  /** Every series with its labels, count and sum, for summaries that are not scrapes. */
  totals(): { labels: Record<string, string>; count: number; sum: number }[] {
    return [...this.byKey.values()].map(({ labels, count, sum }) => ({ labels, count, sum }));
  }

  /** Zeroes every series in place, so that series callers keep go on reporting. */
  reset(): void {
    for (const series of this.byKey.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  /** The prom-client metric shape: cumulative `_bucket` series with `le`, then `_sum` and `_count`. */
  get(): ScrapedMetric {
    const values: ScrapedMetric['values'] = [];
    for (const { labels, counts, sum, count } of this.byKey.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += counts[i] as number;
        const le = i < this.buckets.length ? String(this.buckets[i]) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  /** A counter of this histogram's observations per series, e.g. `…_calls_total` beside `…_seconds`. */
  countsAsCounter(name: string, help: string) {
    return {
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      get: (): ScrapedMetric => ({
        name,
        help,
        type: 'counter',
        aggregator: 'sum',
        values: [...this.byKey.values()].map(({ labels, count }) => ({ labels, value: count })),
      }),
    };
  }
}
