import { describe, expect, it } from 'vitest';
import { RateWindows } from './rate-windows';

/** A clock a test moves by hand, in ms. */
function manualClock(startMs: number) {
  let now = startMs;
  return {
    now: () => now,
    advance(seconds: number) {
      now += seconds * 1000;
    },
  };
}

const START = 1_700_000_000_000;

describe('RateWindows', () => {
  it('counts the events of complete seconds only, so the second still filling is not under-reported', () => {
    const clock = manualClock(START);
    const windows = new RateWindows({ clock: clock.now });
    for (let i = 0; i < 5; i++) windows.record();
    expect(windows.count(60)).toBe(0);
    clock.advance(1);
    expect(windows.count(60)).toBe(5);
    expect(windows.rate(60)).toBe(5);
  });

  it('reports 1, 5 and 15 minute rates that follow traffic as it starts and stops', () => {
    const clock = manualClock(START);
    const windows = new RateWindows({ clock: clock.now });
    // Two events a second for the first two minutes.
    for (let second = 0; second < 120; second++) {
      windows.record();
      windows.record();
      clock.advance(1);
    }
    expect(windows.rate(60)).toBe(2);
    // Up for two minutes: the longer windows divide by two minutes, not by their own length.
    expect(windows.rate(300)).toBe(2);
    expect(windows.rate(900)).toBe(2);

    clock.advance(60);
    expect(windows.rate(60)).toBe(0);
    expect(windows.rate(300)).toBe(240 / 180);

    clock.advance(720);
    // Fifteen minutes after the first event: only the 15-minute window still holds any.
    expect(windows.count(300)).toBe(0);
    expect(windows.count(900)).toBe(240);
    expect(windows.rate(900)).toBe(240 / 900);
    clock.advance(60);
    expect(windows.count(900)).toBe(120);
    clock.advance(60);
    expect(windows.count(900)).toBe(0);
  });

  it('forgets everything after an idle gap longer than the ring, and counts afresh', () => {
    const clock = manualClock(START);
    const windows = new RateWindows({ clock: clock.now });
    windows.record();
    clock.advance(5000);
    windows.record();
    windows.record();
    clock.advance(1);
    expect(windows.count(900)).toBe(2);
  });

  it('clears a reused slot when the ring comes round to it, so old events never reappear', () => {
    const clock = manualClock(START);
    const windows = new RateWindows({ clock: clock.now });
    for (let i = 0; i < 10; i++) windows.record();
    clock.advance(500);
    windows.record();
    // 1024 s after the first events: the same slot as theirs (the ring has 1024).
    clock.advance(524);
    windows.record();
    clock.advance(1);
    expect(windows.count(900)).toBe(2);
  });

  it('counts an event whose clock stepped back in the latest second instead of rewriting history', () => {
    const clock = manualClock(START);
    const windows = new RateWindows({ clock: clock.now });
    clock.advance(10);
    windows.record();
    windows.record(START + 2000);
    clock.advance(1);
    expect(windows.count(1)).toBe(2);
    expect(windows.count(60)).toBe(2);
  });

  it('refuses windows it cannot answer', () => {
    const windows = new RateWindows({ clock: () => START });
    expect(() => windows.count(0)).toThrow(RangeError);
    expect(() => windows.count(1.5)).toThrow(RangeError);
    expect(() => windows.count(2000)).toThrow(RangeError);
    expect(windows.rate(60)).toBe(0);
  });

  it('is empty after a reset', () => {
    const clock = manualClock(START);
    const windows = new RateWindows({ clock: clock.now });
    windows.record();
    clock.advance(1);
    windows.reset();
    expect(windows.count(60)).toBe(0);
  });
});
