import { randomBytes } from 'node:crypto';
import { parseHeaders } from '../core/headers.ts';
import type { Change, Folder, StoredMessage } from '../core/mail.ts';
import { authenticate, type GoogleCtx } from './oauth.ts';
import { backendError, badRequest, GoogleApiError, insufficientScopes, notFound, rateLimitExceeded, userRateLimitExceeded } from './errors.ts';
import { FOLDER_LABEL, labelsFor, labelsOf, SYSTEM_LABELS, userLabelId } from './labels.ts';
import { bodyText, findAttachment, gmailPayload, snippetOf } from './mime.ts';
import { matches, mentionedLabels, parseQuery, QueryError, type Node } from './query.ts';
import { hasAny, METADATA_SCOPE, SCOPES_FOR } from './scopes.ts';
import type { AccessToken } from './state.ts';
import { createEvent, deleteEvent, getEvent, patchEvent } from './calendar.ts';
import { startWatch, stopWatch } from './push.ts';

/**
 * Gmail API v1 (https://developers.google.com/gmail/api/reference/rest) and the Calendar events it needs, as
 * one dispatcher over plain request objects, so that HTTP routes and batch parts run the same code: auth,
 * faults (inside batches), per-user concurrency, quota units, usage accounting, then the method.
 */

export interface GRequest {
  method: string;
  /** Below the Google base, e.g. `/gmail/v1/users/me/messages`. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  inBatch: boolean;
}

export interface GResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

interface Route {
  method: string;
  re: RegExp;
  name: string;
  scopes: readonly string[];
  handler: (ctx: GoogleCtx, call: Call) => GResponse | Promise<GResponse>;
  api: 'gmail' | 'calendar';
}

interface Call {
  req: GRequest;
  token: AccessToken;
  address: string;
  params: string[];
}

const json = (body: unknown, status = 200): GResponse => ({ status, headers: { 'content-type': 'application/json; charset=UTF-8' }, body });

const U = '^/gmail/v1/users/([^/]+)';
const ROUTES: Route[] = [
  { method: 'GET', re: new RegExp(`${U}/profile$`), name: 'getProfile', scopes: SCOPES_FOR.profile, handler: getProfile, api: 'gmail' },
  { method: 'GET', re: new RegExp(`${U}/messages$`), name: 'messages.list', scopes: SCOPES_FOR.readOrMetadata, handler: listMessages, api: 'gmail' },
  { method: 'POST', re: new RegExp(`${U}/messages/send$`), name: 'messages.send', scopes: SCOPES_FOR.send, handler: sendMessage, api: 'gmail' },
  { method: 'POST', re: new RegExp(`^/upload${U.slice(1)}/messages/send$`), name: 'messages.send', scopes: SCOPES_FOR.send, handler: sendMessage, api: 'gmail' },
  { method: 'GET', re: new RegExp(`${U}/messages/([^/]+)/attachments/([^/]+)$`), name: 'messages.attachments.get', scopes: SCOPES_FOR.read, handler: getAttachment, api: 'gmail' },
  { method: 'GET', re: new RegExp(`${U}/messages/([^/]+)$`), name: 'messages.get', scopes: SCOPES_FOR.readOrMetadata, handler: getMessage, api: 'gmail' },
  { method: 'GET', re: new RegExp(`${U}/threads/([^/]+)$`), name: 'threads.get', scopes: SCOPES_FOR.readOrMetadata, handler: getThread, api: 'gmail' },
  { method: 'GET', re: new RegExp(`${U}/history$`), name: 'history.list', scopes: SCOPES_FOR.readOrMetadata, handler: listHistory, api: 'gmail' },
  { method: 'POST', re: new RegExp(`${U}/watch$`), name: 'watch', scopes: SCOPES_FOR.readOrMetadata, handler: watch, api: 'gmail' },
  { method: 'POST', re: new RegExp(`${U}/stop$`), name: 'stop', scopes: SCOPES_FOR.readOrMetadata, handler: stop, api: 'gmail' },
  { method: 'GET', re: new RegExp(`${U}/labels$`), name: 'labels.list', scopes: SCOPES_FOR.labels, handler: listLabels, api: 'gmail' },
  { method: 'GET', re: new RegExp(`${U}/settings/sendAs$`), name: 'settings.sendAs.list', scopes: SCOPES_FOR.settings, handler: listSendAs, api: 'gmail' },
  { method: 'POST', re: /^\/calendar\/v3\/calendars\/([^/]+)\/events$/, name: 'calendar.events.insert', scopes: SCOPES_FOR.calendarWrite, handler: (c, call) => createEvent(c, call), api: 'calendar' },
  { method: 'GET', re: /^\/calendar\/v3\/calendars\/([^/]+)\/events\/([^/]+)$/, name: 'calendar.events.get', scopes: SCOPES_FOR.calendarRead, handler: (c, call) => getEvent(c, call), api: 'calendar' },
  { method: 'PATCH', re: /^\/calendar\/v3\/calendars\/([^/]+)\/events\/([^/]+)$/, name: 'calendar.events.patch', scopes: SCOPES_FOR.calendarWrite, handler: (c, call) => patchEvent(c, call), api: 'calendar' },
  { method: 'DELETE', re: /^\/calendar\/v3\/calendars\/([^/]+)\/events\/([^/]+)$/, name: 'calendar.events.delete', scopes: SCOPES_FOR.calendarWrite, handler: (c, call) => deleteEvent(c, call), api: 'calendar' },
];

export type { Call };

export function isApiPath(path: string): boolean {
  return /^\/(upload\/)?gmail\/v1\/|^\/calendar\/v3\//.test(path);
}

function errorResponse(e: GoogleApiError): GResponse {
  return { status: e.code, headers: { 'content-type': 'application/json; charset=UTF-8', ...(e.extra.headers ?? {}) }, body: e.body() };
}

/** Faults an API request can meet: inside a batch they become the part's response. */
export function faultError(fault: { fault: string; retryAfterSeconds?: number }): GoogleApiError | undefined {
  if (fault.fault === 'http_400') return badRequest('Invalid request.');
  if (fault.fault === 'http_429') return rateLimitExceeded('Rate Limit Exceeded', fault.retryAfterSeconds ?? 1);
  if (fault.fault === 'http_500') return backendError(500);
  if (fault.fault === 'http_503') {
    const e = backendError(503);
    if (fault.retryAfterSeconds !== undefined) e.extra.headers = { 'retry-after': String(fault.retryAfterSeconds) };
    return e;
  }
  return undefined;
}

export async function dispatch(ctx: GoogleCtx, req: GRequest): Promise<GResponse> {
  let matched: { route: Route; params: string[] } | undefined;
  let pathKnown = false;
  for (const route of ROUTES) {
    const m = route.re.exec(req.path);
    if (!m) continue;
    pathKnown = true;
    if (route.method === req.method.toUpperCase()) {
      matched = { route, params: m.slice(1).map((p) => decodeURIComponent(p)) };
      break;
    }
  }
  if (!matched) {
    return pathKnown
      ? errorResponse(new GoogleApiError(405, 'Method Not Allowed', 'httpMethodNotAllowed'))
      : { status: 404, headers: { 'content-type': 'text/html; charset=UTF-8' }, body: `<!DOCTYPE html><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>${req.path}</code> was not found on this server.` };
  }
  const { route, params } = matched;
  const state = ctx.state;
  try {
    if (req.inBatch) {
      const fault = state.faults.take('google', req.method, req.path, ['http_400', 'http_429', 'http_500', 'http_503']);
      const err = fault && faultError(fault);
      if (err) throw err;
    }
    const token = authenticate(ctx, req.headers.authorization, req.query.get('access_token'));
    if (!hasAny(token.scopes, route.scopes)) throw insufficientScopes();
    const userId = route.api === 'gmail' ? params[0]! : 'me';
    if (userId !== 'me' && userId.toLowerCase() !== token.address.toLowerCase()) throw new GoogleApiError(403, `Delegation denied for ${token.address}`, 'forbidden');
    const mailbox = state.mail.mailbox(token.address);
    if (!mailbox) throw new GoogleApiError(400, 'Mail service not enabled', 'failedPrecondition');
    const address = mailbox.address;
    const limits = state.limits.google;
    if (route.api === 'gmail') {
      if (!state.quota.enter('google', address, limits.concurrency)) throw rateLimitExceeded('Too many concurrent requests for user');
      try {
        const units = limits.units[route.name] ?? 5;
        const charged = state.quota.charge('google', address, units, limits.perUserUnitsPerMinute, 60, state.clock.now());
        if (!charged.ok) throw userRateLimitExceeded(charged.retryAfterSeconds);
        state.usage.request('google', address, route.name, units);
        if (limits.latencyMs > 0) await new Promise((r) => setTimeout(r, limits.latencyMs));
        return await route.handler(ctx, { req, token, address, params: params.slice(1) });
      } finally {
        state.quota.leave('google', address);
      }
    }
    state.usage.request('google', address, route.name, 0);
    return await route.handler(ctx, { req, token, address, params });
  } catch (e) {
    if (e instanceof GoogleApiError) return errorResponse(e);
    if (e instanceof QueryError) return errorResponse(badRequest(`Invalid query: ${e.message}`, 'q'));
    throw e;
  }
}

// ------------------------------------------------------------------------------------------ helpers

const textCache = new WeakMap<StoredMessage, { text: string; snippet: string }>();
function derived(m: StoredMessage) {
  let d = textCache.get(m);
  if (!d) {
    d = { text: (m.headers.subject + '\n' + bodyText(m.raw)).toLowerCase(), snippet: snippetOf(m.raw) };
    textCache.set(m, d);
  }
  return d;
}

function intParam(q: URLSearchParams, name: string, def: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return def;
  if (!/^\d+$/.test(v)) throw badRequest(`Invalid value at '${name}' (TYPE_UINT32), "${v}"`, name);
  return Math.min(Number(v), max);
}

function findMessage(ctx: GoogleCtx, address: string, id: string): StoredMessage {
  if (!/^[0-9a-f]{1,16}$/i.test(id)) throw badRequest('Invalid id value', 'id');
  const m = ctx.state.mail.message(address, id);
  if (!m) throw notFound();
  return m;
}

type Format = 'minimal' | 'metadata' | 'full' | 'raw';

function formatParam(call: Call): Format {
  const f = (call.req.query.get('format') ?? 'full').toLowerCase();
  if (f !== 'minimal' && f !== 'metadata' && f !== 'full' && f !== 'raw') throw badRequest(`Invalid value at 'format' (type.googleapis.com/gmail.v1.Format), "${f}"`, 'format');
  if ((f === 'full' || f === 'raw') && !hasAny(call.token.scopes, SCOPES_FOR.read) && call.token.scopes.includes(METADATA_SCOPE)) {
    throw new GoogleApiError(403, `Metadata scope doesn't allow format ${f.toUpperCase()}`, 'forbidden');
  }
  return f;
}

/** A message resource in the requested format; full/raw count toward bodiesServed. */
function messageResource(ctx: GoogleCtx, call: Call, m: StoredMessage, format: Format): Record<string, unknown> {
  const base: Record<string, unknown> = { id: m.id, threadId: m.threadId, labelIds: labelsOf(m) };
  base.snippet = derived(m).snippet;
  if (format === 'metadata') {
    const wanted = call.req.query.getAll('metadataHeaders').flatMap((h) => h.split(',')).map((h) => h.trim().toLowerCase()).filter(Boolean);
    const headers = m.headers.fields.filter((f) => wanted.length === 0 || wanted.includes(f.name.toLowerCase()));
    const ct = m.headers.fields.find((f) => f.name.toLowerCase() === 'content-type')?.value ?? 'text/plain';
    base.payload = { partId: '', mimeType: ct.split(';')[0]!.trim().toLowerCase(), filename: '', headers, body: { size: 0 } };
  } else if (format === 'full') {
    base.payload = gmailPayload(m.raw, m.id);
    ctx.state.usage.body('google', call.address, m.id);
  }
  base.sizeEstimate = m.sizeEstimate;
  if (format === 'raw') {
    base.raw = m.raw.toString('base64url');
    ctx.state.usage.body('google', call.address, m.id);
  }
  base.historyId = String(m.lastSeq);
  base.internalDate = String(m.internalDate.getTime());
  return base;
}

// ------------------------------------------------------------------------------------------ methods

function getProfile(ctx: GoogleCtx, call: Call): GResponse {
  const mail = ctx.state.mail;
  return json({
    emailAddress: call.address,
    messagesTotal: mail.messages(call.address).length,
    threadsTotal: mail.threadCount(call.address),
    historyId: String(mail.currentSeq(call.address)),
  });
}

const listCache = new WeakMap<GoogleCtx, Map<string, { seq: number; now: number; ids: StoredMessage[] }>>();

function listMessages(ctx: GoogleCtx, call: Call): GResponse {
  const q = call.req.query;
  const maxResults = intParam(q, 'maxResults', 100, 500);
  const query = q.get('q') ?? '';
  if (query && call.token.scopes.includes(METADATA_SCOPE) && !hasAny(call.token.scopes, SCOPES_FOR.read)) {
    throw new GoogleApiError(403, "Metadata scope does not support 'q' parameter", 'forbidden');
  }
  const labelIds = q.getAll('labelIds').flatMap((l) => l.split(',')).filter(Boolean);
  const includeSpamTrash = q.get('includeSpamTrash') === 'true';
  const node: Node | null = query.trim() ? parseQuery(query) : null;
  const now = ctx.state.clock.now().getTime();
  const seq = ctx.state.mail.currentSeq(call.address);
  const key = `${call.address}|${query}|${labelIds.join(',')}|${includeSpamTrash}`;
  let cache = listCache.get(ctx);
  if (!cache) listCache.set(ctx, (cache = new Map()));
  let hit = cache.get(key);
  // Relative operators (newer_than) depend on the clock; everything else only on the mailbox's changes.
  if (!hit || hit.seq !== seq || (/(newer|older)_than/.test(query) && hit.now !== now)) {
    const named = new Set([...labelIds, ...(node ? mentionedLabels(node) : [])]);
    const env = { now, text: (m: StoredMessage) => derived(m).text };
    const ids = ctx.state.mail.messages(call.address).filter((m) => {
      const labels = labelsOf(m);
      if (!includeSpamTrash && (m.folder === 'spam' || m.folder === 'trash') && !named.has(FOLDER_LABEL[m.folder as 'spam' | 'trash']) && !named.has('ANYWHERE')) return false;
      if (labelIds.some((l) => !labels.includes(l))) return false;
      return node ? matches(node, m, env) : true;
    });
    hit = { seq, now, ids };
    if (cache.size > 50) cache.clear();
    cache.set(key, hit);
  }
  const list = hit.ids;
  let start = 0;
  const token = q.get('pageToken');
  if (token) {
    const m = /^(\d{16})(\d{20})$/.exec(token);
    if (!m) throw badRequest('Invalid pageToken', 'pageToken');
    const lastDate = Number(m[1]);
    const lastId = BigInt(m[2]!);
    // first element strictly after (lastDate, lastId) in the newest-first order
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const x = list[mid]!;
      const t = x.internalDate.getTime();
      const after = t < lastDate || (t === lastDate && BigInt('0x' + x.id) < lastId);
      if (after) hi = mid;
      else lo = mid + 1;
    }
    start = lo;
  }
  const page = list.slice(start, start + maxResults);
  const body: Record<string, unknown> = {};
  if (page.length) body.messages = page.map((m) => ({ id: m.id, threadId: m.threadId }));
  if (start + maxResults < list.length && page.length) {
    const last = page[page.length - 1]!;
    body.nextPageToken = String(last.internalDate.getTime()).padStart(16, '0') + BigInt('0x' + last.id).toString().padStart(20, '0');
  }
  body.resultSizeEstimate = list.length;
  return json(body);
}

