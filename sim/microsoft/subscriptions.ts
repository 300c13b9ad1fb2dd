import { GraphError, badRequest } from './errors.ts';
import { hasAnyScope, type MsContext } from './context.ts';
import { changeKey, messageIdFor, newGuid, resolveFolder, tenantIdFor, userObjectIdFor, type GraphFolder } from './ids.ts';
import type { MsChange } from './port.ts';
import type { Subscription } from './state.ts';
import { accessDenied } from './errors.ts';
import { ok, wantsImmutable, type Caller, type Handler, type Route } from './graph.ts';

/**
 * Graph change notifications over webhooks: subscription create (with the `validationToken` handshake on
 * both URLs), renew, reauthorize, delete, list; change notifications carrying `clientState`; lifecycle
 * notifications (`reauthorizationRequired` before expiry and after the user's sessions are revoked,
 * `subscriptionRemoved`, `missed` when a delivery fails). Expired subscriptions disappear.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const CHANGE_TYPES = ['created', 'updated', 'deleted'] as const;
type ChangeType = (typeof CHANGE_TYPES)[number];

/** `2024-05-01T10:00:00.1230000Z`: Graph writes seven fractional digits here. */
export const longDate = (d: Date): string => d.toISOString().replace(/Z$/, '0000Z');

export function subscriptionJson(s: Subscription) {
  return {
    id: s.id,
    resource: s.resource,
    applicationId: s.clientId,
    changeType: s.changeTypes.join(','),
    clientState: s.clientState,
    notificationUrl: s.notificationUrl,
    notificationQueryOptions: null,
    lifecycleNotificationUrl: s.lifecycleNotificationUrl,
    expirationDateTime: longDate(s.expirationDateTime),
    creatorId: userObjectIdFor(s.address),
    includeResourceData: false,
    latestSupportedTlsVersion: s.latestSupportedTlsVersion,
    encryptionCertificate: null,
    encryptionCertificateId: null,
    notificationUrlAppId: null,
  };
}

/** `me/mailFolders('Inbox')/messages`, `/users/{id}/messages`, `me/events`, `me/calendar/events`. */
function parseResource(caller: Caller, resource: string, userFolders: Iterable<`user:${string}`> = []): Subscription['target'] {
  const path = resource.split('?')[0]!.replace(/^\/+/, '');
  const segs: string[] = [];
  for (const raw of path.split('/')) {
    const m = /^([A-Za-z]+)\('?([^')]*)'?\)$/.exec(raw);
    if (m) segs.push(m[1]!, m[2]!);
    else if (raw) segs.push(raw);
  }
  let rest: string[];
  const root = segs[0]?.toLowerCase();
  if (root === 'me') rest = segs.slice(1);
  else if (root === 'users' && segs[1]) {
    const who = segs[1].toLowerCase();
    if (who !== caller.address.toLowerCase() && who !== userObjectIdFor(caller.address)) throw accessDenied();
    rest = segs.slice(2);
  } else throw badRequest(`Resource '${resource}' is not supported.`, 'InvalidRequest');
  const lower = rest.map((s) => s.toLowerCase());
  if (lower.length === 1 && lower[0] === 'messages') return { kind: 'messages', folder: null };
  if (lower.length === 3 && lower[0] === 'mailfolders' && lower[2] === 'messages') {
    const f = resolveFolder(caller.address, rest[1]!, userFolders);
    if (!f) throw new GraphError(400, 'ExtensionError', `Operation: Create; Exception: [Status Code: NotFound; Reason: The specified folder could not be found in the store.]`);
    return { kind: 'messages', folder: f };
  }
  if ((lower.length === 1 && lower[0] === 'events') || (lower.length === 2 && lower[0] === 'calendar' && lower[1] === 'events')) return { kind: 'events' };
  throw badRequest(`Resource '${resource}' is not supported for subscriptions.`, 'InvalidRequest');
}

function checkScopes(caller: Caller, target: Subscription['target']): void {
  const ok = target.kind === 'messages'
    ? hasAnyScope(caller.token.scopes, 'Mail.Read', 'Mail.ReadWrite', 'Mail.ReadBasic')
    : hasAnyScope(caller.token.scopes, 'Calendars.Read', 'Calendars.ReadWrite', 'Calendars.ReadBasic');
  if (!ok) throw new GraphError(403, 'ExtensionError', 'Operation: Create; Exception: [Status Code: Forbidden; Reason: Access is denied. Check credentials and try again.]');
}

