import type { MetricHistoryRow, NewMetricHistoryRow } from '../../../db/repositories/metric-history.table';
import type { AnalyticsKind } from '../../../shared/performance';
import { OVERFLOW_SERIES_NAME } from './analytics';
import { LatencyHistogram, type SparseLatency } from './latency-histogram';
import { type MinuteSlot, MS_PER_MINUTE } from './minute-counts';

/** The name of the point that sums every series of a kind in a minute: what the overview charts. */
export const ALL_SERIES_NAME = '*';

/** One series' requests in one minute, as plain data: what the history stores and merges. */
export interface MinutePoint {
  /** Minutes since the epoch. */
  minute: number;
  kind: AnalyticsKind;
  name: string;
  requests: number;
  clientErrors: number;
  serverErrors: number;
  latency: SparseLatency;
}

export function pointOf(slot: MinuteSlot, kind: AnalyticsKind, name: string): MinutePoint {
  return {
    minute: slot.minute,
    kind,
    name,
    requests: slot.requests,
    clientErrors: slot.clientErrors,
    serverErrors: slot.serverErrors,
    latency: slot.latency.toSparse(),
  };
}

/** Counts and a latency histogram that points (of any instance) are added into. */
export class MinuteSum {
  requests = 0;
  clientErrors = 0;
  serverErrors = 0;
  readonly latency = new LatencyHistogram();

  add(point: Pick<MinutePoint, 'requests' | 'clientErrors' | 'serverErrors' | 'latency'>): void {
    this.requests += point.requests;
    this.clientErrors += point.clientErrors;
    this.serverErrors += point.serverErrors;
    this.latency.mergeSparse(point.latency);
  }

  addSum(other: MinuteSum): void {
    this.requests += other.requests;
    this.clientErrors += other.clientErrors;
    this.serverErrors += other.serverErrors;
    this.latency.merge(other.latency);
  }

  pointAs(minute: number, kind: AnalyticsKind, name: string): MinutePoint {
    const { requests, clientErrors, serverErrors } = this;
    return { minute, kind, name, requests, clientErrors, serverErrors, latency: this.latency.toSparse() };
  }
}

/**
 * The points to store for one kind and minute: the `maxNames` busiest series by name, the rest
 * summed into one `(other)` point (with the analytics' own overflow series, if any), and the sum
 * of all of them as `*`. Bounds the rows a minute can add however many names appear.
 */
export function boundedPoints(points: MinutePoint[], maxNames: number): MinutePoint[] {
  const first = points[0];
  if (first === undefined) return [];
  const { minute, kind } = first;
  const named = points
    .filter((p) => p.name !== OVERFLOW_SERIES_NAME)
    .sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name));
  const kept = named.slice(0, maxNames);
  const folded = [...named.slice(maxNames), ...points.filter((p) => p.name === OVERFLOW_SERIES_NAME)];
  const all = new MinuteSum();
  for (const point of points) all.add(point);
  const result = [...kept];
  if (folded.length > 0) {
    const other = new MinuteSum();
    for (const point of folded) other.add(point);
    result.push(other.pointAs(minute, kind, OVERFLOW_SERIES_NAME));
  }
  result.push(all.pointAs(minute, kind, ALL_SERIES_NAME));
  return result;
}

export function rowOf(point: MinutePoint, instanceId: string): NewMetricHistoryRow {
  return {
    minute: new Date(point.minute * MS_PER_MINUTE),
    instance_id: instanceId,
    kind: point.kind,
    name: point.name,
    requests: point.requests,
    client_errors: point.clientErrors,
    server_errors: point.serverErrors,
    latency_indexes: point.latency.indexes,
    latency_counts: point.latency.counts,
    latency_sum_seconds: point.latency.sumSeconds,
    latency_min_seconds: point.latency.minSeconds,
    latency_max_seconds: point.latency.maxSeconds,
  };
}

export function pointOfRow(row: MetricHistoryRow): MinutePoint {
  return {
    minute: Math.floor(row.minute.getTime() / MS_PER_MINUTE),
    kind: row.kind,
    name: row.name,
    requests: row.requests,
    clientErrors: row.client_errors,
    serverErrors: row.server_errors,
    latency: {
      indexes: row.latency_indexes,
      counts: row.latency_counts,
      sumSeconds: row.latency_sum_seconds,
      minSeconds: row.latency_min_seconds,
      maxSeconds: row.latency_max_seconds,
    },
  };
}