function getMessage(ctx: GoogleCtx, call: Call): GResponse {
  const m = findMessage(ctx, call.address, call.params[0]!);
  return json(messageResource(ctx, call, m, formatParam(call)));
}

function getAttachment(ctx: GoogleCtx, call: Call): GResponse {
  const m = findMessage(ctx, call.address, call.params[0]!);
  const data = findAttachment(m.raw, m.id, call.params[1]!);
  if (!data) throw notFound();
  ctx.state.usage.body('google', call.address, m.id);
  return json({ attachmentId: call.params[1], size: data.length, data: data.toString('base64url') });
}

function getThread(ctx: GoogleCtx, call: Call): GResponse {
  const id = call.params[0]!;
  if (!/^[0-9a-f]{1,16}$/i.test(id)) throw badRequest('Invalid id value', 'id');
  const messages = ctx.state.mail.thread(call.address, id);
  if (!messages.length) throw notFound();
  const format = formatParam(call);
  const sorted = [...messages].sort((a, b) => a.internalDate.getTime() - b.internalDate.getTime());
  return json({
    id,
    historyId: String(Math.max(...sorted.map((m) => m.lastSeq))),
    messages: sorted.map((m) => messageResource(ctx, call, m, format)),
  });
}

const HISTORY_TYPES = ['messageAdded', 'messageDeleted', 'labelAdded', 'labelRemoved'] as const;

