import { describe, expect, it } from 'vitest';
import { MinuteCounts, type MinuteSlot } from './minute-counts';

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const MINUTE = 60_000;
const M0 = T0 / MINUTE;

function taken(counts: MinuteCounts, beforeMinute: number) {
  const slots: [number, number, number, number, number][] = [];
  counts.take(beforeMinute, (s: MinuteSlot) =>
    slots.push([s.minute, s.requests, s.clientErrors, s.serverErrors, s.latency.count]),
  );
  return slots;
}

describe('MinuteCounts', () => {
  it('counts each minute apart by outcome, and hands a minute over once, when it is complete', () => {
    const counts = new MinuteCounts();
    counts.record(0.001, 200, T0 + 1_000);
    counts.record(0.001, 404, T0 + 2_000);
    counts.record(0.001, 503, T0 + 59_999);
    expect(taken(counts, M0)).toEqual([]); // still running
    counts.record(0.002, 200, T0 + MINUTE);
    expect(taken(counts, M0 + 1)).toEqual([[M0, 3, 1, 1, 3]]);
    expect(taken(counts, M0 + 1)).toEqual([]);
    // At shutdown the running minute goes too.
    expect(taken(counts, M0 + 2)).toEqual([[M0 + 1, 1, 0, 0, 1]]);
  });

  it('shows what it holds without handing it over', () => {
    const counts = new MinuteCounts();
    counts.record(0.001, 200, T0);
    counts.record(0.001, 200, T0 + MINUTE);
    const seen: number[] = [];
    counts.peek((s) => seen.push(s.minute, s.requests));
    expect(seen).toEqual([M0, 1, M0 + 1, 1]);
    expect(taken(counts, M0 + 2)).toEqual([
      [M0, 1, 0, 0, 1],
      [M0 + 1, 1, 0, 0, 1],
    ]);
  });

  it('counts a request from a clock stepped back in the minute already open', () => {
    const counts = new MinuteCounts();
    counts.record(0.001, 200, T0 + MINUTE + 5_000);
    counts.record(0.001, 200, T0 + 30_000);
    expect(taken(counts, M0 + 2)).toEqual([[M0 + 1, 2, 0, 0, 2]]);
  });

  it('skips idle minutes: the next request opens its own minute', () => {
    const counts = new MinuteCounts();
    counts.record(0.001, 200, T0);
    counts.record(0.001, 200, T0 + 10 * MINUTE);
    expect(taken(counts, M0 + 11)).toEqual([
      [M0, 1, 0, 0, 1],
      [M0 + 10, 1, 0, 0, 1],
    ]);
  });
});
