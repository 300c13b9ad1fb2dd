/**
 * Calendar arithmetic of the sync window, active threads, re-authorization and the
 * inactivity purge. Calendar fields are read in UTC, the product's single reference time zone.
 */

/** seats first authorized before this instant keep the legacy window start. Configuration default. */
export const DEFAULT_LEGACY_FIRST_AUTHORIZED_BEFORE: Date = new Date('2025-02-05T00:00:00.000Z');
/** the legacy window start. Configuration default. */
export const DEFAULT_LEGACY_WINDOW_START: Date = new Date('2024-02-06T00:00:00.000Z');

export interface LegacyWindow {
  readonly firstAuthorizedBefore: Date;
  readonly windowStart: Date;
}

/** Fresh copies, so no caller can shift the defaults for everyone by mutating a Date. */
export function defaultLegacyWindow(): LegacyWindow {
  return { firstAuthorizedBefore: new Date(DEFAULT_LEGACY_FIRST_AUTHORIZED_BEFORE), windowStart: new Date(DEFAULT_LEGACY_WINDOW_START) };
}

/** "Six months" in means six calendar months. */
export const INACTIVITY_MONTHS = 6;
/** the window reaches back one year (twelve calendar months). */
export const WINDOW_MONTHS = 12;

function assertValid(date: Date, name: string): void {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new RangeError(`${name} must be a valid Date`);
}

/**
 * Adds (or with a negative count subtracts) calendar months, keeping the time of day and clamping the day to the
 * target month's end: 31 Aug 2024 − 6 months = 29 Feb 2024; 31 Aug 2023 − 6 months = 28 Feb 2023.
 */
export function addCalendarMonths(date: Date, months: number): Date {
  assertValid(date, 'date');
  if (!Number.isInteger(months)) throw new RangeError('months must be an integer');
  const total = date.getUTCMonth() + months;
  const year = date.getUTCFullYear() + Math.floor(total / 12);
  const month = ((total % 12) + 12) % 12;
  const result = new Date(date.getTime());
  result.setUTCDate(1); // first, so that changing year and month cannot overflow into the next month
  result.setUTCFullYear(year, month, 1);
  const lastDay = new Date(Date.UTC(2000, month + 1, 0)).getUTCDate() - (month === 1 && !isLeapYear(year) ? 1 : 0);
  result.setUTCDate(Math.min(date.getUTCDate(), lastDay));
  return result;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * R-35 window start: this authorization time minus one year; for a seat whose *first* authorization was before
 * `legacy.firstAuthorizedBefore`, the legacy start `legacy.windowStart` — at every authorization of that seat,
 * as SPEC words it ("for a seat whose first authorization was before 2025-02-05, the window start is
 * 2024-02-06"; the FAQ: "or after February 6 2024 if originally authorized before Feb 5 2025").
 */
export function windowStart(input: { authorizedAt: Date; firstAuthorizedAt: Date; legacy?: LegacyWindow }): Date {
  const { authorizedAt, firstAuthorizedAt } = input;
  const legacy = input.legacy ?? defaultLegacyWindow();
  assertValid(authorizedAt, 'authorizedAt');
  assertValid(firstAuthorizedAt, 'firstAuthorizedAt');
  assertValid(legacy.firstAuthorizedBefore, 'legacy.firstAuthorizedBefore');
  assertValid(legacy.windowStart, 'legacy.windowStart');
  if (firstAuthorizedAt.getTime() < legacy.firstAuthorizedBefore.getTime()) return new Date(legacy.windowStart);
  return addCalendarMonths(authorizedAt, -WINDOW_MONTHS);
}

/** The earliest instant that still counts as "within the six months before" `now`. */
export function activityCutoff(now: Date): Date {
  return addCalendarMonths(now, -INACTIVITY_MONTHS);
}

/**
 * a thread had activity within the six calendar months before `now`. The boundary is inclusive: activity
 * exactly six calendar months ago still counts, so a thread R-36 imports is never purge-due at the same
 * instant.
 */
export function isThreadActive(lastActivityAt: Date, now: Date): boolean {
  assertValid(lastActivityAt, 'lastActivityAt');
  return lastActivityAt.getTime() >= activityCutoff(now).getTime();
}

/** a stored thread with no activity for six calendar months is purged, authorized or not. */
export function isPurgeDue(lastActivityAt: Date, now: Date): boolean {
  return !isThreadActive(lastActivityAt, now);
}

/**
 * a re-authorization within six calendar months of the deauthorization resumes from the stored cursor;
 * after that a new historical sync begins. Exactly six calendar months later still resumes.
 */
export function reauthorizationResumes(input: { deauthorizedAt: Date; reauthorizedAt: Date }): boolean {
  assertValid(input.reauthorizedAt, 'reauthorizedAt');
  return input.reauthorizedAt.getTime() <= addCalendarMonths(input.deauthorizedAt, INACTIVITY_MONTHS).getTime();
}