function listHistory(ctx: GoogleCtx, call: Call): GResponse {
  const q = call.req.query;
  const mail = ctx.state.mail;
  const startRaw = q.get('startHistoryId');
  if (!startRaw) throw badRequest('Required parameter: startHistoryId', 'startHistoryId');
  if (!/^\d+$/.test(startRaw)) throw badRequest(`Invalid value at 'start_history_id' (TYPE_UINT64), "${startRaw}"`, 'startHistoryId');
  const start = Number(startRaw);
  if (ctx.state.faults.take('google', call.req.method, call.req.path, ['cursor_expired'])) throw notFound();
  const now = ctx.state.clock.now();
  const expiredUpTo = mail.lastSeqBefore(call.address, new Date(now.getTime() - ctx.state.limits.google.historyRetentionSeconds * 1000));
  if (start < expiredUpTo) throw notFound();
  const maxResults = intParam(q, 'maxResults', 100, 500);
  const labelId = q.get('labelId');
  const types = q.getAll('historyTypes').flatMap((t) => t.split(',')).filter(Boolean);
  for (const t of types) if (!(HISTORY_TYPES as readonly string[]).includes(t)) throw badRequest(`Invalid value at 'history_types' (type.googleapis.com/gmail.v1.HistoryType), "${t}"`, 'historyTypes');
  const want = (t: (typeof HISTORY_TYPES)[number]) => types.length === 0 || types.includes(t);
  const token = q.get('pageToken');
  let after = start;
  if (token) {
    if (!/^\d+$/.test(token)) throw badRequest('Invalid pageToken', 'pageToken');
    after = Math.max(start, Number(token));
  }
  const current = mail.currentSeq(call.address);
  const history: Record<string, unknown>[] = [];
  let lastScanned = after;
  let more = false;
  for (const c of mail.changes(call.address, after, current)) {
    if (history.length >= maxResults) {
      more = true;
      break;
    }
    lastScanned = c.seq;
    const rec = historyRecord(ctx, call.address, c, labelId, want);
    if (rec) history.push(rec);
  }
  const body: Record<string, unknown> = {};
  if (history.length) body.history = history;
  if (more) body.nextPageToken = String(lastScanned);
  body.historyId = String(current);
  return json(body);
}

