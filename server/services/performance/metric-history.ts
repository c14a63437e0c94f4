import { randomUUID } from 'node:crypto';
import type { PlatformDatabase } from '../../../db/connect';
import {
  deleteMetricHistoryBefore,
  insertMetricHistory,
  listMetricHistory,
} from '../../../db/repositories/metric-history';
import type { AnalyticsKind } from '../../../shared/performance';
import {
  HISTORY_RANGE_MINUTES,
  HISTORY_RETENTION_HOURS,
  type HistoryPoint,
  type PerformanceHistory,
  type PerformanceHistoryInput,
} from '../../../shared/performance-history';
import type { Logger } from '../../base/logger';
import { analyticsClock, type RequestAnalytics } from './analytics';
import {
  ALL_SERIES_NAME,
  boundedPoints,
  type MinutePoint,
  MinuteSum,
  pointOf,
  pointOfRow,
  rowOf,
} from './history-points';
import type { LatencyHistogram } from './latency-histogram';
import { MS_PER_MINUTE } from './minute-counts';

const KINDS: readonly AnalyticsKind[] = ['route', 'procedure'];
/** Rows per INSERT: well under PostgreSQL's 65,535 parameters (12 a row). */
const ROWS_PER_STATEMENT = 500;

export interface MetricHistoryOptions {
  analytics: Pick<RequestAnalytics, 'liveSeries'>;
  database: Pick<PlatformDatabase, 'read' | 'transaction'>;
  logger: Logger;
  /** This process's name in the rows; a new one each start, so a restart never meets its own minutes. */
  instanceId?: string;
  /** ms since the epoch, the analytics' clock (requests are counted in its minutes). */
  clock?: () => number;
  /** How often completed minutes are written (and, once a minute, old ones deleted). */
  flushIntervalMs?: number;
  retentionMs?: number;
  /** Series per kind and minute stored by name; the rest are summed into `(other)`. */
  maxNamesPerMinute?: number;
  /** The longest `stop` waits for the last write. */
  stopTimeoutMs?: number;
}

/**
 * The request history: per-minute points of every route and procedure, kept in PostgreSQL for a
 * day so charts survive reloads and span every instance. The request path only counts (each
 * analytics series holds its current minute); a timer takes completed minutes, writes them with
 * this instance's id and deletes those past retention. Readers sum all instances' rows a minute,
 * histograms bucket by bucket, and add what this instance has not written yet.
 */
