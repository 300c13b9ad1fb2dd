import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextCronRun, parseCron } from '../../src/jobs/cron.ts';
import { recurrence, parseRecurrence } from '../../src/jobs/schedules.ts';

const at = (iso: string) => new Date(iso);
const next = (expression: string, after: string) => nextCronRun(parseCron(expression), at(after)).toISOString();

describe('cron expressions', () => {
  it('finds the next matching minute, strictly after the given time', () => {
    expect(next('30 3 * * *', '2031-01-01T10:00:00Z')).toBe('2031-01-02T03:30:00.000Z');
    expect(next('30 3 * * *', '2031-01-02T03:30:00Z')).toBe('2031-01-03T03:30:00.000Z');
    expect(next('30 3 * * *', '2031-01-02T03:29:59.999Z')).toBe('2031-01-02T03:30:00.000Z');
    expect(next('*/15 * * * *', '2031-01-01T10:07:00Z')).toBe('2031-01-01T10:15:00.000Z');
    expect(next('0 0 1 * *', '2031-01-15T00:00:00Z')).toBe('2031-02-01T00:00:00.000Z');
    expect(next('0 12 * * 1-5', '2031-01-03T13:00:00Z')).toBe('2031-01-06T12:00:00.000Z'); // Friday → Monday
    expect(next('0 0 29 2 *', '2031-03-01T00:00:00Z')).toBe('2032-02-29T00:00:00.000Z');
    expect(next('0 9 1,15 * *', '2031-01-02T00:00:00Z')).toBe('2031-01-15T09:00:00.000Z');
    expect(next('0 0 * * 7', '2031-01-01T00:00:00Z')).toBe('2031-01-05T00:00:00.000Z'); // 7 is Sunday
  });

  it('matches either day field when both are restricted, as classic cron does', () => {
    // The 13th, or any Friday.
    expect(next('0 0 13 * 5', '2031-01-01T00:00:00Z')).toBe('2031-01-03T00:00:00.000Z');
    expect(next('0 0 13 * 5', '2031-01-11T00:00:00Z')).toBe('2031-01-13T00:00:00.000Z');
  });

  it('refuses malformed expressions', () => {
    for (const bad of ['', '* * * *', '60 * * * *', '* 24 * * *', '* * 0 * *', '* * * 13 *', '* * * * 8', '5-1 * * * *', '*/0 * * * *', 'a * * * *', '0 0 31 2 *']) {
      expect(() => nextCronRun(parseCron(bad), at('2031-01-01T00:00:00Z')), bad).toThrow(/invalid cron/);
    }
  });

  it('the next run always matches and nothing in between does', () => {
    const cron = parseCron('*/20 1-3 * * 0,3');
    fc.assert(
      fc.property(fc.date({ min: at('2030-01-01T00:00:00Z'), max: at('2040-01-01T00:00:00Z'), noInvalidDate: true }), (after) => {
        const found = nextCronRun(cron, after);
        expect(found.getTime()).toBeGreaterThan(after.getTime());
        expect(found.getUTCMinutes() % 20).toBe(0);
        expect([1, 2, 3]).toContain(found.getUTCHours());
        expect([0, 3]).toContain(found.getUTCDay());
        // No earlier match: the run found from one minute before it is the same.
        expect(nextCronRun(cron, new Date(Math.max(after.getTime(), found.getTime() - 60_000))).getTime()).toBe(found.getTime());
      }),
      { numRuns: 200 },
    );
  });
});

describe('recurrences', () => {
  it('an interval keeps its phase and one run covers the runs missed', () => {
    const daily = recurrence({ seconds: 86_400 });
    expect(daily.first(at('2031-01-01T10:00:00Z')).toISOString()).toBe('2031-01-02T10:00:00.000Z');
    expect(daily.following(at('2031-01-02T10:00:00Z'), at('2031-01-02T10:00:01Z')).toISOString()).toBe('2031-01-03T10:00:00.000Z');
    expect(daily.following(at('2031-01-02T10:00:00Z'), at('2031-07-01T00:00:00Z')).toISOString()).toBe('2031-07-01T10:00:00.000Z');
  });

  it('round-trips through its stored form', () => {
    expect(parseRecurrence(recurrence({ seconds: 90 }).text).text).toBe('every 90s');
    expect(parseRecurrence(recurrence({ cron: ' 0  3 * * * ' }).text).text).toBe('cron 0 3 * * *');
    expect(() => recurrence({ seconds: 0 })).toThrow();
  });
});
