import { GraphError, badRequest } from './errors.ts';
import type { MsContext } from './context.ts';
import { b64url, changeKey, newGuid, opaque, teamsJoinUrl, tenantIdFor, userObjectIdFor } from './ids.ts';
import { graphDate, htmlToText } from './messages.ts';
import type { CalendarEvent } from './state.ts';
import { ok, requireScope, type GraphRequest, type Handler, type Route } from './graph.ts';

/**
 * Calendar events: create (with `isOnlineMeeting` + `onlineMeetingProvider: "teamsForBusiness"` giving an
 * `onlineMeeting.joinUrl` on teams.microsoft.com), get, list, update, delete. Times come back in UTC unless
 * `Prefer: outlook.timezone` asks otherwise (only "UTC" and IANA zones are converted here).
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Wall time in a zone → UTC instant (IANA names via Intl; offsets in the string win). */
function toInstant(dateTime: string, timeZone: string): Date | null {
  if (/[zZ]|[+-]\d{2}:\d{2}$/.test(dateTime)) {
    const d = new Date(dateTime);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  const asUtc = new Date(`${dateTime.replace(/\.\d+$/, '')}Z`);
  if (Number.isNaN(asUtc.getTime())) return null;
  if (/^(utc|gmt|etc\/utc)$/i.test(timeZone)) return asUtc;
  try {
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    const parts = Object.fromEntries(fmt.formatToParts(asUtc).map((p) => [p.type, p.value]));
    const local = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
    return new Date(asUtc.getTime() - (local - asUtc.getTime()));
  } catch {
    return null;
  }
}

function wall(d: Date, timeZone: string): { dateTime: string; timeZone: string } {
  if (/^(utc|gmt|etc\/utc)$/i.test(timeZone)) return { dateTime: d.toISOString().replace(/\.\d{3}Z$/, '.0000000'), timeZone: 'UTC' };
  try {
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    const p = Object.fromEntries(fmt.formatToParts(d).map((x) => [x.type, x.value]));
    return { dateTime: `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}.0000000`, timeZone };
  } catch {
    return { dateTime: d.toISOString().replace(/\.\d{3}Z$/, '.0000000'), timeZone: 'UTC' };
  }
}

function timeOf(v: unknown, field: string): { at: Date; zone: string } {
  if (!isObj(v) || typeof v.dateTime !== 'string') throw badRequest(`Property '${field}' is required and must have 'dateTime' and 'timeZone'.`, 'ErrorInvalidRequest');
  const zone = typeof v.timeZone === 'string' && v.timeZone ? v.timeZone : 'UTC';
  const at = toInstant(v.dateTime, zone);
  if (!at) throw badRequest(`Invalid '${field}' value.`, 'ErrorInvalidRequest');
  return { at, zone };
}

function attendeesOf(v: unknown) {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest("Property 'attendees' must be a collection.");
  return v.map((a) => {
    const ea = isObj(a) && isObj(a.emailAddress) ? a.emailAddress : null;
    const address = ea && typeof ea.address === 'string' ? ea.address : '';
    if (!/^[^\s@]+@[^\s@]+$/.test(address)) throw new GraphError(400, 'ErrorInvalidRecipients', `Recipient '${address}' is not valid.`);
    return {
      type: isObj(a) && typeof a.type === 'string' ? a.type : 'required',
      status: { response: 'none', time: '0001-01-01T00:00:00Z' },
      emailAddress: { name: typeof ea!.name === 'string' ? ea!.name : address, address },
    };
  });
}

function outputZone(req: GraphRequest): string {
  return /outlook\.timezone\s*=\s*"([^"]+)"/i.exec(req.headers['prefer'] ?? '')?.[1] ?? 'UTC';
}

