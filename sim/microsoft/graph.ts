import { GraphError, accessDenied, badRequest, graphErrorBody, notFound } from './errors.ts';
import { hasAnyScope, type MsContext } from './context.ts';
import { DISPLAY_NAME, FOLDERS, displayNameOf, folderId, folderKey, isUserGraphFolder, newGuid, parentOf, parseMessageId, resolveFolder, rootFolderId, userObjectIdFor, type GraphFolder } from './ids.ts';
import { bodyPreference, parseSelect, renderDraft, renderMessage, type RenderOptions } from './messages.ts';
import { decodeToken, deltaPage, encodeToken, parseDeltaFilter, parseListFilter, removedJson, syncStateNotFound, type DeltaToken } from './delta.ts';
import type { AccessTokenRecord } from './state.ts';
import type { MsStoredMessage } from './port.ts';
import { mailRoutes } from './mail.ts';
import { eventRoutes } from './events.ts';
import { subscriptionRoutes } from './subscriptions.ts';
import { searchMessages } from './search.ts';
import { revokeUserSessions } from './identity.ts';

/**
 * Graph v1.0 as one dispatcher, so that HTTP requests and the requests inside a `$batch` take the same path:
 * authentication, faults, per-mailbox throttling (requests per window and concurrency), usage accounting,
 * then the resource handler.
 */

export interface GraphRequest {
  method: string;
  /** Path below `/v1.0`, starting with `/`, without the query. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  /** e.g. `http://127.0.0.1:4000/microsoft/v1.0` — for nextLink/deltaLink/@odata.context. */
  base: string;
  /** Inside a `$batch`: faults are matched on the inner path. */
  inner: boolean;
}

export interface GraphResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface Caller {
  token: AccessTokenRecord;
  address: string;
}

export type Handler = (ctx: MsContext, req: GraphRequest, caller: Caller, params: string[]) => Promise<GraphResponse> | GraphResponse;

export interface Route {
  method: string;
  /** Segments after `me` (or after the root for `subscriptions`); `:` marks a parameter. */
  pattern: string[];
  root?: boolean;
  name: string;
  handler: Handler;
}

export const ok = (body: unknown, status = 200, headers: Record<string, string> = {}): GraphResponse => ({ status, headers, body });
export const accepted = (): GraphResponse => ({ status: 202, headers: {}, body: null });

export function requireScope(caller: Caller, ...scopes: string[]): void {
  if (!hasAnyScope(caller.token.scopes, ...scopes)) throw accessDenied();
}

export const MAIL_READ = ['Mail.Read', 'Mail.ReadWrite', 'Mail.ReadBasic'];

/** `Prefer: IdType="ImmutableId"` */
export function wantsImmutable(req: GraphRequest): boolean {
  return /IdType\s*=\s*"?ImmutableId"?/i.test(req.headers['prefer'] ?? '');
}

export function renderOptions(req: GraphRequest, caller: Caller, select: string[] | null): RenderOptions {
  return { address: caller.address, immutable: wantsImmutable(req), select, bodyPref: bodyPreference(req.headers['prefer']) };
}

export function preferenceApplied(req: GraphRequest, extra: string[] = []): Record<string, string> {
  const applied = [...extra];
  if (wantsImmutable(req)) applied.push('IdType="ImmutableId"');
  const pref = bodyPreference(req.headers['prefer']);
  if (pref) applied.push(`outlook.body-content-type="${pref}"`);
  return applied.length ? { 'preference-applied': applied.join(', ') } : {};
}

/** Resolves a message id as a client sends it; a regular id from before a move no longer resolves. */
export function findMessage(ctx: MsContext, address: string, id: string): MsStoredMessage {
  const { immutableId, folder } = parseMessageId(id);
  const m = ctx.core.message(address, immutableId);
  if (!m || m.deleted || (folder !== null && folder !== folderKey(address, m.folder))) throw notFound();
  return m;
}

// ---------------------------------------------------------------- read routes kept here

