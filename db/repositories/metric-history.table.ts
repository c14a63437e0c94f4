import type { Insertable, Selectable } from 'kysely';

/**
 * One series' requests in one minute on one instance: counts by outcome and the latency
 * histogram's non-empty buckets (`latency_indexes[i]` holds `latency_counts[i]` requests; the
 * layout is server/services/performance/latency-histogram.ts's).
 */
export interface MetricHistoryTable {
  /** The minute's start. */
  minute: Date;
  instance_id: string;
  kind: 'route' | 'procedure';
  /** A route template, a procedure path, `(other)` for names past the bound, or `*` for all of the kind. */
  name: string;
  requests: number;
  client_errors: number;
  server_errors: number;
  latency_indexes: number[];
  latency_counts: number[];
  latency_sum_seconds: number;
  latency_min_seconds: number;
  latency_max_seconds: number;
}

export type MetricHistoryRow = Selectable<MetricHistoryTable>;

export type NewMetricHistoryRow = Insertable<MetricHistoryTable>;
