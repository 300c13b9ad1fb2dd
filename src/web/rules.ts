import type { EmailAccess, Mailbox, Provider, SeatHealth, Settings } from './api.ts';
import { isDowngrade } from './words.ts';

/** The admin settings as edited on the page, before they are saved. */
export interface Draft {
  emailProvider: Provider | null;
  emailAccess: EmailAccess;
  calendarEnabled: boolean;
}

/** Grants that a settings change would end: the server ends every grant not already deauthorized. */
const live = (state: SeatHealth['email']['state']) => state === 'authorized' || state === 'needs_reauthorization';

/**
 * The seats a change would disconnect, counted from sync health so that the confirmation states the number
 * the server will report: a downgrade ends every seat's email grant, a provider change ends every
 * email and calendar grant at the old provider, the calendar switch ends nothing.
 */
export function seatsDisconnectedBy(before: Draft, after: Draft, health: SeatHealth[]): SeatHealth[] {
  const providerChange = before.emailProvider !== null && after.emailProvider !== before.emailProvider;
  const downgrade = isDowngrade(before.emailAccess, after.emailAccess);
  return health.filter((s) => ((providerChange || downgrade) && live(s.email.state)) || (providerChange && live(s.calendar.state)));
}

export type Outcome = { tone: 'success' | 'error'; text: string };

/** What the OAuth callback reported through the query string, in plain words (its message is the server's). */
export function outcomeFromQuery(search: string): Outcome | null {
  const params = new URLSearchParams(search);
  const result = params.get('authorization');
  const kind = params.get('kind') === 'calendar' ? 'calendar' : 'email';
  if (result === 'connected') {
    return { tone: 'success', text: kind === 'calendar' ? 'Your calendar is connected.' : 'Your email is connected. Syncing your candidate conversations starts now.' };
  }
  if (result === 'failed') {
    const message = params.get('message');
    return { tone: 'error', text: `Your ${kind} was not connected. ${message ?? 'The provider did not complete the sign-in. Please try again.'}` };
  }
  return null;
}

/**
 * Why the compose pane cannot send, before anyone tries, or null when it can.
 * The server decides in the end; this only keeps a button from promising what will be refused.
 */
export function sendBlocked(input: { seatId: string | null; settings: Settings | undefined; mailbox: Mailbox | undefined; suspended?: boolean }): string | null {
  const { seatId, settings, mailbox } = input;
  if (!seatId) return 'You do not hold a seat, so you have no mailbox to send from. Ask your admin for a seat.';
  if (input.suspended) return 'Your company is suspended: email cannot be sent until an admin reactivates it.';
  if (!settings || !mailbox) return 'Checking whether you can send…';
  if (settings.emailAccess === 'off') return 'Email is turned off for your company. Your admin can turn it on.';
  if (settings.emailAccess === 'view') return 'Your company\'s email access is "View only": sending from the product is turned off. An admin can change it to "Send & view".';
  const state = mailbox.email.state;
  if (state === 'not_authorized' || state === 'deauthorized') return 'Your mailbox is not connected. Connect it in My email & calendar: email is sent from your own mailbox.';
  if (state === 'needs_reauthorization') return 'Your mailbox needs reconnecting (My email & calendar): the provider no longer accepts the connection.';
  if (!mailbox.email.canSend) return 'Your mailbox connection does not include the permission to send. Reconnect it in My email & calendar to grant it.';
  return null;
}

/** Why a screening interview cannot be scheduled, or null. */
export function scheduleBlocked(input: { seatId: string | null; settings: Settings | undefined; mailbox: Mailbox | undefined; candidateEmails: string[] }): string | null {
  const { seatId, settings, mailbox } = input;
  if (!seatId) return 'You do not hold a seat, so you have no calendar to schedule in. Ask your admin for a seat.';
  if (!settings || !mailbox) return 'Checking whether you can schedule…';
  if (!settings.emailProvider) return 'Your admin has not chosen a provider yet (Google Workspace or Microsoft 365).';
  if (!settings.calendarEnabled) return 'The calendar is turned off for your company. Your admin can turn it on.';
  const state = mailbox.calendar.state;
  if (state === 'needs_reauthorization') return 'Your calendar needs reconnecting (My email & calendar).';
  if (state !== 'authorized') return 'Your calendar is not connected. Connect it in My email & calendar.';
  if (input.candidateEmails.length === 0) return 'The candidate has no email address to invite. Send them an email first to save one.';
  return null;
}

/** The conferencing a provider offers: Meet with Google, Teams with Microsoft. */
export const conferencingFor = (provider: Provider | null): Array<'google_meet' | 'teams' | 'none'> =>
  provider === 'google' ? ['google_meet', 'none'] : provider === 'microsoft' ? ['teams', 'none'] : ['none'];