function parseExpiry(ctx: MsContext, v: unknown): Date {
  const at = typeof v === 'string' ? new Date(v) : new Date(NaN);
  if (Number.isNaN(at.getTime())) throw badRequest("The 'expirationDateTime' property is required and must be a valid date.", 'InvalidRequest');
  const now = ctx.core.now().getTime();
  if (at.getTime() <= now) throw badRequest('Subscription expiration date must be in the future.', 'InvalidRequest');
  const max = ctx.ms.config.maxSubscriptionMinutes;
  if (at.getTime() > now + max * 60_000) throw badRequest(`Subscription expiration can only be ${max} minutes in the future.`, 'InvalidRequest');
  return at;
}

async function validateEndpoint(ctx: MsContext, url: string): Promise<boolean> {
  const token = `Validation: Testing client application reachability for subscription Request-Id: ${newGuid()}`;
  const target = new URL(url);
  target.searchParams.set('validationToken', token);
  try {
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: '',
      signal: AbortSignal.timeout(ctx.ms.config.validationTimeoutMs),
    });
    const text = await res.text();
    return res.status === 200 && (res.headers.get('content-type') ?? '').toLowerCase().startsWith('text/plain') && text === token;
  } catch {
    return false;
  }
}

const validationFailed = () => new GraphError(400, 'InvalidRequest', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.');

function ownSubscription(ctx: MsContext, caller: Caller, id: string): Subscription {
  const s = ctx.ms.subscriptions.get(id);
  if (!s || s.address.toLowerCase() !== caller.address.toLowerCase() || s.clientId !== caller.token.clientId) {
    throw new GraphError(404, 'ResourceNotFound', `The object '${id}' was not found.`);
  }
  return s;
}

const create: Handler = async (ctx, req, caller) => {
  const b = isObj(req.body) ? req.body : {};
  const types = String(b.changeType ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  if (types.length === 0 || types.some((t) => !(CHANGE_TYPES as readonly string[]).includes(t))) {
    throw badRequest(`Invalid 'changeType' attribute: '${String(b.changeType ?? '')}'.`, 'InvalidRequest');
  }
  const notificationUrl = typeof b.notificationUrl === 'string' ? b.notificationUrl : '';
  const lifecycleUrl = typeof b.lifecycleNotificationUrl === 'string' ? b.lifecycleNotificationUrl : null;
  for (const u of [notificationUrl, lifecycleUrl]) {
    if (u === null) continue;
    try {
      const parsed = new URL(u);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('scheme');
    } catch {
      throw badRequest(`Invalid notification URL '${u}'.`, 'InvalidRequest');
    }
  }
  if (typeof b.resource !== 'string' || !b.resource) throw badRequest("The 'resource' property is required.", 'InvalidRequest');
  const target = parseResource(caller, b.resource, ctx.core.userFolders(caller.address));
  checkScopes(caller, target);
  const expiry = parseExpiry(ctx, b.expirationDateTime);
  const clientState = typeof b.clientState === 'string' ? b.clientState : null;
  if (clientState !== null && clientState.length > 128) throw badRequest('clientState must be at most 128 characters.', 'InvalidRequest');
  if (!(await validateEndpoint(ctx, notificationUrl))) throw validationFailed();
  if (lifecycleUrl !== null && !(await validateEndpoint(ctx, lifecycleUrl))) throw validationFailed();
  const s: Subscription = {
    id: newGuid(),
    address: caller.address,
    clientId: caller.token.clientId,
    resource: b.resource,
    target,
    changeTypes: types as ChangeType[],
    notificationUrl,
    lifecycleNotificationUrl: lifecycleUrl,
    clientState,
    expirationDateTime: expiry,
    immutableIds: wantsImmutable(req),
    latestSupportedTlsVersion: typeof b.latestSupportedTlsVersion === 'string' ? b.latestSupportedTlsVersion : 'v1_2',
    needsReauthorization: false,
    reauthorizationSentFor: null,
    createdAt: ctx.core.now(),
  };
  ctx.ms.subscriptions.set(s.id, s);
  ctx.ms.lifecycleDueAt = -Infinity;
  return ok({ '@odata.context': `${req.base}/$metadata#subscriptions/$entity`, ...subscriptionJson(s) }, 201);
};

const list: Handler = (ctx, req, caller) => {
  const value = [...ctx.ms.subscriptions.values()]
    .filter((s) => s.address.toLowerCase() === caller.address.toLowerCase() && s.clientId === caller.token.clientId)
    .map(subscriptionJson);
  return ok({ '@odata.context': `${req.base}/$metadata#subscriptions`, value });
};

const get: Handler = (ctx, req, caller, [id]) => ok({ '@odata.context': `${req.base}/$metadata#subscriptions/$entity`, ...subscriptionJson(ownSubscription(ctx, caller, id!)) });

const renew: Handler = (ctx, req, caller, [id]) => {
  const s = ownSubscription(ctx, caller, id!);
  checkScopes(caller, s.target);
  const b = isObj(req.body) ? req.body : {};
  s.expirationDateTime = parseExpiry(ctx, b.expirationDateTime);
  s.needsReauthorization = false;
  s.reauthorizationSentFor = null;
  ctx.ms.lifecycleDueAt = -Infinity;
  return ok({ '@odata.context': `${req.base}/$metadata#subscriptions/$entity`, ...subscriptionJson(s) });
};

const reauthorize: Handler = (ctx, _req, caller, [id]) => {
  const s = ownSubscription(ctx, caller, id!);
  checkScopes(caller, s.target);
  s.needsReauthorization = false;
  return { status: 200, headers: {}, body: null };
};

const remove: Handler = (ctx, _req, caller, [id]) => {
  const s = ownSubscription(ctx, caller, id!);
  ctx.ms.subscriptions.delete(s.id);
  ctx.core.recordRevocation(s.address, { kind: 'subscription', id: s.id, at: ctx.core.now(), detail: s.resource });
  return { status: 204, headers: {}, body: null };
};

export const subscriptionRoutes: Route[] = [
  { method: 'POST', pattern: ['subscriptions'], root: true, name: 'subscriptions.create', handler: create },
  { method: 'GET', pattern: ['subscriptions'], root: true, name: 'subscriptions.list', handler: list },
  { method: 'GET', pattern: ['subscriptions', ':'], root: true, name: 'subscriptions.get', handler: get },
  { method: 'PATCH', pattern: ['subscriptions', ':'], root: true, name: 'subscriptions.update', handler: renew },
  { method: 'DELETE', pattern: ['subscriptions', ':'], root: true, name: 'subscriptions.delete', handler: remove },
  { method: 'POST', pattern: ['subscriptions', ':', 'reauthorize'], root: true, name: 'subscriptions.reauthorize', handler: reauthorize },
];

// ---------------------------------------------------------------- delivery

export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';

/** Queues notifications per subscription and posts them in batches, as Graph does. */
export class Notifier {
  private queue = new Map<string, Obj[]>();
  private scheduled = false;
  private pending = new Set<Promise<void>>();

  constructor(private readonly ctx: MsContext) {}

  /** A change in the mail store: which subscriptions see it, and as what. */
  onMailChange(address: string, change: MsChange): void {
    const owner = address.toLowerCase();
    for (const s of this.ctx.ms.subscriptions.values()) {
      if (s.target.kind !== 'messages' || s.address.toLowerCase() !== owner) continue;
      let type: ChangeType | null;
      let folder: GraphFolder | null;
      const f = s.target.folder;
      if (f === null) {
        type = change.previousFolder === null ? 'created' : change.folder === null ? 'deleted' : 'updated';
        folder = change.folder ?? change.previousFolder;
      } else if (change.folder === f && change.previousFolder !== f) {
        type = 'created';
        folder = f;
      } else if (change.previousFolder === f && change.folder !== f) {
        type = 'deleted';
        folder = f;
      } else continue;
      if (!type || !folder || !s.changeTypes.includes(type)) continue;
      const id = messageIdFor(change.id, folder, s.immutableIds, s.address);
      this.enqueue(s, type, 'Messages', id, '#Microsoft.Graph.Message', changeKey(change.id, change.seq));
    }
  }

  onEventChange(address: string, type: ChangeType, eventId: string, ck: string): void {
    for (const s of this.ctx.ms.subscriptions.values()) {
      if (s.target.kind !== 'events' || s.address.toLowerCase() !== address.toLowerCase() || !s.changeTypes.includes(type)) continue;
      this.enqueue(s, type, 'Events', eventId, '#Microsoft.Graph.Event', ck);
    }
  }

  private enqueue(s: Subscription, type: ChangeType, kind: string, id: string, odataType: string, ck: string): void {
    const now = this.ctx.core.now();
    if (!this.ctx.core.pushEnabled()) return;
    if (s.needsReauthorization || s.expirationDateTime.getTime() <= now.getTime()) return;
    const resource = `Users/${userObjectIdFor(s.address)}/${kind}/${id}`;
    const n: Obj = {
      subscriptionId: s.id,
      subscriptionExpirationDateTime: longDate(s.expirationDateTime),
      changeType: type,
      resource,
      resourceData: { '@odata.type': odataType, '@odata.id': resource, '@odata.etag': `W/"${ck}"`, id },
      clientState: s.clientState,
      tenantId: tenantIdFor(this.ctx.core.mailbox(s.address)?.domain ?? s.address.split('@')[1] ?? ''),
    };
    const q = this.queue.get(s.id) ?? [];
    q.push(n);
    this.queue.set(s.id, q);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.queue;
    this.queue = new Map();
    for (const [id, items] of batches) {
      const s = this.ctx.ms.subscriptions.get(id);
      if (!s) continue;
      for (let i = 0; i < items.length; i += 100) this.track(this.post(s, s.notificationUrl, 'change', { value: items.slice(i, i + 100) }));
    }
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Resolves when every notification posted so far has been answered (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.scheduled || this.pending.size > 0) {
      if (this.scheduled) await new Promise((r) => setImmediate(r));
      await Promise.allSettled([...this.pending]);
    }
  }

  private async post(s: Subscription, url: string, kind: 'change' | 'lifecycle', payload: Obj): Promise<void> {
    let status: number | 'error';
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(this.ctx.ms.config.notificationTimeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch {
      status = 'error';
    }
    this.ctx.ms.recordDelivery({ subscriptionId: s.id, url, kind, payload, status, at: this.ctx.core.now() });
    const failed = status === 'error' || status >= 300;
    if (failed && kind === 'change' && s.lifecycleNotificationUrl) this.lifecycle(s, 'missed');
  }

  lifecycle(s: Subscription, event: LifecycleEvent): void {
    if (!s.lifecycleNotificationUrl) return;
    const payload = {
      value: [{
        subscriptionId: s.id,
        subscriptionExpirationDateTime: longDate(s.expirationDateTime),
        tenantId: tenantIdFor(this.ctx.core.mailbox(s.address)?.domain ?? s.address.split('@')[1] ?? ''),
        clientState: s.clientState,
        lifecycleEvent: event,
      }],
    };
    this.track(this.post(s, s.lifecycleNotificationUrl, 'lifecycle', payload));
  }

  /** Time-driven lifecycle: reauthorizationRequired ahead of expiry, removal at expiry. */
  tick(): void {
    const now = this.ctx.core.now().getTime();
    if (now < this.ctx.ms.lifecycleDueAt) return;
    const lead = this.ctx.ms.config.reauthorizationLeadMinutes * 60_000;
    let due = Infinity;
    for (const s of [...this.ctx.ms.subscriptions.values()]) {
      const exp = s.expirationDateTime.getTime();
      if (now >= exp) {
        this.ctx.ms.subscriptions.delete(s.id);
        continue;
      }
      const key = s.expirationDateTime.toISOString();
      if (now >= exp - lead && s.reauthorizationSentFor !== key) {
        s.reauthorizationSentFor = key;
        this.lifecycle(s, 'reauthorizationRequired');
      }
      due = Math.min(due, s.reauthorizationSentFor === key ? exp : exp - lead);
    }
    this.ctx.ms.lifecycleDueAt = due;
  }

  /** The user's sessions were revoked: each subscription pauses until the app reauthorizes it. */
  sessionsRevoked(address: string): void {
    for (const s of this.ctx.ms.subscriptions.values()) {
      if (s.address.toLowerCase() !== address.toLowerCase()) continue;
      s.needsReauthorization = true;
      this.lifecycle(s, 'reauthorizationRequired');
    }
  }

  /** Control API: Microsoft removes a subscription on its own (it must be created again). */
  removeSubscription(s: Subscription): void {
    this.lifecycle(s, 'subscriptionRemoved');
    this.ctx.ms.subscriptions.delete(s.id);
  }
}
