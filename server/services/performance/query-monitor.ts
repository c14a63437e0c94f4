import type { QuerySort } from '../../../shared/performance-queries';
import { QueryHistogram } from './query-histogram';
import { sqlShape } from './query-normalize';

/** What is known of a finished query besides its text and duration. */
export interface QueryOutcome {
  /** Rows returned or affected, when the query succeeded. */
  rows?: number;
  /** What it failed with; anything but `undefined` or `false` counts as a failure. */
  error?: unknown;
}

/** One query shape's figures since the process started. */
export interface QueryShapeFigures {
  fingerprint: string;
  /** The normalised text: values as `?`, lists as one element. */
  text: string;
  /** Leading keyword of the statement (`select`, `insert`…). */
  operation: string;
  count: number;
  errors: number;
  totalMs: number;
  meanMs: number;
  /** Within ~9 % above the true value, never above `maxMs`. */
  p95Ms: number;
  maxMs: number;
  /** Rows returned or affected, summed over the successful runs. */
  rows: number;
  meanRows: number | null;
  firstSeen: string;
  lastSeen: string;
}

/** A query that took at least the slow-query threshold. */
export interface SlowQuery {
  fingerprint: string;
  text: string;
  durationMs: number;
  at: string;
  rows: number | null;
  error: boolean;
}

export interface QueryTotals {
  shapes: number;
  count: number;
  errors: number;
  totalMs: number;
  /** Queries counted in the `other` bucket because the shape limit was reached. */
  otherCount: number;
}

export interface QueryMonitorOptions {
  /** Queries taking at least this long enter the slow-query log (PERFORMANCE_SLOW_QUERY_MS). */
  slowQueryMs: number;
  /** Distinct shapes kept; later ones are counted together as `other`. Default 2,000. */
  maxShapes?: number;
  /** Slow queries kept, newest replacing oldest. Default 200. */
  slowLogSize?: number;
  /** Raw SQL texts remembered for the one-lookup fast path; the cache is emptied when full. Default 5,000. */
  maxSqlTexts?: number;
}

interface Shape {
  fingerprint: string;
  text: string;
  operation: string;
  /** The SQL of the first query of this shape exactly as Kysely sent it (`$n` placeholders), for EXPLAIN. */
  sample: string | null;
  count: number;
  errors: number;
  totalMs: number;
  maxMs: number;
  rows: number;
  rowsCounted: number;
  firstSeen: number;
  lastSeen: number;
  histogram: QueryHistogram;
}

interface SlowEntry {
  shape: Shape;
  durationMs: number;
  at: number;
  rows: number | null;
  error: boolean;
}

/** The fingerprint of the bucket collecting shapes beyond `maxShapes`. */
export const OTHER_SHAPE = 'other';

/**
 * Every query the platform runs, grouped by shape: counts, time, rows and a latency histogram per
 * shape, plus a log of the slowest recent queries. `record` is on every query's path, so it is
 * one Map lookup by the raw SQL string (Kysely hands the same strings again and again) and a few
 * counter updates; normalising and hashing happen once per distinct text.
 */
export class QueryMonitor {
  readonly slowQueryMs: number;
  private readonly maxShapes: number;
  private readonly maxSqlTexts: number;
  private readonly bySql = new Map<string, Shape>();
  private readonly byFingerprint = new Map<string, Shape>();
  private readonly other: Shape;
  private readonly slowLog: (SlowEntry | undefined)[];
  private slowNext = 0;
  private normalised = 0;

  constructor(options: QueryMonitorOptions) {
    this.slowQueryMs = options.slowQueryMs;
    this.maxShapes = options.maxShapes ?? 2_000;
    this.maxSqlTexts = options.maxSqlTexts ?? 5_000;
    this.slowLog = new Array(options.slowLogSize ?? 200);
    this.other = newShape(OTHER_SHAPE, `(shapes beyond the first ${this.maxShapes})`, 'other', null);
  }

  /** Counts one finished query. Never throws. */
  record(sqlText: string, durationMs: number, outcome?: QueryOutcome): void {
    const shape = this.bySql.get(sqlText) ?? this.learn(sqlText);
    const failed = outcome?.error !== undefined && outcome.error !== false;
    const rows = outcome?.rows;
    const now = Date.now();
    shape.count++;
    if (failed) shape.errors++;
    shape.totalMs += durationMs;
    if (durationMs > shape.maxMs) shape.maxMs = durationMs;
    if (rows !== undefined) {
      shape.rows += rows;
      shape.rowsCounted++;
    }
    shape.lastSeen = now;
    shape.histogram.record(durationMs);
    if (durationMs >= this.slowQueryMs) {
      this.slowLog[this.slowNext] = { shape, durationMs, at: now, rows: rows ?? null, error: failed };
      this.slowNext = (this.slowNext + 1) % this.slowLog.length;
    }
  }

