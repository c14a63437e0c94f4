import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './latency-histogram';
import { RollingLatency } from './rolling-latency';

const MINUTE = 60_000;
/** On a minute boundary, as the intervals are. */
const START = 28_333_333 * MINUTE;

function windowAt(rolling: RollingLatency, now: number, intervals?: number): LatencyHistogram {
  const merged = new LatencyHistogram();
  rolling.mergeInto(merged, now, intervals);
  return merged;
}

describe('RollingLatency', () => {
  it('keeps the current minute and the five before it, and drops older ones', () => {
    const rolling = new RollingLatency();
    expect(rolling.windowSeconds).toBe(300);
    // One slow request in the first minute, then one fast request a minute.
    rolling.record(2, START + 1000);
    for (let minute = 1; minute <= 5; minute++) rolling.record(0.01, START + minute * MINUTE + 1000);
    const atFiveMinutes = windowAt(rolling, START + 5 * MINUTE + 2000);
    expect(atFiveMinutes.count).toBe(6);
    expect(atFiveMinutes.max).toBe(2);

    rolling.record(0.01, START + 6 * MINUTE + 1000);
    const atSixMinutes = windowAt(rolling, START + 6 * MINUTE + 2000);
    expect(atSixMinutes.count).toBe(6);
    expect(atSixMinutes.max).toBe(0.01);
  });

  it('merges only as many past intervals as asked', () => {
    const rolling = new RollingLatency();
    rolling.record(0.5, START);
    rolling.record(0.02, START + MINUTE);
    expect(windowAt(rolling, START + MINUTE, 0).count).toBe(1);
    expect(windowAt(rolling, START + MINUTE, 1).count).toBe(2);
  });

  it('reuses a slot for its new minute, so the ring never holds more than the window', () => {
    const rolling = new RollingLatency({ intervalSeconds: 60, intervals: 2 });
    for (let minute = 0; minute < 10; minute++) {
      for (let i = 0; i < 100; i++) rolling.record(0.001, START + minute * MINUTE);
    }
    expect(windowAt(rolling, START + 9 * MINUTE).count).toBe(300);
    expect(windowAt(rolling, START + 20 * MINUTE).count).toBe(0);
  });
});
