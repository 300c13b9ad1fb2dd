import { describe, expect, it } from 'vitest';
import type { Grant, Mailbox, Settings } from '../../src/web/api.ts';
import { conferencingFor, scheduleBlocked, sendBlocked } from '../../src/web/rules.ts';
import { decisionText, SEND_FIXES } from '../../src/web/words.ts';

/** The profile's decisions without a browser: when compose and scheduling are off, and what they say. */
const settings = (emailAccess: Settings['emailAccess'], calendarEnabled = true): Settings => ({ emailProvider: 'google', emailAccess, calendarEnabled, allowExternalMailboxes: false, notices: [] });
const grant = (state: Grant['state'], canSend = false): Grant => ({
  state,
  provider: 'google',
  address: 'rita@acme.test',
  aliases: [],
  scopes: [],
  canSend,
  warnings: [],
  reason: null,
  firstAuthorizedAt: null,
  lastAuthorizedAt: null,
  deauthorizedAt: null,
});
const mailbox = (email: Grant, calendar: Grant = grant('not_authorized')): Mailbox => ({
  email: { ...email, sync: { phase: 'idle', messagesIngested: 0, messagesExamined: 0, progress: null, estimatedCompletionAt: null, lastSyncedAt: null, lastError: null, status: 'starting', lastCheckedAt: null } },
  calendar,
});
const ready = mailbox(grant('authorized', true));

describe('compose: why sending is off (R-02, R-04, R-50, R-51)', () => {
  it('allows sending only at "Send & view" with a connected mailbox holding the send permission', () => {
    expect(sendBlocked({ seatId: 's', settings: settings('send_and_view'), mailbox: ready })).toBeNull();
  });
  it('names each reason, the company level first', () => {
    expect(sendBlocked({ seatId: null, settings: settings('send_and_view'), mailbox: ready })).toMatch(/do not hold a seat/);
    expect(sendBlocked({ seatId: 's', settings: settings('send_and_view'), mailbox: ready, suspended: true })).toMatch(/suspended/);
    expect(sendBlocked({ seatId: 's', settings: undefined, mailbox: ready })).toMatch(/Checking/);
    expect(sendBlocked({ seatId: 's', settings: settings('off'), mailbox: ready })).toMatch(/turned off/);
    // a token that can send does not make "View only" send.
    expect(sendBlocked({ seatId: 's', settings: settings('view'), mailbox: ready })).toMatch(/"View only"/);
    expect(sendBlocked({ seatId: 's', settings: settings('send_and_view'), mailbox: mailbox(grant('not_authorized')) })).toMatch(/not connected/);
    expect(sendBlocked({ seatId: 's', settings: settings('send_and_view'), mailbox: mailbox(grant('deauthorized')) })).toMatch(/not connected/);
    expect(sendBlocked({ seatId: 's', settings: settings('send_and_view'), mailbox: mailbox(grant('needs_reauthorization', true)) })).toMatch(/needs reconnecting/);
    expect(sendBlocked({ seatId: 's', settings: settings('send_and_view'), mailbox: mailbox(grant('authorized', false)) })).toMatch(/permission to send/);
  });
  it('has a fix for every refusal the send endpoint documents', () => {
    for (const code of ['send_not_allowed', 'send_scope_missing', 'not_authorized', 'needs_reauthorization', 'contract_suspended', 'rate_limited', 'provider_unavailable']) {
      expect(SEND_FIXES[code]?.fix, code).toBeTruthy();
    }
  });
});

describe('schedule screening: why it is off (R-05, R-15, R-52)', () => {
  const calendarReady = mailbox(grant('authorized'), grant('authorized'));
  it('needs the calendar on and connected, and a candidate address to invite', () => {
    expect(scheduleBlocked({ seatId: 's', settings: settings('view'), mailbox: calendarReady, candidateEmails: ['c@x.test'] })).toBeNull();
    expect(scheduleBlocked({ seatId: 's', settings: settings('view', false), mailbox: calendarReady, candidateEmails: ['c@x.test'] })).toMatch(/calendar is turned off/);
    expect(scheduleBlocked({ seatId: 's', settings: settings('view'), mailbox: ready, candidateEmails: ['c@x.test'] })).toMatch(/calendar is not connected/);
    expect(scheduleBlocked({ seatId: 's', settings: settings('view'), mailbox: calendarReady, candidateEmails: [] })).toMatch(/no email address/);
    expect(scheduleBlocked({ seatId: 's', settings: { ...settings('view'), emailProvider: null }, mailbox: calendarReady, candidateEmails: ['c@x.test'] })).toMatch(/provider/);
  });
  it('offers the conferencing of the company provider only', () => {
    expect(conferencingFor('google')).toEqual(['google_meet', 'none']);
    expect(conferencingFor('microsoft')).toEqual(['teams', 'none']);
    expect(conferencingFor(null)).toEqual(['none']);
  });
});

describe('decision log in plain words (R-40)', () => {
  it("uses the server's summary, else the rule's title — what the rule means, never its id", () => {
    expect(decisionText({ ingested: false, rule: 'R-38', detail: { summary: 'Not synced (R-38, Spam and drafts): spam is never synced.' } })).toBe('Not synced (Spam and drafts): spam is never synced.');
    expect(decisionText({ ingested: false, rule: 'R-33', detail: { ruleTitle: 'Matching profile' } })).toBe('Not synced: Matching profile.');
    expect(decisionText({ ingested: false, rule: 'R-33', detail: {} })).toBe('Not synced.');
    expect(decisionText({ ingested: true, rule: null, detail: {} })).toBe('Synced.');
  });
});