const meRoute: Handler = (ctx, req, caller) => {
  requireScope(caller, 'User.Read', 'User.ReadWrite', 'User.ReadBasic.All', 'User.Read.All', 'User.ReadWrite.All');
  const mb = ctx.core.mailbox(caller.address);
  if (!mb) throw notFound();
  const [given, ...rest] = mb.displayName.split(' ');
  const full: Record<string, unknown> = {
    businessPhones: [], displayName: mb.displayName, givenName: given ?? null, jobTitle: null, mail: mb.address,
    mobilePhone: null, officeLocation: null, preferredLanguage: 'en-US', surname: rest.join(' ') || null,
    userPrincipalName: mb.address, id: userObjectIdFor(mb.address),
  };
  const extended: Record<string, unknown> = {
    ...full,
    proxyAddresses: [`SMTP:${mb.address}`, ...mb.aliases.map((a) => `smtp:${a}`)],
    otherMails: [], accountEnabled: true, mailNickname: mb.address.split('@')[0],
  };
  const selectRaw = req.query.get('$select');
  if (!selectRaw) return ok({ '@odata.context': `${req.base}/$metadata#users/$entity`, ...full });
  const out: Record<string, unknown> = { '@odata.context': `${req.base}/$metadata#users(${selectRaw})/$entity` };
  for (const name of selectRaw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const key = Object.keys(extended).find((k) => k.toLowerCase() === name.toLowerCase());
    if (!key) throw new GraphError(400, 'Request_BadRequest', `Could not find a property named '${name}' on type 'Microsoft.DirectoryServices.User'.`);
    out[key] = extended[key];
  }
  return ok(out);
};

/** Every folder of the mailbox: the system ones, then the user's (parents first). */
function allFolders(ctx: MsContext, address: string): GraphFolder[] {
  return [...FOLDERS, ...ctx.core.userFolders(address)];
}

function folderJson(ctx: MsContext, address: string, f: GraphFolder) {
  let total = 0;
  let unread = 0;
  for (const m of ctx.core.messages(address)) {
    if (m.deleted || m.folder !== f) continue;
    total++;
    if (f === 'inbox' || f === 'spam') unread++;
  }
  if (f === 'drafts') for (const d of ctx.ms.drafts.values()) if (d.address === address) total++;
  const parent = parentOf(f);
  const children = allFolders(ctx, address).filter((c) => parentOf(c) === f).length;
  return {
    id: folderId(address, f), displayName: displayNameOf(f), parentFolderId: parent ? folderId(address, parent) : rootFolderId(address),
    childFolderCount: children, unreadItemCount: unread, totalItemCount: total, sizeInBytes: 0, isHidden: false,
  };
}

function folderParam(ctx: MsContext, caller: Caller, raw: string): GraphFolder {
  const f = resolveFolder(caller.address, raw, ctx.core.userFolders(caller.address));
  if (!f) throw new GraphError(404, 'ErrorInvalidIdMalformed', 'Id is malformed.');
  return f;
}