function historyRecord(ctx: GoogleCtx, address: string, c: Change, labelId: string | null, want: (t: (typeof HISTORY_TYPES)[number]) => boolean): Record<string, unknown> | null {
  const m = ctx.state.mail.messageAny(address, c.id);
  const unread = m?.flags.unread ?? false;
  const after = c.folder ? labelsFor(c.folder, c.folder === 'trash' ? c.previousFolder : null, unread) : [];
  const before = c.previousFolder ? labelsFor(c.previousFolder, null, unread) : [];
  if (labelId && !after.includes(labelId) && !before.includes(labelId)) return null;
  const ref = { id: c.id, threadId: c.threadId };
  const rec: Record<string, unknown> = { id: String(c.seq), messages: [ref] };
  let any = false;
  if (c.kind === 'added' && want('messageAdded')) {
    rec.messagesAdded = [{ message: { ...ref, labelIds: after } }];
    any = true;
  }
  if (c.kind === 'deleted' && want('messageDeleted')) {
    rec.messagesDeleted = [{ message: ref }];
    any = true;
  }
  if (c.kind === 'moved') {
    const added = after.filter((l) => !before.includes(l));
    const removed = before.filter((l) => !after.includes(l));
    if (added.length && want('labelAdded')) {
      rec.labelsAdded = [{ message: { ...ref, labelIds: after }, labelIds: added }];
      any = true;
    }
    if (removed.length && want('labelRemoved')) {
      rec.labelsRemoved = [{ message: { ...ref, labelIds: after }, labelIds: removed }];
      any = true;
    }
  }
  return any ? rec : null;
}

