import type { CalendarClient, CreatedCalendarEvent, NewCalendarEvent } from '../calendar.ts';
import type { GoogleEndpoints } from '../endpoints.ts';
import { ProviderError } from '../errors.ts';
import { genericError, providerFetch } from '../http.ts';

interface GoogleEvent {
  id: string;
  htmlLink?: string;
  hangoutLink?: string;
  conferenceData?: { entryPoints?: Array<{ entryPointType?: string; uri?: string }> };
}

/**
 * Calendar v3 `events.insert` on the primary calendar. `sendUpdates=all` makes Google email the invitation
 * to the attendees; a Meet link needs `conferenceDataVersion=1` plus a `createRequest` (without the version
 * parameter Google silently drops conferenceData).
 */
export class GoogleCalendarClient implements CalendarClient {
  readonly provider = 'google' as const;

  constructor(
    private readonly endpoints: GoogleEndpoints,
    private readonly now: () => Date,
  ) {}

  async createEvent(accessToken: string, event: NewCalendarEvent): Promise<CreatedCalendarEvent> {
    const query = new URLSearchParams({ sendUpdates: 'all', ...(event.onlineMeeting ? { conferenceDataVersion: '1' } : {}) });
    const body = {
      summary: event.title,
      ...(event.description ? { description: event.description } : {}),
      start: { dateTime: event.start },
      end: { dateTime: event.end },
      attendees: event.attendees.map((a) => ({ email: a.address, ...(a.name ? { displayName: a.name } : {}) })),
      ...(event.onlineMeeting ? { conferenceData: { createRequest: { requestId: event.requestId, conferenceSolutionKey: { type: 'hangoutsMeet' } } } } : {}),
    };
    const response = await providerFetch<GoogleEvent>(
      `${this.endpoints.calendar}/calendars/primary/events?${query}`,
      { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) },
      (status, errorBody, headers) => classifyCalendarError(status, errorBody, headers, this.now()),
    );
    const created = response.body;
    if (!created || typeof created.id !== 'string') throw new ProviderError('transient', 'Google Calendar answered without an event id');
    const video = created.conferenceData?.entryPoints?.find((e) => e.entryPointType === 'video')?.uri;
    return { providerEventId: created.id, joinUrl: event.onlineMeeting ? (created.hangoutLink ?? video ?? null) : null, htmlLink: created.htmlLink ?? null };
  }

  /** `events.patch` with `sendUpdates=all`: Google emails the attendees the new time. */
  async moveEvent(accessToken: string, providerEventId: string, times: { start: string; end: string }): Promise<void> {
    await providerFetch<GoogleEvent>(
      `${this.endpoints.calendar}/calendars/primary/events/${encodeURIComponent(providerEventId)}?sendUpdates=all`,
      { method: 'PATCH', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ start: { dateTime: times.start }, end: { dateTime: times.end } }) },
      (status, errorBody, headers) => classifyCalendarError(status, errorBody, headers, this.now()),
    );
  }

  /** `events.delete` with `sendUpdates=all`: Google emails the attendees the cancellation (it carries no comment). */
  async cancelEvent(accessToken: string, providerEventId: string): Promise<void> {
    await providerFetch<unknown>(
      `${this.endpoints.calendar}/calendars/primary/events/${encodeURIComponent(providerEventId)}?sendUpdates=all`,
      { method: 'DELETE', headers: { authorization: `Bearer ${accessToken}` }, parse: 'none' },
      (status, errorBody, headers) => classifyCalendarError(status, errorBody, headers, this.now()),
    );
  }
}

/** Google's JSON errors `{error: {code, message, errors: [{reason}]}}`, in ProviderError kinds. */
export function classifyCalendarError(status: number, body: unknown, headers: Headers, now: Date): ProviderError {
  const error = (body as { error?: { message?: string; errors?: Array<{ reason?: string }> } } | undefined)?.error;
  const reason = error?.errors?.[0]?.reason ?? '';
  const fallback = genericError(status, headers, now);
  if (status === 403 && /rateLimitExceeded|userRateLimitExceeded|quotaExceeded/.test(reason)) {
    return new ProviderError('throttled', `Google Calendar limit reached (${reason})`, { status, providerCode: reason, retryAfterSeconds: fallback.details.retryAfterSeconds ?? 60 });
  }
  if (status === 403 && /insufficientPermissions|forbidden/i.test(reason)) {
    return new ProviderError('consent', `Google Calendar refused: ${error?.message ?? reason}`, { status, providerCode: reason });
  }
  return new ProviderError(fallback.kind, `${fallback.message}${error?.message ? `: ${error.message}` : ''}`, { ...fallback.details, ...(reason ? { providerCode: reason } : {}) });
}