function render(ev: CalendarEvent, req: GraphRequest) {
  const b = ev.body;
  const zone = outputZone(req);
  return {
    '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(ev.address)}')/events/$entity`,
    '@odata.etag': `W/"${ev.changeKey}"`,
    ...b,
    id: ev.id,
    lastModifiedDateTime: graphDate(ev.lastModified),
    changeKey: ev.changeKey,
    start: wall(new Date(b.startInstant as string), zone),
    end: wall(new Date(b.endInstant as string), zone),
    startInstant: undefined,
    endInstant: undefined,
  };
}

function findEvent(ctx: MsContext, address: string, id: string): CalendarEvent {
  const ev = ctx.ms.events.get(id);
  if (!ev || ev.address.toLowerCase() !== address.toLowerCase()) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  return ev;
}

function applyFields(ctx: MsContext, address: string, target: Obj, input: Obj, creating: boolean): void {
  if (creating || input.subject !== undefined) target.subject = typeof input.subject === 'string' ? input.subject : '';
  if (creating || input.start !== undefined || input.end !== undefined) {
    const start = timeOf(input.start ?? (target.startInput as Obj), 'start');
    const end = timeOf(input.end ?? (target.endInput as Obj), 'end');
    if (end.at.getTime() < start.at.getTime()) throw badRequest('The end time must be after the start time.', 'ErrorInvalidRequest');
    target.startInstant = start.at.toISOString();
    target.endInstant = end.at.toISOString();
    target.originalStartTimeZone = start.zone;
    target.originalEndTimeZone = end.zone;
  }
  if (creating || input.attendees !== undefined) target.attendees = attendeesOf(input.attendees);
  if (creating || input.location !== undefined) {
    const loc = isObj(input.location) ? input.location : {};
    target.location = { displayName: typeof loc.displayName === 'string' ? loc.displayName : '', locationType: 'default', uniqueIdType: 'unknown', address: {}, coordinates: {} };
    target.locations = loc.displayName ? [target.location] : [];
  }
  const online = input.isOnlineMeeting === true || (input.isOnlineMeeting === undefined && target.isOnlineMeeting === true);
  const provider = typeof input.onlineMeetingProvider === 'string' ? input.onlineMeetingProvider : (target.onlineMeetingProvider as string | undefined) ?? 'teamsForBusiness';
  if (online && provider !== 'teamsForBusiness') {
    throw badRequest(`Online meeting provider '${provider}' is not allowed for this mailbox; allowed: teamsForBusiness.`, 'ErrorInvalidRequest');
  }
  let bodyContent = isObj(input.body) && typeof input.body.content === 'string' ? input.body.content : creating ? '' : ((target.body as Obj | undefined)?.content as string | undefined) ?? '';
  const bodyType = isObj(input.body) && typeof input.body.contentType === 'string' ? input.body.contentType.toLowerCase() : 'html';
  if (online && !target.onlineMeeting) {
    const mb = ctx.core.mailbox(address);
    const joinUrl = teamsJoinUrl(tenantIdFor(mb?.domain ?? address.split('@')[1] ?? ''), userObjectIdFor(address));
    target.onlineMeeting = { joinUrl, conferenceId: String(100000000 + Math.floor(Math.random() * 899999999)), tollNumber: null, tollFreeNumbers: [], quickDial: null, phones: [] };
    // Outlook appends the Teams join block to the invitation's body.
    bodyContent = `${bodyContent}<br><div>________________________________________________________________________________</div><div><span style="font-size:24px">Microsoft Teams meeting</span></div><div><a href="${joinUrl}">Join the meeting now</a></div>`;
  }
  if (!online) target.onlineMeeting = null;
  target.isOnlineMeeting = online;
  target.onlineMeetingProvider = online ? 'teamsForBusiness' : 'unknown';
  target.body = { contentType: online ? 'html' : bodyType, content: bodyContent };
  target.bodyPreview = htmlToText(bodyContent).replace(/\s+/g, ' ').trim().slice(0, 255);
}

const createEvent: Handler = (ctx, req, caller) => {
  requireScope(caller, 'Calendars.ReadWrite');
  const input = isObj(req.body) ? req.body : {};
  const now = ctx.core.now();
  const mb = ctx.core.mailbox(caller.address);
  const id = b64url(Buffer.concat([Buffer.from([0x00, 0x03, 0x24, 0x00, 0x07]), Buffer.from(opaque(40))]));
  const body: Obj = {
    createdDateTime: graphDate(now), categories: [], transactionId: typeof input.transactionId === 'string' ? input.transactionId : null,
    iCalUId: `040000008200E00074C5B7101A82E008000000${newGuid().replace(/-/g, '').toUpperCase()}`, uid: undefined,
    reminderMinutesBeforeStart: 15, isReminderOn: true, hasAttachments: false, importance: 'normal', sensitivity: 'normal',
    isAllDay: input.isAllDay === true, isCancelled: false, isOrganizer: true, responseRequested: true, seriesMasterId: null,
    showAs: 'busy', type: 'singleInstance', webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(id)}&exvsurl=1&path=/calendar/item`,
    onlineMeetingUrl: null, allowNewTimeProposals: true, occurrenceId: null, isDraft: false, hideAttendees: false,
    responseStatus: { response: 'organizer', time: '0001-01-01T00:00:00Z' }, recurrence: null,
    organizer: { emailAddress: { name: mb?.displayName ?? caller.address, address: caller.address } },
  };
  applyFields(ctx, caller.address, body, input, true);
  body.uid = body.iCalUId;
  const ev: CalendarEvent = { id, address: caller.address, iCalUId: String(body.iCalUId), body, createdAt: now, lastModified: now, changeKey: changeKey(id, 1) };
  ctx.ms.events.set(id, ev);
  ctx.onEventChange(caller.address, 'created', ev);
  return ok(render(ev, req), 201);
};

