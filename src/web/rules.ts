import type { EmailAccess, Provider, SeatHealth } from './api.ts';
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
