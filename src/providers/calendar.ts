import type { Provider } from '../domain/types.ts';
import { googleEndpoints, microsoftEndpoints } from './endpoints.ts';
import { GoogleCalendarClient } from './google/calendar.ts';
import { GraphCalendarClient } from './microsoft/calendar.ts';

/**
 * Creating an event in a seat's own calendar, the same for both providers. Conferencing follows the
 * contract's provider: Google Meet only at Google, Teams only at Microsoft.
 */
export type Conferencing = 'google_meet' | 'teams' | 'none';

export interface NewCalendarEvent {
  title: string;
  description?: string | undefined;
  /** ISO-8601 instants with an offset; sent as given, so the attendee sees the organiser's wall time. */
  start: string;
  end: string;
  /** The attendees invited; the provider sends them the invitation. */
  attendees: Array<{ address: string; name?: string | undefined }>;
  /** A Meet or Teams link is asked for only when the provider offers that kind (checked by the caller). */
  onlineMeeting: boolean;
  /** Idempotency key of the conference request (Google) / transaction id (Graph): a retry does not duplicate. */
  requestId: string;
}

export interface CreatedCalendarEvent {
  providerEventId: string;
  joinUrl: string | null;
  htmlLink: string | null;
}

export interface CalendarClient {
  readonly provider: Provider;
  createEvent(accessToken: string, event: NewCalendarEvent): Promise<CreatedCalendarEvent>;
  /** Moves the event; the provider sends the attendees the updated invitation. */
  moveEvent(accessToken: string, providerEventId: string, times: { start: string; end: string }): Promise<void>;
  /** Cancels the event; the provider sends the attendees a cancellation (with `comment` where it carries one). */
  cancelEvent(accessToken: string, providerEventId: string, comment: string): Promise<void>;
}

export type CalendarClients = (provider: Provider) => CalendarClient;

/** The conferencing kind each provider offers. */
export const CONFERENCING_OF: Record<Provider, Exclude<Conferencing, 'none'>> = { google: 'google_meet', microsoft: 'teams' };

/** Both providers' calendar clients from the same base URLs as the OAuth clients (simulators in tests). */
export function createCalendarClients(baseUrls: { google?: string | undefined; microsoft?: string | undefined }, now: () => Date): CalendarClients {
  const clients: Record<Provider, CalendarClient> = {
    google: new GoogleCalendarClient(googleEndpoints(baseUrls.google), now),
    microsoft: new GraphCalendarClient(microsoftEndpoints(baseUrls.microsoft), now),
  };
  return (provider) => clients[provider];
}