const getEvent: Handler = (ctx, req, caller, [id]) => {
  requireScope(caller, 'Calendars.Read', 'Calendars.ReadWrite', 'Calendars.ReadBasic');
  return ok(render(findEvent(ctx, caller.address, id!), req));
};

const listEvents: Handler = (ctx, req, caller) => {
  requireScope(caller, 'Calendars.Read', 'Calendars.ReadWrite', 'Calendars.ReadBasic');
  const value = [...ctx.ms.events.values()].filter((e) => e.address.toLowerCase() === caller.address.toLowerCase()).map((e) => {
    const { '@odata.context': _c, ...rest } = render(e, req);
    return rest;
  });
  return ok({ '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/events`, value });
};

let version = 1;
const updateEvent: Handler = (ctx, req, caller, [id]) => {
  requireScope(caller, 'Calendars.ReadWrite');
  const ev = findEvent(ctx, caller.address, id!);
  const input = isObj(req.body) ? req.body : {};
  if (input.start !== undefined || input.end !== undefined) {
    ev.body.startInput = input.start ?? { dateTime: ev.body.startInstant, timeZone: 'UTC' };
    ev.body.endInput = input.end ?? { dateTime: ev.body.endInstant, timeZone: 'UTC' };
  }
  applyFields(ctx, caller.address, ev.body, input, false);
  delete ev.body.startInput;
  delete ev.body.endInput;
  ev.lastModified = ctx.core.now();
  ev.changeKey = changeKey(ev.id, ++version);
  ctx.onEventChange(caller.address, 'updated', ev);
  return ok(render(ev, req));
};

const deleteEvent: Handler = (ctx, _req, caller, [id]) => {
  requireScope(caller, 'Calendars.ReadWrite');
  const ev = findEvent(ctx, caller.address, id!);
  ctx.ms.events.delete(ev.id);
  ctx.onEventChange(caller.address, 'deleted', ev);
  return { status: 204, headers: {}, body: null };
};

/**
 * `POST /me/events/{id}/cancel {comment}`: only the organizer may (others get 400 ErrorAccessDenied-like
 * errors at Graph); Exchange sends the attendees a cancellation carrying the comment and removes the event
 * from the organizer's calendar. The simulator keeps it, marked `isCancelled` with the comment sent, so a
 * test can see what the attendees were told. Answers 202 Accepted with no body.
 */
const cancelEvent: Handler = (ctx, req, caller, [id]) => {
  requireScope(caller, 'Calendars.ReadWrite');
  const ev = findEvent(ctx, caller.address, id!);
  if (ev.body.isCancelled === true) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  const input = isObj(req.body) ? req.body : {};
  if (input.comment !== undefined && typeof input.comment !== 'string') throw new GraphError(400, 'ErrorInvalidRequest', 'comment must be a string.');
  ev.body.isCancelled = true;
  ev.body.cancellationComment = input.comment ?? '';
  ev.lastModified = ctx.core.now();
  ev.changeKey = changeKey(ev.id, ++version);
  ctx.onEventChange(caller.address, 'deleted', ev);
  return { status: 202, headers: {}, body: null };
};

export const eventRoutes: Route[] = [];
for (const prefix of [['events'], ['calendar', 'events']]) {
  eventRoutes.push(
    { method: 'POST', pattern: prefix, name: 'events.create', handler: createEvent },
    { method: 'GET', pattern: prefix, name: 'events.list', handler: listEvents },
    { method: 'GET', pattern: [...prefix, ':'], name: 'events.get', handler: getEvent },
    { method: 'PATCH', pattern: [...prefix, ':'], name: 'events.update', handler: updateEvent },
    { method: 'DELETE', pattern: [...prefix, ':'], name: 'events.delete', handler: deleteEvent },
    { method: 'POST', pattern: [...prefix, ':', 'cancel'], name: 'events.cancel', handler: cancelEvent },
  );
}
