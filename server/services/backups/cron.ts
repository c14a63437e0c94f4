/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), as Vixie cron reads
 * them: `*`, values, ranges `a-b`, steps `*\/n`, `a-b/n` and `a/n`, lists `a,b-c`, month and day
 * names (`jan`, `mon`), 0 or 7 for Sunday, and the macros @yearly, @monthly, @weekly, @daily and
 * @hourly. Evaluated in UTC, so a schedule means the same on every instance whatever its zone.
 *
 * Days follow Vixie's rule: when both day fields are restricted (neither starts with `*`), a
 * day matching either one counts; otherwise a day must match both.
 */

export class CronError extends Error {
  override name = 'CronError';
}

export interface CronExpression {
  source: string;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 (Sunday) to 6. */
  daysOfWeek: ReadonlySet<number>;
  /** Whether each day field is restricted: does not start with `*` (Vixie's DOM_STAR / DOW_STAR). */
  dayOfMonthRestricted: boolean;
  dayOfWeekRestricted: boolean;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  /** Names standing for min, min + 1, ... */
  names?: string[];
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day of week', min: 0, max: 7, names: DAY_NAMES },
];

/** Parses an expression; throws CronError naming the field at fault. */
export function parseCron(expression: string): CronExpression {
  const source = expression.trim();
  const expanded = source.startsWith('@') ? MACROS[source.toLowerCase()] : source;
  if (expanded === undefined) throw new CronError(`unknown macro ${source}`);
  const fields = expanded.split(/\s+/);
  if (fields.length !== 5) {
    throw new CronError(
      `expected 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}`,
    );
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek] = fields.map((field, i) =>
    parseField(field, FIELDS[i]!),
  );
  // 7 is Sunday too.
  if (daysOfWeek!.delete(7)) daysOfWeek!.add(0);
  return {
    source,
    minutes: minutes!,
    hours: hours!,
    daysOfMonth: daysOfMonth!,
    months: months!,
    daysOfWeek: daysOfWeek!,
    dayOfMonthRestricted: !fields[2]!.startsWith('*'),
    dayOfWeekRestricted: !fields[4]!.startsWith('*'),
  };
}

function parseField(field: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    const [range, stepText, extra] = item.split('/');
    if (range === undefined || range === '' || extra !== undefined) throw fieldError(spec, item, 'malformed');
    const step = stepText === undefined ? 1 : parseNumber(stepText, spec, item);
    if (step < 1) throw fieldError(spec, item, 'the step must be at least 1');
    let start: number;
    let end: number;
    if (range === '*') {
      start = spec.min;
      end = spec.max;
    } else if (range.includes('-')) {
      const [from, to, more] = range.split('-');
      if (!from || !to || more !== undefined) throw fieldError(spec, item, 'malformed range');
      start = parseValue(from, spec, item);
      end = parseValue(to, spec, item);
      if (start > end) throw fieldError(spec, item, 'the range runs backwards');
    } else {
      start = parseValue(range, spec, item);
      // `a/n` runs from a to the field's maximum, as in Vixie cron.
      end = stepText === undefined ? start : spec.max;
    }
    for (let value = start; value <= end; value += step) values.add(value);
  }
  return values;
}

function parseValue(text: string, spec: FieldSpec, item: string): number {
  const index = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  const value = index >= 0 ? spec.min + index : parseNumber(text, spec, item);
  if (value < spec.min || value > spec.max) {
    throw fieldError(spec, item, `${text} is outside ${spec.min}-${spec.max}`);
  }
  return value;
}

function parseNumber(text: string, spec: FieldSpec, item: string): number {
  if (!/^\d{1,2}$/.test(text)) throw fieldError(spec, item, `${text} is not a number`);
  return Number(text);
}

function fieldError(spec: FieldSpec, item: string, problem: string): CronError {
  return new CronError(`${spec.name} field "${item}": ${problem}`);
}

/** Far enough for any satisfiable expression (29 February on a given weekday recurs within 28 years). */
const SEARCH_YEARS = 30;
const MINUTE = 60_000;

/**
 * The first time strictly after `after` (to the minute, UTC) the expression matches, or null
 * when it never does (`0 0 30 2 *`).
 */
export function nextRun(cron: CronExpression, after: Date): Date | null {
  let t = Math.floor(after.getTime() / MINUTE) * MINUTE + MINUTE;
  const limit = Date.UTC(new Date(t).getUTCFullYear() + SEARCH_YEARS, 0, 1);
  while (t < limit) {
    const d = new Date(t);
    const year = d.getUTCFullYear();
    const month = d.getUTCMonth();
    const day = d.getUTCDate();
    const hour = d.getUTCHours();
    if (!cron.months.has(month + 1)) {
      t = Date.UTC(year, month + 1, 1);
    } else if (!dayMatches(cron, d)) {
      t = Date.UTC(year, month, day + 1);
    } else if (!cron.hours.has(hour)) {
      t = Date.UTC(year, month, day, hour + 1);
    } else if (!cron.minutes.has(d.getUTCMinutes())) {
      t += MINUTE;
    } else {
      return d;
    }
  }
  return null;
}

function dayMatches(cron: CronExpression, d: Date): boolean {
  const byMonth = cron.daysOfMonth.has(d.getUTCDate());
  const byWeek = cron.daysOfWeek.has(d.getUTCDay());
  // Vixie's cron.c: both must match when either field starts with `*` (a bare `*` matches every
  // day, so the other decides; `*/2` still filters), either may when both are restricted.
  return cron.dayOfMonthRestricted && cron.dayOfWeekRestricted ? byMonth || byWeek : byMonth && byWeek;
}