function watch(ctx: GoogleCtx, call: Call): GResponse {
  const body = (call.req.body ?? {}) as { topicName?: unknown; labelIds?: unknown; labelFilterAction?: unknown; labelFilterBehavior?: unknown };
  if (typeof body.topicName !== 'string' || !body.topicName) throw badRequest('Invalid topicName does not match projects/SOME-PROJECT/topics/SOME-TOPIC', 'topicName');
  if (!/^projects\/[^/]+\/topics\/[^/]+$/.test(body.topicName)) throw badRequest(`Invalid topicName does not match projects/SOME-PROJECT/topics/SOME-TOPIC`, 'topicName');
  const labelIds = Array.isArray(body.labelIds) ? body.labelIds.map(String) : [];
  const behavior = String(body.labelFilterBehavior ?? body.labelFilterAction ?? 'include').toLowerCase() === 'exclude' ? 'exclude' : 'include';
  const w = startWatch(ctx, call.address, body.topicName, labelIds, behavior);
  return json({ historyId: String(w.historyId), expiration: String(w.expiration.getTime()) });
}

function stop(ctx: GoogleCtx, call: Call): GResponse {
  stopWatch(ctx, call.address);
  return { status: 204, headers: {}, body: null };
}

function listLabels(ctx: GoogleCtx, call: Call): GResponse {
  return json({
    labels: [
      ...SYSTEM_LABELS.map((id) => ({
        id,
        name: id,
        type: 'system',
        ...(id.startsWith('CATEGORY_') || id === 'CHAT' ? {} : { messageListVisibility: 'hide', labelListVisibility: 'labelHide' }),
      })),
      ...ctx.state.mail.userFolders(call.address).map((f) => ({ id: userLabelId(f.slice(5)), name: f.slice(5), type: 'user', messageListVisibility: 'show', labelListVisibility: 'labelShow' })),
    ],
  });
}