export class MetricHistory {
  readonly instanceId: string;
  private readonly options: Required<Omit<MetricHistoryOptions, 'instanceId'>>;
  /** Minutes taken from the series and not yet stored (kept across a failed write). */
  private pending: MinutePoint[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private flushing: Promise<void> | null = null;
  private prunedMinute = -1;

  constructor({ instanceId = randomUUID(), ...options }: MetricHistoryOptions) {
    this.instanceId = instanceId;
    this.options = {
      clock: analyticsClock,
      flushIntervalMs: 10_000,
      retentionMs: HISTORY_RETENTION_HOURS * 3_600_000,
      maxNamesPerMinute: 50,
      stopTimeoutMs: 5_000,
      ...options,
    };
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref?.();
  }

  /**
   * Stops the timer and stores everything counted, the minute still running included. Bounded by
   * `stopTimeoutMs`: with the database gone, shutdown gives the minutes up rather than wait on retries.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    let timeout: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timeout = setTimeout(() => resolve('expired'), this.options.stopTimeoutMs);
    });
    const outcome = await Promise.race([this.flush({ partial: true }), expired]);
    clearTimeout(timeout);
    if (outcome === 'expired') {
      this.options.logger.warn(
        { minutes: this.pending.length, timeoutMs: this.options.stopTimeoutMs },
        'request history not stored before shutdown',
      );
    }
  }

  /**
   * Stores the completed minutes (with `partial`, the running one too) and, once a minute,
   * deletes minutes past retention. A failed write keeps its points for the next flush.
   */
  async flush({ partial = false }: { partial?: boolean } = {}): Promise<void> {
    // One at a time: a slow write must not be overtaken by the next tick's.
    while (this.flushing) await this.flushing;
    this.flushing = this.write(partial).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** Every instance's minutes of one series over `range`, one point a minute. */
  async read(input: PerformanceHistoryInput): Promise<PerformanceHistory> {
    const kind: AnalyticsKind = input.procedure !== undefined ? 'procedure' : 'route';
    const name = input.procedure ?? input.route ?? ALL_SERIES_NAME;
    const now = this.options.clock();
    const lastMinute = Math.floor(now / MS_PER_MINUTE);
    const firstMinute = lastMinute - HISTORY_RANGE_MINUTES[input.range] + 1;
    // This instance's unstored minutes are read before the database: a minute stored meanwhile
    // is then skipped in the rows (it is here), so no minute counts twice or goes missing.
    const local = this.unstored(kind, name, firstMinute);
    const rows = await this.options.database.read((db) =>
      listMetricHistory(db, { kind, name, from: new Date(firstMinute * MS_PER_MINUTE) }),
    );
    const sums = new Map<number, MinuteSum>();
    const sumOf = (minute: number) => {
      let sum = sums.get(minute);
      if (sum === undefined) {
        sum = new MinuteSum();
        sums.set(minute, sum);
      }
      return sum;
    };
    const instances = new Set<string>();
    for (const row of rows) {
      const point = pointOfRow(row);
      if (row.instance_id === this.instanceId && local.has(point.minute)) continue;
      if (point.minute > lastMinute) continue;
      instances.add(row.instance_id);
      sumOf(point.minute).add(point);
    }
    for (const [minute, points] of local) {
      instances.add(this.instanceId);
      for (const point of points) sumOf(minute).add(point);
    }

    const total = new MinuteSum();
    const points: HistoryPoint[] = [];
    for (let minute = firstMinute; minute <= lastMinute; minute++) {
      const sum = sums.get(minute);
      const partial = minute === lastMinute;
      const seconds = partial ? Math.max(1, (now - minute * MS_PER_MINUTE) / 1000) : 60;
      if (sum) total.addSum(sum);
      points.push(historyPointOf(minute, sum, seconds, partial));
    }
    return {
      range: input.range,
      kind,
      name: name === ALL_SERIES_NAME ? null : name,
      stepSeconds: 60,
      from: new Date(firstMinute * MS_PER_MINUTE).toISOString(),
      to: new Date(now).toISOString(),
      instances: instances.size,
      totals: {
        requests: total.requests,
        clientErrors: total.clientErrors,
        serverErrors: total.serverErrors,
        ...percentilesOf(total.latency),
      },
      points,
    };
  }

  private async write(partial: boolean): Promise<void> {
    const { clock, retentionMs, database, logger } = this.options;
    const now = clock();
    const minute = Math.floor(now / MS_PER_MINUTE);
    this.collect(partial ? minute + 1 : minute);
    // Points a long outage kept past retention would be deleted at once: drop them here.
    const oldest = Math.floor((now - retentionMs) / MS_PER_MINUTE);
    if (this.pending.some((p) => p.minute < oldest))
      this.pending = this.pending.filter((p) => p.minute >= oldest);
    const batch = this.pending.slice();
    try {
      for (let i = 0; i < batch.length; i += ROWS_PER_STATEMENT) {
        const rows = batch.slice(i, i + ROWS_PER_STATEMENT).map((p) => rowOf(p, this.instanceId));
        // Idempotent: a minute already stored by this instance is left alone.
        await database.transaction((trx) => insertMetricHistory(trx, rows), { idempotent: true });
      }
      this.pending.splice(0, batch.length);
      if (minute !== this.prunedMinute) {
        await database.transaction((trx) => deleteMetricHistoryBefore(trx, new Date(now - retentionMs)));
        this.prunedMinute = minute;
      }
    } catch (error) {
      logger.warn(
        { err: error, minutes: batch.length },
        'request history not stored; retrying at the next flush',
      );
    }
  }

  /** Takes every series' minutes before `beforeMinute` into `pending`, bounded by name. */
  private collect(beforeMinute: number): void {
    for (const kind of KINDS) {
      const byMinute = new Map<number, MinutePoint[]>();
      for (const series of this.options.analytics.liveSeries(kind)) {
        series.minutes.take(beforeMinute, (slot) => {
          const points = byMinute.get(slot.minute) ?? [];
          points.push(pointOf(slot, kind, series.name));
          byMinute.set(slot.minute, points);
        });
      }
      for (const points of byMinute.values()) {
        this.pending.push(...boundedPoints(points, this.options.maxNamesPerMinute));
      }
    }
  }

  /** This instance's points of one series not stored yet, by minute: pending ones and the live slots. */
  private unstored(kind: AnalyticsKind, name: string, firstMinute: number): Map<number, MinutePoint[]> {
    const byMinute = new Map<number, MinutePoint[]>();
    const add = (point: MinutePoint) => {
      if (point.minute < firstMinute) return;
      const points = byMinute.get(point.minute) ?? [];
      points.push(point);
      byMinute.set(point.minute, points);
    };
    for (const point of this.pending) if (point.kind === kind && point.name === name) add(point);
    for (const series of this.options.analytics.liveSeries(kind)) {
      if (name !== ALL_SERIES_NAME && series.name !== name) continue;
      series.minutes.peek((slot) => add(pointOf(slot, kind, name)));
    }
    return byMinute;
  }
}

function historyPointOf(
  minute: number,
  sum: MinuteSum | undefined,
  seconds: number,
  partial: boolean,
): HistoryPoint {
  const at = new Date(minute * MS_PER_MINUTE).toISOString();
  if (!sum || sum.requests === 0) {
    return {
      at,
      requests: 0,
      clientErrors: 0,
      serverErrors: 0,
      requestsPerSecond: null,
      clientErrorsPerSecond: null,
      serverErrorsPerSecond: null,
      p50Ms: null,
      p95Ms: null,
      p99Ms: null,
      partial,
    };
  }
  return {
    at,
    requests: sum.requests,
    clientErrors: sum.clientErrors,
    serverErrors: sum.serverErrors,
    requestsPerSecond: sum.requests / seconds,
    clientErrorsPerSecond: sum.clientErrors / seconds,
    serverErrorsPerSecond: sum.serverErrors / seconds,
    ...percentilesOf(sum.latency),
    partial,
  };
}

function percentilesOf(histogram: LatencyHistogram): {
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
} {
  if (histogram.count === 0) return { p50Ms: null, p95Ms: null, p99Ms: null };
  const ms = (q: number) => Math.round(histogram.percentile(q) * 1e6) / 1e3;
  return { p50Ms: ms(0.5), p95Ms: ms(0.95), p99Ms: ms(0.99) };
}