/** Folder collections page like Graph's: 10 by default, `$top` up to 1,000, `$skip` in the next link. */
function folderPage(ctx: MsContext, req: GraphRequest, caller: Caller, list: GraphFolder[], context: string) {
  const top = Number(req.query.get('$top') ?? 10);
  const skip = Number(req.query.get('$skip') ?? 0);
  if (!Number.isInteger(top) || top < 1 || top > 1000 || !Number.isInteger(skip) || skip < 0) throw badRequest('Invalid $top or $skip.', 'ErrorInvalidUrlQuery');
  const body: Record<string, unknown> = { '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/${context}` };
  body.value = list.slice(skip, skip + top).map((f) => folderJson(ctx, caller.address, f));
  if (skip + top < list.length) {
    const q = new URLSearchParams(req.query);
    q.set('$skip', String(skip + top));
    body['@odata.nextLink'] = `${req.base}${req.path}?${q.toString()}`;
  }
  return ok(body);
}

/** `GET /me/mailFolders`: the folders below the root (Inbox, Archive, the user's top-level folders…). */
const listFolders: Handler = (ctx, req, caller) => {
  requireScope(caller, ...MAIL_READ);
  return folderPage(ctx, req, caller, allFolders(ctx, caller.address).filter((f) => parentOf(f) === null), 'mailFolders');
};

const listChildFolders: Handler = (ctx, req, caller, [p]) => {
  requireScope(caller, ...MAIL_READ);
  const parent = folderParam(ctx, caller, p!);
  return folderPage(ctx, req, caller, allFolders(ctx, caller.address).filter((f) => parentOf(f) === parent), `mailFolders('${folderId(caller.address, parent)}')/childFolders`);
};

const getFolder: Handler = (ctx, req, caller, [f]) => {
  requireScope(caller, ...MAIL_READ);
  return ok({ '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/mailFolders/$entity`, ...folderJson(ctx, caller.address, folderParam(ctx, caller, f!)) });
};

/** `POST /me/mailFolders` and `POST /me/mailFolders/{id}/childFolders` with `{displayName}`. */
const createFolder: Handler = (ctx, req, caller, [p]) => {
  requireScope(caller, 'Mail.ReadWrite');
  const name = typeof (req.body as { displayName?: unknown } | null)?.displayName === 'string' ? (req.body as { displayName: string }).displayName.trim() : '';
  if (!name || name.includes('/')) throw badRequest("The property 'displayName' is missing or not valid.", 'ErrorInvalidRequest');
  const parent = p === undefined ? null : folderParam(ctx, caller, p);
  if (parent === 'outbox' || parent === 'conversationhistory' || parent === 'syncissues') throw new GraphError(400, 'ErrorInvalidOperation', 'Folders cannot be created here.');
  // A path whose first segment is a system folder's display name files the folder below that folder.
  const path = parent === null ? name : isUserGraphFolder(parent) ? `${parent.slice(5)}/${name}` : `${DISPLAY_NAME[parent]}/${name}`;
  const folder = `user:${path}` as const;
  const siblings = allFolders(ctx, caller.address).filter((f) => parentOf(f) === parent);
  if (siblings.some((f) => displayNameOf(f).toLowerCase() === name.toLowerCase())) {
    throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
  }
  ctx.core.createFolder(caller.address, folder);
  return ok({ '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/mailFolders/$entity`, ...folderJson(ctx, caller.address, folder) }, 201);
};

function pageSizeOf(ctx: MsContext, req: GraphRequest, fallback: number): { size: number; applied: string | null } {
  const m = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(req.headers['prefer'] ?? '');
  const top = req.query.get('$top');
  let size = fallback;
  let applied: string | null = null;
  if (m) {
    size = Math.min(Number(m[1]), ctx.ms.config.maxDeltaPageSize);
    applied = `odata.maxpagesize=${size}`;
  }
  if (top !== null) {
    const n = Number(top);
    if (!Number.isInteger(n) || n < 1) throw badRequest(`Invalid value '${top}' for $top.`, 'ErrorInvalidUrlQuery');
    size = m ? Math.min(size, n) : Math.min(n, ctx.ms.config.maxDeltaPageSize);
  }
  return { size: Math.max(1, size), applied };
}

async function renderEntries(ctx: MsContext, req: GraphRequest, caller: Caller, select: string[] | null, messages: MsStoredMessage[], folder?: GraphFolder) {
  const opts = renderOptions(req, caller, select);
  const value: Record<string, unknown>[] = [];
  for (const m of messages) {
    const r = await renderMessage(m, { ...opts, ...(folder ? { folder } : {}) });
    if (r.bodyServed) ctx.core.countBody(caller.address, m.id);
    value.push({ '@odata.type': '#microsoft.graph.message', ...r.json });
  }
  return value;
}

const delta: Handler = async (ctx, req, caller, [f]) => {
  requireScope(caller, ...MAIL_READ);
  const folder = folderParam(ctx, caller, f!);
  const now = ctx.core.now();
  const skip = req.query.get('$skiptoken');
  const dtok = req.query.get('$deltatoken');
  let token: DeltaToken;
  if (skip !== null || dtok !== null) {
    const decoded = decodeToken((skip ?? dtok)!, ctx.ms.tokenKey);
    if (!decoded || decoded.a.toLowerCase() !== caller.address.toLowerCase() || decoded.f !== folder) throw syncStateNotFound();
    if (now.getTime() - decoded.t > ctx.ms.config.deltaTokenLifetimeSeconds * 1000) throw syncStateNotFound();
    if (decoded.s > ctx.core.currentSeq(caller.address)) throw syncStateNotFound();
    if (ctx.core.takeFault('GET', `/microsoft/v1.0${req.path}?${req.query.toString()}`, ['cursor_expired'])) throw syncStateNotFound();
    token = decoded;
  } else {
    const select = parseSelect(req.query.get('$select') ?? undefined);
    const ct = req.query.get('changeType');
    if (ct !== null && !['created', 'updated', 'deleted'].includes(ct)) throw badRequest(`Invalid changeType '${ct}'.`, 'ErrorInvalidUrlQuery');
    const orderby = req.query.get('$orderby');
    if (orderby !== null && !/^\s*receivedDateTime\s+desc\s*$/i.test(orderby)) throw badRequest("Only '$orderby=receivedDateTime desc' is supported for delta.", 'ErrorInvalidUrlQuery');
    if (req.query.get('$search') !== null) throw badRequest('$search is not supported for delta.', 'ErrorInvalidUrlQuery');
    token = {
      v: 1, a: caller.address, f: folder, ph: 'i', s: ctx.core.currentSeq(caller.address), t: now.getTime(),
      sel: select ? select.join(',') : null, flt: parseDeltaFilter(req.query.get('$filter') ?? undefined),
      ps: null, ct: (ct as DeltaToken['ct']) ?? null,
    };
    const top = req.query.get('$top');
    if (top !== null) token.ps = pageSizeOf(ctx, req, ctx.ms.config.defaultDeltaPageSize).size;
  }
  const { size, applied } = pageSizeOf(ctx, { ...req, query: new URLSearchParams(token.ps ? { $top: String(token.ps) } : {}) }, ctx.ms.config.defaultDeltaPageSize);
  const page = deltaPage(ctx.core, token, size, ctx.ms.config.deltaFilterCap, now);
  const select = token.sel ? token.sel.split(',') : null;
  const immutable = wantsImmutable(req);
  const value: Record<string, unknown>[] = [];
  const opts = renderOptions(req, caller, select);
  for (const e of page.entries) {
    if (e.kind === 'removed') {
      value.push(removedJson(e, folder, immutable, caller.address));
      continue;
    }
    const r = await renderMessage(e.message, { ...opts, folder: e.folder });
    if (r.bodyServed) ctx.core.countBody(caller.address, e.message.id);
    value.push({ '@odata.type': '#microsoft.graph.message', ...r.json });
  }
  const link = `${req.base}${req.path}`;
  const body: Record<string, unknown> = { '@odata.context': `${req.base}/$metadata#Collection(message)` };
  if (page.next) body['@odata.nextLink'] = `${link}?$skiptoken=${encodeToken(page.next, ctx.ms.tokenKey)}`;
  if (page.delta) body['@odata.deltaLink'] = `${link}?$deltatoken=${encodeToken(page.delta, ctx.ms.tokenKey)}`;
  body.value = value;
  return ok(body, 200, preferenceApplied(req, applied ? [applied] : []));
};

function listMessagesOf(folder: GraphFolder | null): Handler {
  return async (ctx, req, caller, params) => {
    requireScope(caller, ...MAIL_READ);
    const f = folder ?? (params[0] !== undefined ? folderParam(ctx, caller, params[0]) : null);
    const select = parseSelect(req.query.get('$select') ?? undefined);
    const top = Number(req.query.get('$top') ?? 10);
    const skip = Number(req.query.get('$skip') ?? 0);
    if (!Number.isInteger(top) || top < 1 || top > 1000) throw badRequest('$top must be between 1 and 1000.', 'ErrorInvalidUrlQuery');
    const search = req.query.get('$search');
    const orderby = req.query.get('$orderby');
    if (orderby !== null && !/^\s*receivedDateTime(\s+desc)?\s*$/i.test(orderby)) throw badRequest("Only '$orderby=receivedDateTime desc' is supported.", 'ErrorInvalidUrlQuery');
    const ascending = orderby !== null && !/desc/i.test(orderby);
    const received = parseListFilter(req.query.get('$filter'));
    const present = [...ctx.core.messages(caller.address)].filter((m) => !m.deleted && (f === null || m.folder === f) && received(m.internalDate.getTime()));
    if (search !== null && (req.query.get('$filter') !== null || req.query.get('$orderby') !== null)) {
      throw badRequest('$search cannot be combined with $filter or $orderby on messages.', 'ErrorInvalidUrlQuery');
    }
    const all =
      search !== null
        ? await searchMessages(present, search, ctx.ms.config.searchResultCap)
        : present.sort((a, b) => (ascending ? 1 : -1) * (a.internalDate.getTime() - b.internalDate.getTime()));
    const slice = all.slice(skip, skip + top);
    const body: Record<string, unknown> = { '@odata.context': `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/messages` };
    body.value = await renderEntries(ctx, req, caller, select, slice);
    if (skip + top < all.length) {
      const q = new URLSearchParams(req.query);
      q.set('$skip', String(skip + top));
      body['@odata.nextLink'] = `${req.base}${req.path}?${q.toString()}`;
    }
    return ok(body, 200, preferenceApplied(req));
  };
}

const getMessage: Handler = async (ctx, req, caller, [id]) => {
  requireScope(caller, ...MAIL_READ);
  const select = parseSelect(req.query.get('$select') ?? undefined);
  const draft = draftById(ctx, caller.address, id!);
  const opts = renderOptions(req, caller, select);
  const ctxUrl = `${req.base}/$metadata#users('${encodeURIComponent(caller.address)}')/messages${select ? `(${select.join(',')})` : ''}/$entity`;
  if (draft) {
    const r = renderDraft(draft, opts);
    return ok({ '@odata.context': ctxUrl, ...r.json }, 200, preferenceApplied(req));
  }
  if (select?.some((s) => s === 'body' || s === 'uniqueBody') || !select) {
    if (hasAnyScope(caller.token.scopes, 'Mail.ReadBasic') && !hasAnyScope(caller.token.scopes, 'Mail.Read', 'Mail.ReadWrite')) throw accessDenied();
  }
  const m = findMessage(ctx, caller.address, id!);
  const r = await renderMessage(m, opts);
  if (r.bodyServed) ctx.core.countBody(caller.address, m.id);
  return ok({ '@odata.context': ctxUrl, ...r.json }, 200, preferenceApplied(req));
};

const getMime: Handler = (ctx, _req, caller, [id]) => {
  requireScope(caller, 'Mail.Read', 'Mail.ReadWrite');
  const m = findMessage(ctx, caller.address, id!);
  ctx.core.countBody(caller.address, m.id);
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: m.raw };
};

export function draftById(ctx: MsContext, address: string, id: string) {
  const { immutableId } = parseMessageId(id);
  const d = ctx.ms.drafts.get(immutableId);
  return d && d.address === address ? d : undefined;
}

const revokeSessions: Handler = (ctx, req, caller) => {
  const n = revokeUserSessions(ctx, caller.address);
  ctx.core.recordRevocation(caller.address, { kind: 'token', id: `revokeSignInSessions:${newGuid()}`, at: ctx.core.now(), detail: `${n} refresh token(s)` });
  ctx.onSessionsRevoked(caller.address);
  return ok({ '@odata.context': `${req.base}/$metadata#Edm.Boolean`, value: true });
};

export const ROUTES: Route[] = [
  { method: 'GET', pattern: [], name: 'users.get', handler: meRoute },
  { method: 'POST', pattern: ['revokesigninsessions'], name: 'users.revokeSignInSessions', handler: revokeSessions },
  { method: 'GET', pattern: ['mailfolders'], name: 'mailFolders.list', handler: listFolders },
  { method: 'POST', pattern: ['mailfolders'], name: 'mailFolders.create', handler: createFolder },
  { method: 'GET', pattern: ['mailfolders', ':'], name: 'mailFolders.get', handler: getFolder },
  { method: 'GET', pattern: ['mailfolders', ':', 'childfolders'], name: 'mailFolders.listChildFolders', handler: listChildFolders },
  { method: 'POST', pattern: ['mailfolders', ':', 'childfolders'], name: 'mailFolders.createChildFolder', handler: createFolder },
  { method: 'GET', pattern: ['mailfolders', ':', 'messages'], name: 'messages.list', handler: listMessagesOf(null) },
  { method: 'GET', pattern: ['mailfolders', ':', 'messages', 'delta'], name: 'messages.delta', handler: delta },
  { method: 'GET', pattern: ['mailfolders', ':', 'messages', 'microsoft.graph.delta'], name: 'messages.delta', handler: delta },
  { method: 'GET', pattern: ['messages'], name: 'messages.list', handler: listMessagesOf(null) },
  { method: 'GET', pattern: ['messages', ':'], name: 'messages.get', handler: getMessage },
  { method: 'GET', pattern: ['messages', ':', '$value'], name: 'messages.getMime', handler: getMime },
  ...mailRoutes,
  ...eventRoutes,
  ...subscriptionRoutes,
];

// ---------------------------------------------------------------- dispatch

/** Splits `/me/mailFolders('Inbox')/messages/delta` into `['me','mailfolders','Inbox','messages','delta']` (static parts lower-cased later). */
export function segments(path: string): string[] {
  const out: string[] = [];
  for (const raw of path.split('/')) {
    if (!raw) continue;
    const seg = decodeURIComponent(raw);
    const m = /^([A-Za-z.]+)\('?([^')]*)'?\)$/.exec(seg);
    if (m) out.push(m[1]!, m[2]!);
    else out.push(seg);
  }
  return out;
}

function match(route: Route, segs: string[]): string[] | null {
  if (route.pattern.length !== segs.length) return null;
  const params: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    const p = route.pattern[i]!;
    if (p === ':') params.push(segs[i]!);
    else if (p !== segs[i]!.toLowerCase()) return null;
  }
  return params;
}

function authenticate(ctx: MsContext, header: string | undefined): Caller {
  const www = { 'www-authenticate': 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"' };
  const bearer = header && /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (!bearer) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty.', www);
  const t = ctx.ms.accessTokens.get(bearer);
  if (!t) {
    const msg = bearer.split('.').length === 3 ? 'IDX10511: Signature validation failed.' : 'IDX14100: JWT is not well formed, there are no dots (.).';
    throw new GraphError(401, 'InvalidAuthenticationToken', msg, www);
  }
  if (t.revoked) {
    throw new GraphError(401, 'InvalidAuthenticationToken', 'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp', {
      ...www, 'www-authenticate': `${www['www-authenticate']}, error="insufficient_claims"`,
    });
  }
  if (t.expiresAt.getTime() <= ctx.core.now().getTime()) throw new GraphError(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.', www);
  return { token: t, address: t.address };
}

function throttle(ctx: MsContext, address: string): () => void {
  if (!ctx.core.enter(address)) {
    throw new GraphError(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'retry-after': '1' });
  }
  const charged = ctx.core.charge(address);
  if (!charged.ok) {
    ctx.core.leave(address);
    throw new GraphError(429, 'ApplicationThrottled', 'Application is over its MailboxRequests limit of requests per time window.', { 'retry-after': String(charged.retryAfterSeconds) });
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    ctx.core.leave(address);
  };
}

export function faultResponse(fault: string, retryAfter: number | undefined): GraphError | null {
  switch (fault) {
    case 'http_400':
      return new GraphError(400, 'ErrorInvalidRequest', 'The request is invalid.');
    case 'http_429':
      return new GraphError(429, 'TooManyRequests', 'Too many requests.', { 'retry-after': String(retryAfter ?? 10) });
    case 'http_500':
      return new GraphError(500, 'InternalServerError', 'An internal server error occurred.');
    case 'http_503':
      return new GraphError(503, 'ServiceNotAvailable', 'The service is temporarily unavailable. Please retry later.', { 'retry-after': String(retryAfter ?? 5) });
    default:
      return null;
  }
}

export async function dispatch(ctx: MsContext, req: GraphRequest): Promise<GraphResponse> {
  const requestId = newGuid();
  const baseHeaders: Record<string, string> = {
    'request-id': requestId,
    'client-request-id': req.headers['client-request-id'] ?? requestId,
    'x-ms-ags-diagnostic': JSON.stringify({ ServerInfo: { DataCenter: 'Simulated', Slice: 'E', Ring: '5', ScaleUnit: '000', RoleInstance: 'SIM', ADSiteName: 'SIM' } }),
  };
  const fail = (e: GraphError): GraphResponse => ({
    status: e.status,
    headers: { ...baseHeaders, ...e.headers, 'content-type': 'application/json' },
    body: graphErrorBody(e.code, e.message, ctx.core.now(), requestId, baseHeaders['client-request-id']!),
  });
  let release: (() => void) | null = null;
  try {
    ctx.tick();
    if (req.inner) {
      const url = `/microsoft/v1.0${req.path}${req.query.size ? `?${req.query.toString()}` : ''}`;
      const fault = ctx.core.takeFault(req.method, url, ['http_400', 'http_429', 'http_500', 'http_503']);
      const f = fault ? faultResponse(fault.fault, fault.retryAfterSeconds) : null;
      if (f) return fail(f);
    }
    const segs = segments(req.path);
    let rest: string[];
    let caller: Caller | null = null;
    const root = segs[0]?.toLowerCase();
    if (root === 'me') rest = segs.slice(1);
    else if (root === 'users' && segs.length >= 2) rest = segs.slice(2);
    else if (root === 'subscriptions') rest = segs;
    else throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${segs[0] ?? ''}'.`);
    let found: { route: Route; params: string[] } | null = null;
    let pathMatched = false;
    for (const route of ROUTES) {
      if ((root === 'subscriptions') !== Boolean(route.root)) continue;
      const params = match(route, rest);
      if (!params) continue;
      pathMatched = true;
      if (route.method === req.method) {
        found = { route, params };
        break;
      }
    }
    if (!found) {
      if (pathMatched) throw new GraphError(405, 'Request_BadRequest', `The request method '${req.method}' is not supported on this resource.`);
      throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${rest[rest.length - 1] ?? segs[0] ?? ''}'.`);
    }
    caller = authenticate(ctx, req.headers['authorization']);
    if (root === 'users') {
      const who = segs[1]!.toLowerCase();
      if (who !== caller.address.toLowerCase() && who !== userObjectIdFor(caller.address)) throw accessDenied();
    }
    release = throttle(ctx, caller.address);
    ctx.core.countRequest(caller.address, found.route.name, 1);
    const res = await found.route.handler(ctx, req, caller, found.params);
    const headers = { ...baseHeaders, ...res.headers };
    if (res.body !== null && res.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';
    return { status: res.status, headers, body: res.body };
  } catch (e) {
    if (e instanceof GraphError) return fail(e);
    throw e;
  } finally {
    release?.();
  }
}
