import { createHash, randomBytes } from 'node:crypto';
import type { Call, GResponse } from './gmail.ts';
import { badRequest, GoogleApiError, notFound } from './errors.ts';
import type { GoogleCtx } from './oauth.ts';

/**
 * Calendar API v3 events.insert / events.get (https://developers.google.com/calendar/api/v3/reference/events)
 * with Google Meet creation through `conferenceDataVersion=1` and `conferenceData.createRequest`
 * (https://developers.google.com/calendar/api/guides/create-events#conferencing).
 */

const json = (body: unknown, status = 200): GResponse => ({ status, headers: { 'content-type': 'application/json; charset=UTF-8' }, body });

function meetCode(): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const pick = (n: number) => Array.from(randomBytes(n), (b) => letters[b % 26]).join('');
  return `${pick(3)}-${pick(4)}-${pick(3)}`;
}

const base32hex = (bytes: Buffer) => {
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i + 5 <= bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return out;
};

function calendarOf(call: Call): string {
  const id = call.params[0]!;
  if (id !== 'primary' && id.toLowerCase() !== call.address.toLowerCase()) throw notFound();
  return call.address;
}

function dateTimeOk(v: unknown): boolean {
  if (!v || typeof v !== 'object') return false;
  const o = v as { dateTime?: unknown; date?: unknown };
  if (typeof o.dateTime === 'string') return !Number.isNaN(Date.parse(o.dateTime));
  return typeof o.date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(o.date);
}

export function createEvent(ctx: GoogleCtx, call: Call): GResponse {
  const calendarId = calendarOf(call);
  const body = (call.req.body ?? {}) as Record<string, unknown>;
  if (!body.start) throw new GoogleApiError(400, 'Missing start time.', 'required');
  if (!body.end) throw new GoogleApiError(400, 'Missing end time.', 'required');
  if (!dateTimeOk(body.start) || !dateTimeOk(body.end)) throw badRequest('Invalid start or end time.');
  const startMs = Date.parse(String((body.start as { dateTime?: string; date?: string }).dateTime ?? (body.start as { date: string }).date));
  const endMs = Date.parse(String((body.end as { dateTime?: string; date?: string }).dateTime ?? (body.end as { date: string }).date));
  if (endMs < startMs) throw new GoogleApiError(400, 'The specified time range is empty.', 'timeRangeEmpty');
  const sendUpdates = call.req.query.get('sendUpdates') ?? 'none';
  if (!['all', 'externalOnly', 'none'].includes(sendUpdates)) throw badRequest(`Invalid value at 'send_updates', "${sendUpdates}"`, 'sendUpdates');
  const now = ctx.state.clock.now().toISOString();
  const id = base32hex(randomBytes(16));
  const box = ctx.state.mail.mailbox(call.address)!;
  const event: Record<string, unknown> = {
    kind: 'calendar#event',
    etag: `"${createHash('sha1').update(id + now).digest('hex').slice(0, 16)}"`,
    id,
    status: 'confirmed',
    htmlLink: `https://www.google.com/calendar/event?eid=${Buffer.from(`${id} ${calendarId}`).toString('base64url')}`,
    created: now,
    updated: now,
    summary: body.summary,
    description: body.description,
    location: body.location,
    creator: { email: calendarId, self: true },
    organizer: { email: calendarId, displayName: box.displayName, self: true },
    start: body.start,
    end: body.end,
    iCalUID: `${id}@google.com`,
    sequence: 0,
    attendees: Array.isArray(body.attendees)
      ? (body.attendees as Array<Record<string, unknown>>).map((a) => ({
          ...a,
          responseStatus: a.responseStatus ?? 'needsAction',
          ...(String(a.email).toLowerCase() === calendarId.toLowerCase() ? { organizer: true, self: true, responseStatus: 'accepted' } : {}),
        }))
      : undefined,
    reminders: body.reminders ?? { useDefault: true },
    eventType: 'default',
  };
  const cd = body.conferenceData as { createRequest?: { requestId?: string; conferenceSolutionKey?: { type?: string } } } | undefined;
  // Without conferenceDataVersion=1 the API ignores conferenceData, as Google documents.
  if (call.req.query.get('conferenceDataVersion') === '1' && cd?.createRequest) {
    const type = cd.createRequest.conferenceSolutionKey?.type ?? 'hangoutsMeet';
    if (type !== 'hangoutsMeet') throw badRequest('Invalid conference type value.');
    if (!cd.createRequest.requestId) throw badRequest('Invalid conference request id.');
    const code = meetCode();
    event.hangoutLink = `https://meet.google.com/${code}`;
    event.conferenceData = {
      createRequest: { requestId: cd.createRequest.requestId, conferenceSolutionKey: { type }, status: { statusCode: 'success' } },
      entryPoints: [
        { entryPointType: 'video', uri: `https://meet.google.com/${code}`, label: `meet.google.com/${code}` },
        { entryPointType: 'more', uri: `https://tel.meet/${code}?pin=${String(Date.now()).slice(-13)}`, pin: String(Date.now()).slice(-13) },
      ],
      conferenceSolution: { key: { type: 'hangoutsMeet' }, name: 'Google Meet', iconUri: 'https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png' },
      conferenceId: code,
    };
  }
  for (const k of Object.keys(event)) if (event[k] === undefined) delete event[k];
  ctx.g.events.set(`${calendarId.toLowerCase()}|${id}`, { address: calendarId, calendarId, json: event, sendUpdates });
  return json(event);
}

