import { describe, expect, it } from 'vitest';
import { type AlertStatus, conditionHolds, nextStatus, notifies } from './state-machine';

const at = (seconds: number) => new Date(1_800_000_000_000 + seconds * 1000);

describe('nextStatus', () => {
  it('goes inactive → pending → firing once the condition has held for `for`, then resolves', () => {
    let status: AlertStatus | null = null;
    const steps: [number, boolean, string, string | null][] = [
      [0, false, 'inactive', null],
      [15, true, 'pending', 'inactive→pending'],
      [30, true, 'pending', null],
      [74, true, 'pending', null],
      [75, true, 'firing', 'pending→firing'],
      [90, true, 'firing', null],
      [105, false, 'inactive', 'firing→resolved'],
      [120, false, 'inactive', null],
    ];
    for (const [second, holds, state, transition] of steps) {
      const next = nextStatus(status, holds, 60, at(second));
      expect(next.status.state, `at ${second}s`).toBe(state);
      expect(next.transition ? `${next.transition.from}→${next.transition.to}` : null, `at ${second}s`).toBe(
        transition,
      );
      status = next.status;
    }
  });

  it('keeps the time a state began, and starts firing at the moment it fires', () => {
    const pending = nextStatus(null, true, 60, at(10)).status;
    expect(pending.since).toEqual(at(10));
    expect(nextStatus(pending, true, 60, at(40)).status.since).toEqual(at(10));
    const firing = nextStatus(pending, true, 60, at(70)).status;
    expect(firing).toEqual({ state: 'firing', since: at(70) });
  });

  it('fires at once when `for` is 0, and a pending alert whose condition clears goes back quietly', () => {
    expect(nextStatus(null, true, 0, at(0)).transition).toEqual({ from: 'inactive', to: 'firing' });
    const pending = nextStatus(null, true, 60, at(0)).status;
    const back = nextStatus(pending, false, 60, at(30));
    expect(back.transition).toEqual({ from: 'pending', to: 'inactive' });
    expect(notifies(back.transition!)).toBe(false);
    expect(notifies({ from: 'pending', to: 'firing' })).toBe(true);
    expect(notifies({ from: 'firing', to: 'resolved' })).toBe(true);
    expect(notifies({ from: 'inactive', to: 'pending' })).toBe(false);
  });
});

describe('conditionHolds', () => {
  it('compares with each comparator and is never true of NaN', () => {
    expect(conditionHolds(2, '>', 1)).toBe(true);
    expect(conditionHolds(1, '>', 1)).toBe(false);
    expect(conditionHolds(1, '>=', 1)).toBe(true);
    expect(conditionHolds(0, '<', 1)).toBe(true);
    expect(conditionHolds(1, '<=', 1)).toBe(true);
    expect(conditionHolds(0, '==', 0)).toBe(true);
    expect(conditionHolds(1, '!=', 0)).toBe(true);
    for (const comparator of ['>', '>=', '<', '<=', '==', '!='] as const) {
      expect(conditionHolds(Number.NaN, comparator, 0), comparator).toBe(false);
    }
  });
});
