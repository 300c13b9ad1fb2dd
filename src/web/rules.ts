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
 * the server will report: a downgrade ends every seat's email grant (R-03), a provider change ends every
 * email and calendar grant at the old provider (R-06), the calendar switch ends nothing (R-05).
 */
export function seatsDisconnectedBy(before: Draft, after: Draft, health: SeatHealth[]): SeatHealth[] {
  const providerChange = before.emailProvider !== null && after.emailProvider !== before.emailProvider;
  const downgrade = isDowngrade(before.emailAccess, after.emailAccess);
  return health.filter((s) => ((providerChange || downgrade) && live(s.email.state)) || (providerChange && live(s.calendar.state)));
}

export type Outcome = { tone: 'success' | 'error'; text: string };

/** Permissions the callback names by a fixed key when the provider withheld them (R-13). */
const PERMISSION_WORDS: Record<string, string> = {
  read_email: 'read email',
  send_email: 'send email',
  calendar_events: 'manage calendar events',
  teams_meetings: 'create Teams meetings',
};
const ADMIN_CONSOLE: Record<string, string> = { google: 'Google Workspace admin console', microsoft: 'Microsoft Entra admin center' };

/**
 * Why a connection failed, by the callback's code only. The query string comes from whoever made the link,
 * so no free text of it is ever shown: unknown codes get the general sentence.
 */
const FAILURE_WORDS: Record<string, string> = {
  session_mismatch: 'This sign-in was started by someone else, or in another browser, so nothing was connected. To connect your own mailbox, start here while signed in as yourself.',
  personal_mailbox: 'The mailbox you signed in with is a personal one. Connect your company mailbox instead, or ask your admin to allow mailboxes outside the company domains.',
  outside_company_domains: "The mailbox you signed in with is not at one of your company's domains. Connect your company mailbox instead, or ask your admin to allow mailboxes outside the company domains.",
  mailbox_already_connected: 'The mailbox you signed in with is already connected to another seat. A mailbox can be connected to one seat only: disconnect it there first, or connect your own mailbox.',
  consent_denied: 'You declined the permissions, so your mailbox was not connected. Connect again and accept them to sync your candidate email.',
  state_expired: 'The sign-in took too long and expired. Please connect again.',
  state_reused: 'This sign-in link was already used. Please connect again.',
  state_invalid: 'The sign-in link was not valid. Please connect again.',
  provider_changed: 'Your company changed its email provider while you were signing in. Please connect again.',
  seat_changed: 'This seat changed hands while you were signing in.',
  contract_suspended: 'This company is suspended: mailboxes cannot be connected.',
  provider_not_selected: 'Your admin has not chosen an email provider yet. Ask them to select one in the company email settings.',
  email_disabled: 'Email is turned off for your company. Your admin can turn it on in the company email settings.',
  calendar_disabled: 'The calendar is turned off for your company. Your admin can turn it on in the company email settings.',
};
const GENERAL_FAILURE = 'The provider did not complete the sign-in. Please try again.';
/** A map's own entry only: a key from the URL such as "constructor" must not reach Object.prototype. */
const own = (map: Record<string, string>, key: string): string | undefined => (Object.hasOwn(map, key) ? map[key] : undefined);

function permissionMissingWords(params: URLSearchParams): string {
  const missing = (params.get('missing') ?? '').split(',').map((k) => own(PERMISSION_WORDS, k)).filter((w): w is string => !!w);
  const what = missing.length > 0 ? `the permission to ${missing.join(' and ')}` : 'a permission the connection needs';
  const where = own(ADMIN_CONSOLE, params.get('provider') ?? '');
  return `The provider did not grant ${what}. Your company's IT admin must grant this permission to the recruiting app${where ? ` in the ${where}` : ''}; then connect again.`;
}

/** What the OAuth callback reported through the query string, in the product's own words chosen by its code. */
export function outcomeFromQuery(search: string): Outcome | null {
  const params = new URLSearchParams(search);
  const result = params.get('authorization');
  const kind = params.get('kind') === 'calendar' ? 'calendar' : 'email';
  if (result === 'connected') {
    return { tone: 'success', text: kind === 'calendar' ? 'Your calendar is connected.' : 'Your email is connected. Syncing your candidate conversations starts now.' };
  }
  if (result === 'failed') {
    const code = params.get('code') ?? '';
    const why = code === 'permission_missing' ? permissionMissingWords(params) : (own(FAILURE_WORDS, code) ?? GENERAL_FAILURE);
    return { tone: 'error', text: `Your ${kind} was not connected. ${why}` };
  }
  if (result === 'pending') {
    return { tone: 'success', text: `The sign-in worked; your recruiting system finishes connecting your ${kind}.` };
  }
  return null;
}

/**
 * Why the compose pane cannot send, before anyone tries (R-02, R-04, R-50, R-51), or null when it can.
 * The server decides in the end; this only keeps a button from promising what will be refused.
 */
export function sendBlocked(input: { seatId: string | null; settings: Settings | undefined; mailbox: Mailbox | undefined; suspended?: boolean }): string | null {
  const { seatId, settings, mailbox } = input;
  if (!seatId) return 'You do not hold a seat, so you have no mailbox to send from. Ask your admin for a seat.';
  if (input.suspended) return 'Your company is suspended: email cannot be sent until your recruiting system reactivates it.';
  if (!settings || !mailbox) return 'Checking whether you can send…';
  if (settings.emailAccess === 'off') return 'Email is turned off for your company. Your admin can turn it on.';
  if (settings.emailAccess === 'view') return 'Your company\'s email access is "View only": sending from the product is turned off. An admin can change it to "Send & view".';
  const state = mailbox.email.state;
  if (state === 'not_authorized' || state === 'deauthorized') return 'Your mailbox is not connected. Connect it in My email & calendar: email is sent from your own mailbox.';
  if (state === 'needs_reauthorization') return 'Your mailbox needs reconnecting (My email & calendar): the provider no longer accepts the connection.';
  if (!mailbox.email.canSend) return 'Your mailbox connection does not include the permission to send. Reconnect it in My email & calendar to grant it.';
  return null;
}

/** Why a screening interview cannot be scheduled (R-05, R-15, R-52), or null. */
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

/** The conferencing a provider offers (R-15): Meet with Google, Teams with Microsoft. */
export const conferencingFor = (provider: Provider | null): Array<'google_meet' | 'teams' | 'none'> =>
  provider === 'google' ? ['google_meet', 'none'] : provider === 'microsoft' ? ['teams', 'none'] : ['none'];