  /**
   * SQL texts normalised and fingerprinted since start: once per distinct text (again only after
   * the text cache was emptied), never once per query.
   */
  get normalisedTexts(): number {
    return this.normalised;
  }

  /** The `n` shapes ranking highest by `by` (total time by default). */
  top(n: number, by: QuerySort = 'total'): QueryShapeFigures[] {
    return this.allShapes()
      .map(figures)
      .sort((a, b) => sortValue(b, by) - sortValue(a, by))
      .slice(0, n);
  }

  /** The most recent slow queries, newest first. */
  slow(limit = this.slowLog.length): SlowQuery[] {
    const size = this.slowLog.length;
    const out: SlowQuery[] = [];
    for (let k = 1; k <= size && out.length < limit; k++) {
      const entry = this.slowLog[(this.slowNext - k + size) % size];
      if (!entry) break;
      out.push({
        fingerprint: entry.shape.fingerprint,
        text: entry.shape.text,
        durationMs: round(entry.durationMs),
        at: new Date(entry.at).toISOString(),
        rows: entry.rows,
        error: entry.error,
      });
    }
    return out;
  }

  /** One shape's figures, or null when no query of that fingerprint was seen. */
  shape(fingerprint: string): QueryShapeFigures | null {
    const shape = this.find(fingerprint);
    return shape ? figures(shape) : null;
  }

  /**
   * The SQL text of the first query seen of a shape, exactly as Kysely sent it (`$n`
   * placeholders, no values), or null. Only for EXPLAIN: it may hold literals that `sql`
   * templates inlined, so it is never shown to callers.
   */
  capturedSql(fingerprint: string): string | null {
    return this.find(fingerprint)?.sample ?? null;
  }

  totals(): QueryTotals {
    let count = 0;
    let errors = 0;
    let totalMs = 0;
    for (const shape of this.allShapes()) {
      count += shape.count;
      errors += shape.errors;
      totalMs += shape.totalMs;
    }
    return { shapes: this.byFingerprint.size, count, errors, totalMs, otherCount: this.other.count };
  }

  private find(fingerprint: string): Shape | undefined {
    return fingerprint === OTHER_SHAPE ? this.other : this.byFingerprint.get(fingerprint);
  }

  private allShapes(): Shape[] {
    const shapes = [...this.byFingerprint.values()];
    if (this.other.count > 0) shapes.push(this.other);
    return shapes;
  }

  /** The shape of a raw SQL text not seen (or forgotten) before; remembers the text. */
  private learn(sqlText: string): Shape {
    const { text, fingerprint, operation } = sqlShape(sqlText);
    this.normalised++;
    let shape = this.byFingerprint.get(fingerprint);
    if (!shape) {
      if (this.byFingerprint.size >= this.maxShapes) {
        shape = this.other;
      } else {
        shape = newShape(fingerprint, text, operation, sqlText);
        this.byFingerprint.set(fingerprint, shape);
      }
    }
    // Texts that inline values (sql.lit, DDL) are endless; the cache only saves normalising again.
    if (this.bySql.size >= this.maxSqlTexts) this.bySql.clear();
    this.bySql.set(sqlText, shape);
    return shape;
  }
}

function newShape(fingerprint: string, text: string, operation: string, sample: string | null): Shape {
  const now = Date.now();
  return {
    fingerprint,
    text,
    operation,
    sample,
    count: 0,
    errors: 0,
    totalMs: 0,
    maxMs: 0,
    rows: 0,
    rowsCounted: 0,
    firstSeen: now,
    lastSeen: now,
    histogram: new QueryHistogram(),
  };
}

function figures(shape: Shape): QueryShapeFigures {
  return {
    fingerprint: shape.fingerprint,
    text: shape.text,
    operation: shape.operation,
    count: shape.count,
    errors: shape.errors,
    totalMs: round(shape.totalMs),
    meanMs: shape.count ? round(shape.totalMs / shape.count) : 0,
    p95Ms: round(Math.min(shape.histogram.quantile(0.95), shape.maxMs)),
    maxMs: round(shape.maxMs),
    rows: shape.rows,
    meanRows: shape.rowsCounted ? round(shape.rows / shape.rowsCounted) : null,
    firstSeen: new Date(shape.firstSeen).toISOString(),
    lastSeen: new Date(shape.lastSeen).toISOString(),
  };
}

function sortValue(f: QueryShapeFigures, by: QuerySort): number {
  switch (by) {
    case 'total':
      return f.totalMs;
    case 'mean':
      return f.meanMs;
    case 'p95':
      return f.p95Ms;
    case 'max':
      return f.maxMs;
    case 'count':
      return f.count;
  }
}

/** Microsecond precision is all a millisecond figure needs. */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