function listSendAs(ctx: GoogleCtx, call: Call): GResponse {
  const box = ctx.state.mail.mailbox(call.address)!;
  return json({
    sendAs: [
      { sendAsEmail: box.address, displayName: box.displayName, replyToAddress: '', signature: '', isPrimary: true, isDefault: true },
      ...box.aliases.map((a) => ({ sendAsEmail: a, displayName: box.displayName, replyToAddress: '', signature: '', isDefault: false, treatAsAlias: true, verificationStatus: 'accepted' })),
    ],
  });
}

const normSubject = (s: string) => s.replace(/^\s*((re|fwd?|aw|wg|sv|vs)\s*(\[\d+\])?\s*:\s*)+/i, '').trim().toLowerCase();

function sendMessage(ctx: GoogleCtx, call: Call): GResponse {
  const mail = ctx.state.mail;
  let raw: Buffer;
  let threadId: string | undefined;
  if (call.req.path.startsWith('/upload/')) {
    const b = call.req.body;
    if (Buffer.isBuffer(b)) raw = b;
    else if (typeof b === 'string') raw = Buffer.from(b);
    else throw badRequest("'raw' RFC822 payload message string or uploading message via /upload/* URL required");
    threadId = call.req.query.get('threadId') ?? undefined;
  } else {
    const b = (call.req.body ?? {}) as { raw?: unknown; threadId?: unknown };
    if (typeof b.raw !== 'string' || !b.raw) throw badRequest("'raw' RFC822 payload message string or uploading message via /upload/* URL required");
    raw = Buffer.from(b.raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    threadId = typeof b.threadId === 'string' && b.threadId ? b.threadId : undefined;
  }
  const box = mail.mailbox(call.address)!;
  let headers = parseHeaders(raw);
  const recipients = [...headers.to, ...headers.cc, ...headers.bcc];
  if (!recipients.length) throw badRequest('Recipient address required');
  // Gmail sends from the account or one of its verified send-as aliases; anything else becomes the primary address.
  const own = [box.address, ...box.aliases].map((a) => a.toLowerCase());
  const prefix: string[] = [];
  let text = raw.toString('latin1');
  if (!headers.from || !own.includes(headers.from.address.toLowerCase())) {
    text = text.replace(/^From:.*(\r?\n[ \t].*)*\r?\n/im, '');
    prefix.push(`From: ${box.displayName ? `"${box.displayName}" ` : ''}<${box.address}>`);
  }
  if (!headers.messageId) prefix.push(`Message-ID: <CA${randomBytes(24).toString('base64url')}@mail.gmail.com>`);
  if (!headers.date) prefix.push(`Date: ${ctx.state.clock.now().toUTCString().replace('GMT', '+0000')}`);
  if (prefix.length) {
    raw = Buffer.concat([Buffer.from(prefix.join('\r\n') + '\r\n', 'latin1'), Buffer.from(text, 'latin1')]);
    headers = parseHeaders(raw);
  }
  // Threading (https://developers.google.com/gmail/api/guides/threads): a sent message joins a thread only if
  // threadId is given, References or In-Reply-To name a message of that thread, and the Subject matches.
  let joins = false;
  if (threadId) {
    const thread = mail.thread(call.address, threadId);
    if (!thread.length) throw notFound();
    const refs = new Set([headers.inReplyTo, ...headers.references].filter((x): x is string => !!x));
    joins = thread.some((m) => refs.has(m.messageId)) && thread.some((m) => normSubject(m.headers.subject) === normSubject(headers.subject));
  }
  const now = ctx.state.clock.now();
  const ids = mail.deliverRaw(call.address, { raw, folder: 'sent', date: now, ...(joins ? { threadKey: threadId! } : { newThread: true }) });
  const stored = mail.message(call.address, ids.id)!;
  const parts = bodyParts(raw);
  mail.recordSent(call.address, {
    id: ids.id,
    threadId: ids.threadId,
    messageId: ids.messageId,
    inReplyTo: headers.inReplyTo,
    references: headers.references,
    from: headers.from?.address ?? box.address,
    to: headers.to.map((a) => a.address),
    cc: headers.cc.map((a) => a.address),
    subject: headers.subject,
    text: parts.text,
    html: parts.html,
    sentAt: now,
  });
  // Recipients that are simulated mailboxes receive the message (without the Bcc header).
  const delivered = new Set<string>();
  const withoutBcc = Buffer.from(raw.toString('latin1').replace(/^Bcc:.*(\r?\n[ \t].*)*\r?\n/im, ''), 'latin1');
  for (const r of recipients) {
    const target = mail.findMailbox(r.address);
    if (!target || target.address.toLowerCase() === box.address.toLowerCase() || delivered.has(target.address)) continue;
    delivered.add(target.address);
    mail.deliverRaw(target.address, { raw: withoutBcc, folder: 'inbox', date: now });
  }
  return json({ id: stored.id, threadId: stored.threadId, labelIds: labelsOf(stored) });
}

function bodyParts(raw: Buffer): { text: string | null; html: string | null } {
  let text: string | null = null;
  let html: string | null = null;
  const walk = (p: ReturnType<typeof gmailPayload>) => {
    if (p.parts) return p.parts.forEach(walk);
    if (p.filename || !p.body.data) return;
    const value = Buffer.from(p.body.data, 'base64url').toString('utf8');
    if (p.mimeType === 'text/plain' && text === null) text = value;
    if (p.mimeType === 'text/html' && html === null) html = value;
  };
  walk(gmailPayload(raw, 'sent'));
  return { text, html };
}

export type { Folder };
