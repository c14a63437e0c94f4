import { describe, expect, it } from 'vitest';
import { OTHER_SHAPE, QueryMonitor } from './query-monitor';

describe('QueryMonitor', () => {
  it('groups texts that differ only in values and list lengths under one shape', () => {
    const monitor = new QueryMonitor({ slowQueryMs: 200 });
    monitor.record('select * from "t" where "id" in ($1, $2)', 2, { rows: 2 });
    monitor.record('select * from "t" where "id" in ($1, $2, $3)', 4, { rows: 3 });
    monitor.record('select  *  from "t" where "id" in (7)', 6, { rows: 0 });
    const [shape, ...rest] = monitor.top(10);
    expect(rest).toEqual([]);
    expect(shape).toMatchObject({
      text: 'select * from "t" where "id" in (?)',
      operation: 'select',
      count: 3,
      errors: 0,
      totalMs: 12,
      meanMs: 4,
      maxMs: 6,
      rows: 5,
      meanRows: 1.667,
    });
    // The first text seen is the one kept for EXPLAIN, placeholders and all.
    expect(monitor.capturedSql(shape!.fingerprint)).toBe('select * from "t" where "id" in ($1, $2)');
  });

  it('gives a p95 no lower than the true one and at most one bucket (~9 %) above it', () => {
    const monitor = new QueryMonitor({ slowQueryMs: 10_000 });
    for (let ms = 1; ms <= 100; ms++) monitor.record('select $1', ms);
    const shape = monitor.top(1)[0]!;
    expect(shape.p95Ms).toBeGreaterThanOrEqual(95);
    expect(shape.p95Ms).toBeLessThanOrEqual(95 * 1.0905);
    expect(shape.maxMs).toBe(100);
  });

  it('never reports a p95 above the slowest query', () => {
    const monitor = new QueryMonitor({ slowQueryMs: 10_000 });
    monitor.record('select 1', 3.3);
    expect(monitor.top(1)[0]!.p95Ms).toBe(3.3);
  });

  it('counts failures as errors of their shape, without rows', () => {
    const monitor = new QueryMonitor({ slowQueryMs: 200 });
    monitor.record('select * from "missing"', 1, { error: new Error('relation does not exist') });
    monitor.record('select * from "missing"', 1, { error: true });
    monitor.record('select * from "missing"', 1, { error: false, rows: 4 });
    expect(monitor.top(1)[0]).toMatchObject({ count: 3, errors: 2, rows: 4, meanRows: 4 });
    expect(monitor.totals()).toMatchObject({ shapes: 1, count: 3, errors: 2, otherCount: 0 });
  });

  it('ranks shapes by the figure asked for', () => {
    const monitor = new QueryMonitor({ slowQueryMs: 10_000 });
    for (let i = 0; i < 10; i++) monitor.record('select "a" from "many"', 1);
    monitor.record('select "b" from "slow"', 50);
    monitor.record('select "c" from "middle"', 5);
    monitor.record('select "c" from "middle"', 5);
    const order = (by: Parameters<QueryMonitor['top']>[1]) => monitor.top(3, by).map((s) => s.text);
    expect(order('count')).toEqual([
      'select "a" from "many"',
      'select "c" from "middle"',
      'select "b" from "slow"',
    ]);
    expect(order('max')[0]).toBe('select "b" from "slow"');
    expect(order('total')).toEqual([
      'select "b" from "slow"',
      'select "a" from "many"',
      'select "c" from "middle"',
    ]);
    expect(monitor.top(1, 'mean')).toHaveLength(1);
  });

  it('counts shapes beyond the limit together as other, which cannot be explained', () => {
    const monitor = new QueryMonitor({ slowQueryMs: 10_000, maxShapes: 3 });
    for (let i = 0; i < 5; i++) monitor.record(`select * from "table_${'x'.repeat(i)}"`, 1);
    monitor.record('select * from "table_xxxx"', 1);
    expect(monitor.totals()).toMatchObject({ shapes: 3, count: 6, otherCount: 3 });
    expect(monitor.shape(OTHER_SHAPE)).toMatchObject({ count: 3, operation: 'other' });
    expect(monitor.capturedSql(OTHER_SHAPE)).toBeNull();
  });

  it('keeps working when the raw-text cache is emptied', () => {
    const monitor = new QueryMonitor({ slowQueryMs: 10_000, maxSqlTexts: 2 });
    for (let i = 0; i < 10; i++) monitor.record(`select ${i}`, 1);
    expect(monitor.top(5)).toHaveLength(1);
    expect(monitor.top(1)[0]!.count).toBe(10);
  });

  it('logs queries at or above the threshold, keeping the newest ones, newest first', () => {
    const monitor = new QueryMonitor({ slowQueryMs: 100, slowLogSize: 3 });
    monitor.record('select pg_sleep(0.05)', 99);
    for (let i = 1; i <= 5; i++) monitor.record(`select pg_sleep(${i})`, 100 * i, { rows: 1 });
    monitor.record('select * from "missing"', 150, { error: new Error('boom') });
    const slow = monitor.slow();
    expect(slow.map((q) => q.durationMs)).toEqual([150, 500, 400]);
    expect(slow[0]).toMatchObject({ text: 'select * from "missing"', error: true, rows: null });
    expect(slow[1]).toMatchObject({ text: 'select pg_sleep(?)', error: false, rows: 1 });
    expect(slow[1]!.fingerprint).toBe(monitor.top(1, 'max')[0]!.fingerprint);
    expect(monitor.slow(1)).toHaveLength(1);
    expect(new QueryMonitor({ slowQueryMs: 1 }).slow()).toEqual([]);
  });

  it('answers null for a fingerprint it has not seen', () => {
    const monitor = new QueryMonitor({ slowQueryMs: 200 });
    expect(monitor.shape('0123456789abcdef')).toBeNull();
    expect(monitor.capturedSql('0123456789abcdef')).toBeNull();
  });

  it('normalises each distinct SQL text once however often it runs, with the same figures as normalising every time', () => {
    const cached = new QueryMonitor({ slowQueryMs: 50 });
    // A text cache of one, two texts in turn: every record normalises again.
    const uncached = new QueryMonitor({ slowQueryMs: 50, maxSqlTexts: 1 });
    const texts = [
      'select * from "api_keys" where "id" = $1 and "organization_id" = $2',
      'select *  from "api_keys" where "id" = $1 and "organization_id" = $2',
    ];
    for (let i = 0; i < 1_000; i++) {
      const text = texts[i % 2]!;
      const durationMs = (i % 97) * 0.731;
      const outcome = i % 50 === 0 ? { error: new Error('failed') } : { rows: i % 3 };
      cached.record(text, durationMs, outcome);
      uncached.record(text, durationMs, outcome);
    }
    expect(cached.normalisedTexts).toBe(2);
    expect(uncached.normalisedTexts).toBe(1_000);
    const figures = (monitor: QueryMonitor) =>
      monitor.top(10).map(({ firstSeen, lastSeen, ...rest }) => rest);
    expect(figures(cached)).toEqual(figures(uncached));
    expect(figures(cached)).toHaveLength(1);
    expect(figures(cached)[0]).toMatchObject({ count: 1_000, errors: 20 });
    expect(cached.totals()).toEqual(uncached.totals());
    expect(cached.slow().map(({ at, ...rest }) => rest)).toEqual(
      uncached.slow().map(({ at, ...rest }) => rest),
    );
  });
});
