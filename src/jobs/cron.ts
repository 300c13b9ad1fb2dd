/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC against
 * whatever time they are given — the product clock, so test mode's clock jumps make runs due.
 * Fields take `*`, numbers, ranges `a-b`, steps `*\/n` and `a-b/n`, and comma lists. Day of week is 0–6
 * (Sunday 0; 7 is accepted for Sunday). As in classic cron, when both day fields are restricted a day
 * matches if either does.
 */
export interface CronExpression {
  source: string;
  minutes: Set<number>;
  hours: Set<number>;
  daysOfMonth: Set<number>;
  months: Set<number>;
  daysOfWeek: Set<number>;
  dayOfMonthRestricted: boolean;
  dayOfWeekRestricted: boolean;
}

export class InvalidCronError extends Error {
  constructor(expression: string, reason: string) {
    super(`invalid cron expression "${expression}": ${reason}`);
  }
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

export function parseCron(expression: string): CronExpression {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) throw new InvalidCronError(expression, 'expected five fields');
  const sets = parts.map((part, index) => parseField(expression, part, FIELDS[index]!));
  const daysOfWeek = new Set([...sets[4]!].map((d) => d % 7));
  return {
    source: parts.join(' '),
    minutes: sets[0]!,
    hours: sets[1]!,
    daysOfMonth: sets[2]!,
    months: sets[3]!,
    daysOfWeek,
    dayOfMonthRestricted: parts[2] !== '*',
    dayOfWeekRestricted: parts[4] !== '*',
  };
}

function parseField(expression: string, field: string, spec: (typeof FIELDS)[number]): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
    if (!match) throw new InvalidCronError(expression, `cannot read ${spec.name} "${item}"`);
    const [, whole, from, to, step] = match;
    let low: number = spec.min;
    let high: number = spec.max;
    if (whole !== '*') {
      low = Number(from);
      high = to !== undefined ? Number(to) : step !== undefined ? spec.max : low;
    }
    const stride = step !== undefined ? Number(step) : 1;
    if (low < spec.min || high > spec.max || low > high || stride < 1) {
      throw new InvalidCronError(expression, `${spec.name} "${item}" is out of range ${spec.min}-${spec.max}`);
    }
    for (let value = low; value <= high; value += stride) values.add(value);
  }
  return values;
}

function dayMatches(cron: CronExpression, date: Date): boolean {
  const dom = cron.daysOfMonth.has(date.getUTCDate());
  const dow = cron.daysOfWeek.has(date.getUTCDay());
  if (cron.dayOfMonthRestricted && cron.dayOfWeekRestricted) return dom || dow;
  return dom && dow;
}

/** The first minute strictly after `after` that the expression matches. */
export function nextCronRun(cron: CronExpression, after: Date): Date {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  // Eight years covers every valid expression (29 February on a given weekday recurs within that).
  const limit = after.getTime() + 8 * 366 * 24 * 3600_000;
  while (t.getTime() <= limit) {
    if (!cron.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(cron, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!cron.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!cron.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return t;
  }
  throw new InvalidCronError(cron.source, 'never matches');
}
