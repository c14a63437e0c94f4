import type { ScrapedMetric } from './fast-histogram';

/**
 * A Prometheus counter with two labels for the request path, e.g. rate-limit decisions by policy
 * and decision. prom-client's `Counter.inc(labels)` validates the labels and hashes them (sorted
 * keys joined into a string) on every call, about half a microsecond on Bun; here an increment is
 * two Map lookups on the label values themselves. The same `inc(labels, value)` and `get()` as
 * prom-client's counter, so callers and tests read it the same way.
 */
export class PairCounter<A extends string, B extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly first: A;
  private readonly second: B;
  private readonly byFirst = new Map<
    string,
    Map<string, { labels: Record<string, string>; value: number }>
  >();

  constructor(options: { name: string; help: string; labelNames: readonly [A, B] }) {
    this.name = options.name;
    this.help = options.help;
    [this.first, this.second] = options.labelNames;
  }

  /** Adds `value` (1 by default; never negative) to the series of `labels`. */
  inc(labels: Record<A | B, string>, value = 1): void {
    if (!(value >= 0)) throw new RangeError(`${this.name}: a counter only goes up (${value})`);
    const a = labels[this.first];
    const b = labels[this.second];
    let bySecond = this.byFirst.get(a);
    if (bySecond === undefined) {
      bySecond = new Map();
      this.byFirst.set(a, bySecond);
    }
    const series = bySecond.get(b);
    if (series === undefined) {
      bySecond.set(b, { labels: { [this.first]: a, [this.second]: b }, value });
    } else {
      series.value += value;
    }
  }

  reset(): void {
    this.byFirst.clear();
  }

  /** What prom-client's Registry reads at scrape time. */
  get(): ScrapedMetric {
    const values: ScrapedMetric['values'] = [];
    for (const bySecond of this.byFirst.values()) {
      for (const { labels, value } of bySecond.values()) values.push({ labels: { ...labels }, value });
    }
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values };
  }
}
