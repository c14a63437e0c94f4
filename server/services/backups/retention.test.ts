import { describe, expect, it } from 'vitest';
import { loadOrder } from './catalogue';
import { expiredBackups, type RetentionCandidate } from './retention';

const now = new Date('2026-06-30T12:00:00Z');
const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000);
/** One successful backup a day, ids d0 (today) to d9. */
const daily: RetentionCandidate[] = Array.from({ length: 10 }, (_, i) => ({
  id: `d${i}`,
  status: 'succeeded',
  createdAt: daysAgo(i),
}));

describe('expiredBackups', () => {
  it('keeps the newest N by count', () => {
    expect(expiredBackups(daily, { count: 3, days: null }, now)).toEqual([
      'd3',
      'd4',
      'd5',
      'd6',
      'd7',
      'd8',
      'd9',
    ]);
  });

  it('keeps those younger than D days by age', () => {
    expect(expiredBackups(daily, { count: null, days: 7 }, now)).toEqual(['d7', 'd8', 'd9']);
  });

  it('keeps what either rule keeps when both are set', () => {
    expect(expiredBackups(daily, { count: 5, days: 2 }, now)).toEqual(['d5', 'd6', 'd7', 'd8', 'd9']);
    expect(expiredBackups(daily, { count: 1, days: 4 }, now)).toEqual(['d4', 'd5', 'd6', 'd7', 'd8', 'd9']);
  });

  it('keeps everything without a rule', () => {
    expect(expiredBackups(daily, { count: null, days: null }, now)).toEqual([]);
  });

  it('never removes the newest successful backup, however old', () => {
    const old: RetentionCandidate[] = [
      { id: 'old', status: 'succeeded', createdAt: daysAgo(40) },
      { id: 'older', status: 'succeeded', createdAt: daysAgo(41) },
      { id: 'failing', status: 'failed', createdAt: daysAgo(1) },
    ];
    expect(expiredBackups(old, { count: null, days: 7 }, now)).toEqual(['older']);
  });

  it('removes failed backups once a newer one succeeded, and never a running one', () => {
    const mixed: RetentionCandidate[] = [
      { id: 'running', status: 'running', createdAt: daysAgo(0) },
      { id: 'failed-new', status: 'failed', createdAt: daysAgo(0.5) },
      { id: 'ok', status: 'succeeded', createdAt: daysAgo(1) },
      { id: 'failed-old', status: 'failed', createdAt: daysAgo(2) },
      { id: 'running-old', status: 'running', createdAt: daysAgo(3) },
    ];
    expect(expiredBackups(mixed, { count: 10, days: null }, now)).toEqual(['failed-old']);
  });
});

describe('loadOrder', () => {
  it('puts referenced tables first, ties by name, self-references ignored', () => {
    const { order, cyclic } = loadOrder([
      { name: 'sessions', references: ['users', 'organizations'] },
      { name: 'refresh_tokens', references: ['sessions', 'refresh_tokens'] },
      { name: 'users', references: ['organizations'] },
      { name: 'organizations', references: [] },
      { name: 'annotations', references: [] },
    ]);
    expect(order).toEqual(['annotations', 'organizations', 'users', 'sessions', 'refresh_tokens']);
    expect(cyclic).toEqual([]);
  });

  it('reports a cycle, and what depends on it, last', () => {
    const { order, cyclic } = loadOrder([
      { name: 'a', references: ['b'] },
      { name: 'b', references: ['a'] },
      { name: 'c', references: ['a'] },
      { name: 'd', references: [] },
    ]);
    expect(order).toEqual(['d', 'a', 'b', 'c']);
    expect(cyclic).toEqual(['a', 'b', 'c']);
  });

  it('ignores references to tables outside the archive', () => {
    expect(loadOrder([{ name: 'x', references: ['elsewhere'] }]).order).toEqual(['x']);
  });
});
