import { describe, expect, it } from 'vitest';
import { scopesFor } from '../../src/domain/scopes.ts';

describe('least privilege of the calendar grant (R-10)', () => {
  it('Microsoft: the calendar asks for events only; Teams meetings on events need no meeting scope', () => {
    expect(scopesFor('microsoft', 'calendar', 'off')).toEqual(['openid', 'email', 'offline_access', 'User.Read', 'Calendars.ReadWrite']);
    expect(scopesFor('microsoft', 'calendar', 'send_and_view').some((s) => /onlinemeetings/i.test(s))).toBe(false);
  });

  it('Google: the calendar asks for events only', () => {
    expect(scopesFor('google', 'calendar', 'off')).toEqual(['openid', 'email', 'https://www.googleapis.com/auth/calendar.events']);
  });
});
