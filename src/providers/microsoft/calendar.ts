import type { CalendarClient, CreatedCalendarEvent, NewCalendarEvent } from '../calendar.ts';
import type { MicrosoftEndpoints } from '../endpoints.ts';
import { ProviderError } from '../errors.ts';
import { genericError, providerFetch } from '../http.ts';

interface GraphEvent {
  id: string;
  webLink?: string;
  onlineMeeting?: { joinUrl?: string } | null;
}

/**
 * Graph `POST /me/events`: Exchange sends the invitation to the attendees itself. A Teams link needs
 * `isOnlineMeeting` with `onlineMeetingProvider: "teamsForBusiness"`; the join URL comes back in
 * `onlineMeeting.joinUrl`. `transactionId` lets Graph drop a retried duplicate.
 */
export class GraphCalendarClient implements CalendarClient {
  readonly provider = 'microsoft' as const;

  constructor(
    private readonly endpoints: MicrosoftEndpoints,
    private readonly now: () => Date,
  ) {}

  async createEvent(accessToken: string, event: NewCalendarEvent): Promise<CreatedCalendarEvent> {
    const body = {
      subject: event.title,
      ...(event.description ? { body: { contentType: 'text', content: event.description } } : {}),
      // Graph wants wall time plus a zone; an instant in UTC is exact whatever offset the caller used.
      start: { dateTime: utcWallTime(event.start), timeZone: 'UTC' },
      end: { dateTime: utcWallTime(event.end), timeZone: 'UTC' },
      attendees: event.attendees.map((a) => ({ type: 'required', emailAddress: { address: a.address, ...(a.name ? { name: a.name } : {}) } })),
      transactionId: event.requestId,
      ...(event.onlineMeeting ? { isOnlineMeeting: true, onlineMeetingProvider: 'teamsForBusiness' } : {}),
    };
    const response = await providerFetch<GraphEvent>(
      `${this.endpoints.graph}/me/events`,
      { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) },
      (status, errorBody, headers) => classifyGraphCalendarError(status, errorBody, headers, this.now()),
    );
    const created = response.body;
    if (!created || typeof created.id !== 'string') throw new ProviderError('transient', 'Microsoft Graph answered without an event id');
    return { providerEventId: created.id, joinUrl: event.onlineMeeting ? (created.onlineMeeting?.joinUrl ?? null) : null, htmlLink: created.webLink ?? null };
  }

  /** Graph `PATCH /me/events/{id}`: Exchange sends the attendees the updated meeting request. */
  async moveEvent(accessToken: string, providerEventId: string, times: { start: string; end: string }): Promise<void> {
    await providerFetch<GraphEvent>(
      `${this.endpoints.graph}/me/events/${encodeURIComponent(providerEventId)}`,
      {
        method: 'PATCH',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ start: { dateTime: utcWallTime(times.start), timeZone: 'UTC' }, end: { dateTime: utcWallTime(times.end), timeZone: 'UTC' } }),
      },
      (status, errorBody, headers) => classifyGraphCalendarError(status, errorBody, headers, this.now()),
    );
  }

  /** Graph `POST /me/events/{id}/cancel`: only the organizer may; Exchange sends the attendees the cancellation with the comment. */
  async cancelEvent(accessToken: string, providerEventId: string, comment: string): Promise<void> {
    await providerFetch<unknown>(
      `${this.endpoints.graph}/me/events/${encodeURIComponent(providerEventId)}/cancel`,
      { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ comment }), parse: 'none' },
      (status, errorBody, headers) => classifyGraphCalendarError(status, errorBody, headers, this.now()),
    );
  }
}

const utcWallTime = (iso: string): string => new Date(iso).toISOString().replace(/Z$/, '');

/** Graph's JSON errors `{error: {code, message}}`, in ProviderError kinds. */
export function classifyGraphCalendarError(status: number, body: unknown, headers: Headers, now: Date): ProviderError {
  const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const fallback = genericError(status, headers, now);
  if (status === 403 && /AccessDenied/i.test(error?.code ?? '')) {
    return new ProviderError('consent', `Microsoft refused: ${error?.message ?? error?.code}`, { status, providerCode: error?.code ?? 'AccessDenied' });
  }
  return new ProviderError(fallback.kind, `${fallback.message}${error?.message ? `: ${error.message}` : ''}`, { ...fallback.details, ...(error?.code ? { providerCode: error.code } : {}) });
}
