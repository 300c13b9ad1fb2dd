import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULT_LEGACY_FIRST_AUTHORIZED_BEFORE,
  DEFAULT_LEGACY_WINDOW_START,
  activityCutoff,
  addCalendarMonths,
  defaultLegacyWindow,
  isPurgeDue,
  isThreadActive,
  reauthorizationResumes,
  windowStart,
} from '../../../src/domain/ingestion/index.ts';

const d = (iso: string): Date => new Date(iso);
const iso = (date: Date): string => date.toISOString();

describe('R-35 window start', () => {
  const legacy = defaultLegacyWindow();

  it('R-35: the defaults are 2025-02-05 (first authorized before) and 2024-02-06 (legacy window start)', () => {
    expect(iso(DEFAULT_LEGACY_FIRST_AUTHORIZED_BEFORE)).toBe('2025-02-05T00:00:00.000Z');
    expect(iso(DEFAULT_LEGACY_WINDOW_START)).toBe('2024-02-06T00:00:00.000Z');
    expect(defaultLegacyWindow()).toEqual({ firstAuthorizedBefore: DEFAULT_LEGACY_FIRST_AUTHORIZED_BEFORE, windowStart: DEFAULT_LEGACY_WINDOW_START });
    expect(defaultLegacyWindow().windowStart).not.toBe(DEFAULT_LEGACY_WINDOW_START);
  });

  it('R-35: this authorization time minus one year, to the millisecond', () => {
    expect(iso(windowStart({ authorizedAt: d('2025-06-15T12:34:56.789Z'), firstAuthorizedAt: d('2025-06-15T12:34:56.789Z'), legacy }))).toBe('2024-06-15T12:34:56.789Z');
  });

  it('R-35: one year before 29 Feb is 28 Feb', () => {
    expect(iso(windowStart({ authorizedAt: d('2028-02-29T08:00:00Z'), firstAuthorizedAt: d('2028-02-29T08:00:00Z'), legacy }))).toBe('2027-02-28T08:00:00.000Z');
  });

  it('R-35: a seat first authorized before 2025-02-05 starts its window on 2024-02-06', () => {
    expect(iso(windowStart({ authorizedAt: d('2024-06-01T10:00:00Z'), firstAuthorizedAt: d('2024-06-01T10:00:00Z'), legacy }))).toBe('2024-02-06T00:00:00.000Z');
    expect(iso(windowStart({ authorizedAt: d('2025-02-04T23:59:59.999Z'), firstAuthorizedAt: d('2025-02-04T23:59:59.999Z'), legacy }))).toBe('2024-02-06T00:00:00.000Z');
  });

  it('R-35: a seat first authorized exactly at the cut-off is not a legacy seat', () => {
    expect(iso(windowStart({ authorizedAt: d('2025-02-05T00:00:00Z'), firstAuthorizedAt: d('2025-02-05T00:00:00Z'), legacy }))).toBe('2024-02-05T00:00:00.000Z');
  });

  it('R-35: the legacy default applies when no legacy parameter is given', () => {
    expect(iso(windowStart({ authorizedAt: d('2024-09-01T00:00:00Z'), firstAuthorizedAt: d('2024-09-01T00:00:00Z') }))).toBe('2024-02-06T00:00:00.000Z');
  });

  it('R-35 with R-23: a legacy seat keeps the legacy window start at every later authorization', () => {
    // First authorized in 2024 (legacy), deauthorized, back in September 2025: a new historical sync from the legacy start.
    expect(iso(windowStart({ authorizedAt: d('2025-09-01T00:00:00Z'), firstAuthorizedAt: d('2024-03-01T00:00:00Z'), legacy }))).toBe('2024-02-06T00:00:00.000Z');
    // Re-authorized soon after the cut-off: the legacy date is still the later of the two.
    expect(iso(windowStart({ authorizedAt: d('2025-02-05T12:00:00Z'), firstAuthorizedAt: d('2024-03-01T00:00:00Z'), legacy }))).toBe('2024-02-06T00:00:00.000Z');
  });

  it('R-35 with R-23: a re-authorized seat counts from the new authorization time', () => {
    expect(iso(windowStart({ authorizedAt: d('2026-03-10T09:00:00Z'), firstAuthorizedAt: d('2025-04-01T00:00:00Z'), legacy }))).toBe('2025-03-10T09:00:00.000Z');
  });

  it('R-35: both cut-offs are parameters, not literals', () => {
    const other = { firstAuthorizedBefore: d('2030-01-01T00:00:00Z'), windowStart: d('2029-06-01T00:00:00Z') };
    expect(iso(windowStart({ authorizedAt: d('2029-12-01T00:00:00Z'), firstAuthorizedAt: d('2029-12-01T00:00:00Z'), legacy: other }))).toBe('2029-06-01T00:00:00.000Z');
    expect(iso(windowStart({ authorizedAt: d('2024-06-01T00:00:00Z'), firstAuthorizedAt: d('2024-06-01T00:00:00Z'), legacy: { firstAuthorizedBefore: d('2020-01-01T00:00:00Z'), windowStart: d('2019-01-01T00:00:00Z') } }))).toBe('2023-06-01T00:00:00.000Z');
  });

  it('R-35: refuses invalid dates instead of computing a meaningless window', () => {
    expect(() => windowStart({ authorizedAt: new Date(Number.NaN), firstAuthorizedAt: d('2025-01-01T00:00:00Z') })).toThrow(RangeError);
  });

  it('R-35 (property): the window never starts after the authorization; it is one year back, or the legacy start for legacy seats', () => {
    // From the legacy window start on; an authorization before that date predates the product.
    fc.assert(
      fc.property(fc.date({ min: d('2024-02-06T00:00:00Z'), max: d('2030-01-01T00:00:00Z'), noInvalidDate: true }), fc.integer({ min: 0, max: 1500 }), (authorizedAt, daysEarlier) => {
        const firstAuthorizedAt = new Date(authorizedAt.getTime() - daysEarlier * 86_400_000);
        const start = windowStart({ authorizedAt, firstAuthorizedAt, legacy });
        expect(start.getTime()).toBeLessThanOrEqual(authorizedAt.getTime());
        const isLegacySeat = firstAuthorizedAt.getTime() < legacy.firstAuthorizedBefore.getTime();
        expect(start.getTime()).toBe(isLegacySeat ? legacy.windowStart.getTime() : addCalendarMonths(authorizedAt, -12).getTime());
      }),
    );
  });
});

