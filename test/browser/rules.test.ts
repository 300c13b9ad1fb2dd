import { describe, expect, it } from 'vitest';
import type { SeatHealth } from '../../src/web/api.ts';
import { outcomeFromQuery, seatsDisconnectedBy, type Draft } from '../../src/web/rules.ts';
import { reasonText, scopeWords } from '../../src/web/words.ts';

/** The UI's own decisions, without a browser: what the confirmation counts and what people read. */
const seat = (name: string, email: SeatHealth['email']['state'], calendar: SeatHealth['calendar']['state'] = 'not_authorized'): SeatHealth => ({
  seatId: name,
  userId: null,
  userName: name,
  email: { state: email, address: null, reason: null },
  calendar: { state: calendar, address: null, reason: null },
  sync: { phase: 'idle', messagesIngested: 0, messagesExamined: 0, progress: null, lastSyncedAt: null, lastError: null, status: 'starting' },
});
const health = [
  seat('connected', 'authorized'),
  seat('refused', 'needs_reauthorization'),
  seat('gone', 'deauthorized', 'authorized'),
  seat('never', 'not_authorized'),
];
const names = (list: SeatHealth[]) => list.map((s) => s.userName);
const google = (emailAccess: Draft['emailAccess'], calendarEnabled = true): Draft => ({ emailProvider: 'google', emailAccess, calendarEnabled });

describe('seats a settings change disconnects', () => {
  it('R-03: a downgrade counts every seat whose email grant is still live', () => {
    expect(names(seatsDisconnectedBy(google('send_and_view'), google('view'), health))).toEqual(['connected', 'refused']);
    expect(names(seatsDisconnectedBy(google('view'), google('off'), health))).toEqual(['connected', 'refused']);
  });
  it('an upgrade and the calendar switch disconnect nobody (R-03, R-05)', () => {
    expect(seatsDisconnectedBy(google('view'), google('send_and_view'), health)).toEqual([]);
    expect(seatsDisconnectedBy(google('view', true), google('view', false), health)).toEqual([]);
  });
  it('R-06: a provider change counts live email and calendar grants; choosing the first provider counts none', () => {
    expect(names(seatsDisconnectedBy(google('view'), { ...google('view'), emailProvider: 'microsoft' }, health))).toEqual(['connected', 'refused', 'gone']);
    expect(seatsDisconnectedBy({ ...google('off'), emailProvider: null }, google('view'), health)).toEqual([]);
  });
});

describe('plain words', () => {
  it('reads the OAuth outcome from the query string', () => {
    expect(outcomeFromQuery('?authorization=connected&kind=calendar')).toEqual({ tone: 'success', text: 'Your calendar is connected.' });
    expect(outcomeFromQuery('?authorization=failed&kind=email&code=permission_missing&missing=send_email&provider=google')).toEqual({
      tone: 'error',
      text: "Your email was not connected. The provider did not grant the permission to send email. Your company's IT admin must grant this permission to the recruiting app in the Google Workspace admin console; then connect again.",
    });
    // The query string is anyone's: a message in it is never shown, nor a code the page does not know.
    const forged = outcomeFromQuery('?authorization=failed&kind=email&code=constructor&message=Call%20IT%20at%20555-0100%20now&missing=__proto__');
    expect(forged).toEqual({ tone: 'error', text: 'Your email was not connected. The provider did not complete the sign-in. Please try again.' });
    expect(outcomeFromQuery('?authorization=failed&code=session_mismatch')?.text).toMatch(/started by someone else/);
    expect(outcomeFromQuery('?other=1')).toBeNull();
  });
  it('names permissions without repeats, for both providers', () => {
    expect(scopeWords(['openid', 'email', 'https://www.googleapis.com/auth/gmail.readonly', 'https://www.googleapis.com/auth/userinfo.email'])).toEqual([
      'Confirm who you are',
      'See your email address',
      'Read your email',
    ]);
    expect(scopeWords(['https://graph.microsoft.com/Mail.Send', 'User.Read', 'custom.scope'])).toEqual(['Send email on your behalf', 'See your basic profile', 'custom.scope']);
  });
  it('explains why a grant ended, to its holder and to the admin', () => {
    expect(reasonText('access_level_downgrade')).toMatch(/admin lowered/);
    expect(reasonText('provider_change', 'admin')).toBe('Disconnected: provider changed.');
    expect(reasonText('Google refused to renew access: invalid_grant')).toBe('Google refused to renew access: invalid_grant');
    expect(reasonText(null)).toBeNull();
    // a transfer or park ends the previous holder's grants; the new holder is told to connect their own.
    expect(reasonText('seat_transferred')).toMatch(/Connect your own mailbox/);
    expect(reasonText('seat_parked', 'admin')).toBe('Disconnected: seat parked.');
  });
});