export function getEvent(ctx: GoogleCtx, call: Call): GResponse {
  const calendarId = calendarOf(call);
  const e = ctx.g.events.get(`${calendarId.toLowerCase()}|${call.params[1]}`);
  if (!e) throw notFound();
  return json(e.json);
}

/**
 * events.patch: only the fields sent change; a moved event gets a new `sequence` (so attendees' clients replace the
 * old time) and the invitation is re-sent per `sendUpdates`.
 */
export function patchEvent(ctx: GoogleCtx, call: Call): GResponse {
  const calendarId = calendarOf(call);
  const e = ctx.g.events.get(`${calendarId.toLowerCase()}|${call.params[1]}`);
  if (!e || e.json.status === 'cancelled') throw notFound();
  const body = (call.req.body ?? {}) as Record<string, unknown>;
  const sendUpdates = call.req.query.get('sendUpdates') ?? 'none';
  if (!['all', 'externalOnly', 'none'].includes(sendUpdates)) throw badRequest(`Invalid value at 'send_updates', "${sendUpdates}"`, 'sendUpdates');
  const start = body.start ?? e.json.start;
  const end = body.end ?? e.json.end;
  if (!dateTimeOk(start) || !dateTimeOk(end)) throw badRequest('Invalid start or end time.');
  const at = (v: unknown) => Date.parse(String((v as { dateTime?: string; date?: string }).dateTime ?? (v as { date: string }).date));
  if (at(end) < at(start)) throw new GoogleApiError(400, 'The specified time range is empty.', 'timeRangeEmpty');
  for (const k of ['summary', 'description', 'location'] as const) if (body[k] !== undefined) e.json[k] = body[k];
  e.json.start = start;
  e.json.end = end;
  e.json.sequence = Number(e.json.sequence ?? 0) + 1;
  e.json.updated = ctx.state.clock.now().toISOString();
  e.sendUpdates = sendUpdates;
  return json(e.json);
}

/**
 * events.delete: the event stays readable with `status: "cancelled"` (as Google keeps deleted events for sync);
 * `sendUpdates` says whether the attendees were emailed the cancellation. A second delete answers 410.
 */
export function deleteEvent(ctx: GoogleCtx, call: Call): GResponse {
  const calendarId = calendarOf(call);
  const e = ctx.g.events.get(`${calendarId.toLowerCase()}|${call.params[1]}`);
  if (!e) throw notFound();
  if (e.json.status === 'cancelled') throw new GoogleApiError(410, 'Resource has been deleted', 'deleted');
  const sendUpdates = call.req.query.get('sendUpdates') ?? 'none';
  if (!['all', 'externalOnly', 'none'].includes(sendUpdates)) throw badRequest(`Invalid value at 'send_updates', "${sendUpdates}"`, 'sendUpdates');
  e.json.status = 'cancelled';
  e.json.updated = ctx.state.clock.now().toISOString();
  e.sendUpdates = sendUpdates;
  return { status: 204, headers: {}, body: null };
}
