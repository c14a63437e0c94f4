import type { Matcher, RangeFunction, Selector } from './expression';
import type { SampleHistory, Series, Snapshot } from './sample-history';

/**
 * The series a selector reads: at the latest sample (an instant selector) or over the samples
 * within a window (rate() and the other range functions).
 */

/** Series of the snapshot that the selector matches. */
export function select(snapshot: Snapshot, selector: Selector): Series[] {
  const series = snapshot.metrics.get(selector.metric);
  if (!series) return [];
  const matched: Series[] = [];
  for (const s of series.values()) if (selector.matchers.every((m) => matches(m, s.labels))) matched.push(s);
  return matched;
}

function matches(matcher: Matcher, labels: Record<string, string>): boolean {
  // As in PromQL, a label a series lacks matches as the empty string.
  const value = labels[matcher.label] ?? '';
  switch (matcher.op) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
      return matcher.pattern?.matches(value) === true;
    case '!~':
      return matcher.pattern?.matches(value) === false;
  }
}

// A window of 5m sampled every 15 s may find its oldest sample a few ms past the 5 minutes; a
// tenth of the window of slack lets it use that sample rather than the next one.
const WINDOW_SLACK = 0.1;

export function rate(
  selector: Selector,
  windowSeconds: number,
  history: SampleHistory,
  latest: Snapshot,
): Series[] | undefined {
  const from = latest.at - windowSeconds * 1000 * (1 + WINDOW_SLACK);
  const snapshots = history.holding(selector.metric, from);
  const first = snapshots[0];
  if (!first || first === latest) return undefined;
  const elapsedSeconds = (latest.at - first.at) / 1000;
  const rates: Series[] = [];
  const current = latest.metrics.get(selector.metric) ?? new Map<string, Series>();
  for (const [key, series] of current) {
    if (!selector.matchers.every((m) => matches(m, series.labels))) continue;
    // The first snapshot is the baseline; a series it lacks was born since, at 0.
    let previous = first.metrics.get(selector.metric)?.get(key)?.value ?? 0;
    let increase = 0;
    for (const snapshot of snapshots.slice(1)) {
      const value = snapshot.metrics.get(selector.metric)?.get(key)?.value;
      if (value === undefined) continue;
      // A counter that went down was reset: it counted `value` since.
      increase += value >= previous ? value - previous : value;
      previous = value;
    }
    rates.push({ labels: series.labels, value: increase / elapsedSeconds });
  }
  return rates;
}

/**
 * `increase` is rate × window, as PromQL defines it; `*_over_time` aggregate each series' samples
 * taken within the window (the latest included), as PromQL does.
 */
export function rangeFunction(
  fn: RangeFunction,
  selector: Selector,
  windowSeconds: number,
  history: SampleHistory,
  latest: Snapshot,
): Series[] | undefined {
  if (fn === 'increase') {
    return rate(selector, windowSeconds, history, latest)?.map((s) => ({
      labels: s.labels,
      value: s.value * windowSeconds,
    }));
  }
  const values = new Map<string, Series & { values: number[] }>();
  for (const snapshot of history.holding(selector.metric, latest.at - windowSeconds * 1000)) {
    for (const [key, series] of snapshot.metrics.get(selector.metric) ?? []) {
      if (!selector.matchers.every((m) => matches(m, series.labels))) continue;
      const entry = values.get(key) ?? { labels: series.labels, value: 0, values: [] };
      entry.values.push(series.value);
      values.set(key, entry);
    }
  }
  return [...values.values()].map(({ labels, values: v }) => ({ labels, value: overTime(fn, v) }));
}

function overTime(fn: Exclude<RangeFunction, 'increase'>, values: number[]): number {
  const total = values.reduce((a, b) => a + b, 0);
  switch (fn) {
    case 'max_over_time':
      return Math.max(...values);
    case 'min_over_time':
      return Math.min(...values);
    case 'avg_over_time':
      return total / values.length;
    case 'sum_over_time':
      return total;
    case 'count_over_time':
      return values.length;
  }
}
