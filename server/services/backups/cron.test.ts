import { describe, expect, it } from 'vitest';
import { CronError, nextRun, parseCron } from './cron';

const at = (iso: string) => new Date(iso);
/** The next `count` runs after `from`, as ISO strings. */
function runs(expression: string, from: string, count: number): string[] {
  const cron = parseCron(expression);
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < count; i++) {
    const next = nextRun(cron, t);
    if (!next) break;
    out.push(next.toISOString());
    t = next;
  }
  return out;
}

describe('parseCron', () => {
  it('expands *, values, ranges, steps and lists', () => {
    const cron = parseCron('*/15 1-3,22 1,15 */4 mon-fri');
    expect([...cron.minutes]).toEqual([0, 15, 30, 45]);
    expect([...cron.hours]).toEqual([1, 2, 3, 22]);
    expect([...cron.daysOfMonth]).toEqual([1, 15]);
    expect([...cron.months]).toEqual([1, 5, 9]);
    expect([...cron.daysOfWeek]).toEqual([1, 2, 3, 4, 5]);
  });

  it('reads a range with a step, a start with a step, and names in any case', () => {
    const cron = parseCron('10-30/10 5/6 * JAN,Mar sun');
    expect([...cron.minutes]).toEqual([10, 20, 30]);
    expect([...cron.hours]).toEqual([5, 11, 17, 23]);
    expect([...cron.months]).toEqual([1, 3]);
    expect([...cron.daysOfWeek]).toEqual([0]);
  });

  it('takes 7 as Sunday', () => {
    expect([...parseCron('0 0 * * 7').daysOfWeek]).toEqual([0]);
    expect([...parseCron('0 0 * * 5-7').daysOfWeek].sort()).toEqual([0, 5, 6]);
  });

  it('expands the macros', () => {
    expect(runs('@daily', '2026-03-10T12:00:00Z', 1)).toEqual(['2026-03-11T00:00:00.000Z']);
    expect(runs('@hourly', '2026-03-10T12:00:00Z', 1)).toEqual(['2026-03-10T13:00:00.000Z']);
    expect(runs('@weekly', '2026-03-10T12:00:00Z', 1)).toEqual(['2026-03-15T00:00:00.000Z']);
    expect(runs('@monthly', '2026-03-10T12:00:00Z', 1)).toEqual(['2026-04-01T00:00:00.000Z']);
    expect(runs('@yearly', '2026-03-10T12:00:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
  });

  it.each([
    ['* * * *', /expected 5 fields/],
    ['* * * * * *', /expected 5 fields/],
    ['60 * * * *', /minute field "60": 60 is outside 0-59/],
    ['* 24 * * *', /hour field/],
    ['* * 0 * *', /day of month field/],
    ['* * * 13 *', /month field/],
    ['* * * * 8', /day of week field/],
    ['5-1 * * * *', /runs backwards/],
    ['*/0 * * * *', /step must be at least 1/],
    ['1,,2 * * * *', /malformed/],
    ['1-2-3 * * * *', /malformed range/],
    ['*/5/2 * * * *', /malformed/],
    ['a * * * *', /is not a number/],
    ['-1 * * * *', /malformed range/],
    ['@reboot', /unknown macro/],
  ])('refuses %s', (expression, message) => {
    expect(() => parseCron(expression)).toThrow(CronError);
    expect(() => parseCron(expression)).toThrow(message);
  });
});

describe('nextRun', () => {
  it('is strictly after the given time, to the minute', () => {
    expect(runs('* * * * *', '2026-03-10T12:00:00Z', 2)).toEqual([
      '2026-03-10T12:01:00.000Z',
      '2026-03-10T12:02:00.000Z',
    ]);
    expect(runs('* * * * *', '2026-03-10T12:00:59.999Z', 1)).toEqual(['2026-03-10T12:01:00.000Z']);
  });

  it('steps through minutes, hours, days and months', () => {
    expect(runs('30 2 * * *', '2026-03-10T02:30:00Z', 2)).toEqual([
      '2026-03-11T02:30:00.000Z',
      '2026-03-12T02:30:00.000Z',
    ]);
    expect(runs('0 */6 * * *', '2026-03-10T19:00:00Z', 3)).toEqual([
      '2026-03-11T00:00:00.000Z',
      '2026-03-11T06:00:00.000Z',
      '2026-03-11T12:00:00.000Z',
    ]);
    expect(runs('0 0 31 * *', '2026-01-31T00:00:00Z', 3)).toEqual([
      '2026-03-31T00:00:00.000Z',
      '2026-05-31T00:00:00.000Z',
      '2026-07-31T00:00:00.000Z',
    ]);
    expect(runs('15 10 1 jan,jul *', '2026-02-01T00:00:00Z', 2)).toEqual([
      '2026-07-01T10:15:00.000Z',
      '2027-01-01T10:15:00.000Z',
    ]);
  });

  it('crosses the end of a year and finds 29 February of the next leap year', () => {
    expect(runs('59 23 31 12 *', '2026-12-31T23:59:00Z', 1)).toEqual(['2027-12-31T23:59:00.000Z']);
    expect(runs('0 0 29 2 *', '2026-03-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
  });

  it('matches either day field when both are restricted, both when one starts with *', () => {
    // 13th of the month or any Friday (2026-03-13 is a Friday; 2026-03-06 and -20 are Fridays).
    expect(runs('0 0 13 * fri', '2026-03-01T00:00:00Z', 4)).toEqual([
      '2026-03-06T00:00:00.000Z',
      '2026-03-13T00:00:00.000Z',
      '2026-03-20T00:00:00.000Z',
      '2026-03-27T00:00:00.000Z',
    ]);
    // Only Mondays: the day-of-month field is *.
    expect(runs('0 0 * * mon', '2026-03-10T00:00:00Z', 2)).toEqual([
      '2026-03-16T00:00:00.000Z',
      '2026-03-23T00:00:00.000Z',
    ]);
    // `*/2` in day of week still filters (Vixie: a field starting with * makes the days AND).
    expect(runs('0 0 1-7 * */2', '2026-02-28T00:00:00Z', 3)).toEqual([
      '2026-03-01T00:00:00.000Z',
      '2026-03-03T00:00:00.000Z',
      '2026-03-05T00:00:00.000Z',
    ]);
  });

  it('returns null for an expression that never matches', () => {
    expect(nextRun(parseCron('0 0 30 2 *'), at('2026-01-01T00:00:00Z'))).toBeNull();
    expect(nextRun(parseCron('0 0 31 4,6,9,11 *'), at('2026-01-01T00:00:00Z'))).toBeNull();
  });
});