describe('six calendar months (R-23, R-24, R-36)', () => {
  it.each([
    ['2024-08-31T10:00:00.000Z', -6, '2024-02-29T10:00:00.000Z'], // leap year: clamp to 29 Feb
    ['2023-08-31T10:00:00.000Z', -6, '2023-02-28T10:00:00.000Z'], // common year: clamp to 28 Feb
    ['2100-08-31T00:00:00.000Z', -6, '2100-02-28T00:00:00.000Z'], // century, not a leap year
    ['2000-08-31T00:00:00.000Z', -6, '2000-02-29T00:00:00.000Z'], // divisible by 400: leap year
    ['2024-03-31T00:00:00.000Z', -6, '2023-09-30T00:00:00.000Z'], // across the year end, 30-day month
    ['2024-12-31T23:59:59.999Z', -6, '2024-06-30T23:59:59.999Z'],
    ['2024-03-15T08:00:00.000Z', -6, '2023-09-15T08:00:00.000Z'],
    ['2024-02-29T00:00:00.000Z', -12, '2023-02-28T00:00:00.000Z'],
    ['2024-01-31T00:00:00.000Z', 1, '2024-02-29T00:00:00.000Z'],
    ['2023-08-31T00:00:00.000Z', 6, '2024-02-29T00:00:00.000Z'],
    ['2024-05-31T00:00:00.000Z', 0, '2024-05-31T00:00:00.000Z'],
    ['2024-07-31T00:00:00.000Z', -25, '2022-06-30T00:00:00.000Z'],
  ])('R-36/R-24: %s plus %i calendar months is %s', (start, months, expected) => {
    expect(iso(addCalendarMonths(d(start), months))).toBe(expected);
  });

  it('R-36/R-24: refuses fractional months and invalid dates', () => {
    expect(() => addCalendarMonths(d('2024-01-01T00:00:00Z'), 1.5)).toThrow(RangeError);
    expect(() => addCalendarMonths(new Date(Number.NaN), 1)).toThrow(RangeError);
  });

  it('R-36: the activity cut-off is six calendar months before now', () => {
    expect(iso(activityCutoff(d('2024-08-31T12:00:00Z')))).toBe('2024-02-29T12:00:00.000Z');
    expect(iso(activityCutoff(d('2025-08-31T12:00:00Z')))).toBe('2025-02-28T12:00:00.000Z');
  });

  it('R-36: activity exactly six calendar months ago still counts; one millisecond earlier does not', () => {
    const now = d('2024-08-31T12:00:00.000Z');
    expect(isThreadActive(d('2024-02-29T12:00:00.000Z'), now)).toBe(true);
    expect(isThreadActive(d('2024-02-29T11:59:59.999Z'), now)).toBe(false);
    expect(isThreadActive(d('2024-08-31T12:00:00.000Z'), now)).toBe(true);
  });

  it('R-24: a thread is purge-due only after six calendar months without activity', () => {
    const now = d('2025-08-31T00:00:00.000Z');
    expect(isPurgeDue(d('2025-02-28T00:00:00.000Z'), now)).toBe(false);
    expect(isPurgeDue(d('2025-02-27T23:59:59.999Z'), now)).toBe(true);
    expect(isPurgeDue(d('2025-03-01T00:00:00.000Z'), now)).toBe(false);
    // 30 Aug and 31 Aug share the same cut-off in a common year (both clamp to 28 Feb).
    expect(isPurgeDue(d('2025-02-28T00:00:00.000Z'), d('2025-08-30T00:00:00.000Z'))).toBe(false);
  });

  it('R-24: 181 days are not always six calendar months', () => {
    // 1 Mar → 1 Sep is six months (184 days); 183 days after 1 Mar is not yet purge-due.
    expect(isPurgeDue(d('2025-03-01T00:00:00Z'), d('2025-08-31T00:00:00Z'))).toBe(false);
    expect(isPurgeDue(d('2025-03-01T00:00:00Z'), d('2025-09-01T00:00:00Z'))).toBe(false);
    expect(isPurgeDue(d('2025-03-01T00:00:00Z'), d('2025-09-01T00:00:00.001Z'))).toBe(true);
  });

  it('R-23: re-authorization within six calendar months resumes; later starts a new historical sync', () => {
    const deauthorizedAt = d('2025-08-31T10:00:00.000Z');
    expect(reauthorizationResumes({ deauthorizedAt, reauthorizedAt: d('2026-02-28T10:00:00.000Z') })).toBe(true);
    expect(reauthorizationResumes({ deauthorizedAt, reauthorizedAt: d('2026-02-28T10:00:00.001Z') })).toBe(false);
    expect(reauthorizationResumes({ deauthorizedAt: d('2023-08-31T00:00:00Z'), reauthorizedAt: d('2024-02-29T00:00:00Z') })).toBe(true);
  });

  it('R-24/R-36 (property): purge-due is exactly "not active", and the cut-off only moves forward with time', () => {
    const date = fc.date({ min: d('1999-01-01T00:00:00Z'), max: d('2101-01-01T00:00:00Z'), noInvalidDate: true });
    fc.assert(
      fc.property(date, date, (a, b) => {
        expect(isPurgeDue(a, b)).toBe(!isThreadActive(a, b));
        const [earlier, later] = a.getTime() <= b.getTime() ? [a, b] : [b, a];
        expect(activityCutoff(earlier).getTime()).toBeLessThanOrEqual(activityCutoff(later).getTime());
        expect(activityCutoff(later).getTime()).toBeLessThan(later.getTime());
      }),
    );
  });

  it('R-36 (property): adding calendar months keeps the time of day and clamps the day to the month end', () => {
    fc.assert(
      fc.property(fc.date({ min: d('1970-01-01T00:00:00Z'), max: d('2200-01-01T00:00:00Z'), noInvalidDate: true }), fc.integer({ min: -240, max: 240 }), (date, months) => {
        const out = addCalendarMonths(date, months);
        const monthIndex = date.getUTCFullYear() * 12 + date.getUTCMonth() + months;
        expect(out.getUTCFullYear() * 12 + out.getUTCMonth()).toBe(monthIndex);
        const lastDay = new Date(Date.UTC(Math.floor(monthIndex / 12), (monthIndex % 12) + 1, 0)).getUTCDate();
        expect(out.getUTCDate()).toBe(Math.min(date.getUTCDate(), lastDay));
        const timeOfDay = (t: Date): number => ((t.getTime() % 86_400_000) + 86_400_000) % 86_400_000;
        expect(timeOfDay(out)).toBe(timeOfDay(date));
      }),
    );
  });
});
