import { SignJWT } from 'jose';
import type { Change } from '../core/mail.ts';
import { labelsFor } from './labels.ts';
import type { GoogleCtx } from './oauth.ts';
import type { PubSubSubscription, Watch } from './state.ts';

/**
 * Gmail push notifications (https://developers.google.com/gmail/api/guides/push): users.watch on a Pub/Sub
 * topic, delivered to the push endpoints subscribed to that topic as Pub/Sub push requests
 * (https://cloud.google.com/pubsub/docs/push) authenticated with an OIDC token signed by the key served at
 * `/oauth2/v3/certs` (JWKS) and `/oauth2/v1/certs` (PEM certificates). At most one notification per user per `pushIntervalMs` (Gmail's rate); changes in
 * between coalesce into the next notification, which carries the latest historyId.
 */

interface Pending {
  timer: NodeJS.Timeout | null;
  lastSentMs: number;
}

const pendingByCtx = new WeakMap<GoogleCtx, Map<string, Pending>>();
const timers = new WeakMap<GoogleCtx, Set<NodeJS.Timeout>>();

function timerSet(ctx: GoogleCtx): Set<NodeJS.Timeout> {
  let s = timers.get(ctx);
  if (!s) timers.set(ctx, (s = new Set()));
  return s;
}

function later(ctx: GoogleCtx, ms: number, fn: () => void): NodeJS.Timeout {
  const set = timerSet(ctx);
  const t = setTimeout(() => {
    set.delete(t);
    fn();
  }, ms);
  t.unref();
  set.add(t);
  return t;
}

export function stopPushTimers(ctx: GoogleCtx): void {
  for (const t of timerSet(ctx)) clearTimeout(t);
  timerSet(ctx).clear();
}

export function startWatch(ctx: GoogleCtx, address: string, topicName: string, labelIds: string[], behavior: 'include' | 'exclude'): Watch {
  const w: Watch = {
    address,
    topicName,
    labelIds,
    labelFilterBehavior: behavior,
    historyId: ctx.state.mail.currentSeq(address),
    expiration: new Date(ctx.state.clock.now().getTime() + ctx.state.limits.google.watchExpirationSeconds * 1000),
  };
  ctx.g.watches.set(address.toLowerCase(), w);
  return w;
}

export function stopWatch(ctx: GoogleCtx, address: string): void {
  const w = ctx.g.watches.get(address.toLowerCase());
  if (!w) return;
  ctx.g.watches.delete(address.toLowerCase());
  ctx.state.revocations.record(address, { provider: 'google', kind: 'watch', id: w.topicName, at: ctx.state.clock.now(), detail: 'users.stop' });
}

function watchWants(w: Watch, change: Change, unread: boolean): boolean {
  if (!w.labelIds.length) return true;
  const labels = new Set([...(change.folder ? labelsFor(change.folder, change.previousFolder, unread) : []), ...(change.previousFolder ? labelsFor(change.previousFolder, null, unread) : [])]);
  const hit = w.labelIds.some((l) => labels.has(l));
  return w.labelFilterBehavior === 'include' ? hit : !hit;
}

/** Called on every mailbox change: schedules a (coalesced) notification when a live watch wants it. */
export function onMailChange(ctx: GoogleCtx, address: string, change: Change, unread: boolean): void {
  const box = ctx.state.mail.mailbox(address);
  if (!box || box.provider !== 'google') return;
  const w = ctx.g.watches.get(address.toLowerCase());
  if (!w || w.expiration.getTime() <= ctx.state.clock.now().getTime()) return;
  if (!watchWants(w, change, unread)) return;
  let map = pendingByCtx.get(ctx);
  if (!map) pendingByCtx.set(ctx, (map = new Map()));
  const key = address.toLowerCase();
  let p = map.get(key);
  if (!p) map.set(key, (p = { timer: null, lastSentMs: 0 }));
  if (p.timer) return;
  const pending = p;
  const delay = Math.max(0, pending.lastSentMs + ctx.state.limits.google.pushIntervalMs - Date.now());
  pending.timer = later(ctx, delay, () => {
    pending.timer = null;
    pending.lastSentMs = Date.now();
    notify(ctx, box.address, w.topicName);
  });
}

function notify(ctx: GoogleCtx, address: string, topicName: string): void {
  if (!ctx.state.push.google) return;
  const historyId = ctx.state.mail.currentSeq(address);
  for (const sub of ctx.g.subscriptions.filter((s) => s.topicName === topicName)) {
    void deliver(ctx, sub, address, historyId, 1);
  }
}

async function oidcToken(ctx: GoogleCtx, sub: PubSubSubscription): Promise<string> {
  const now = Math.floor(ctx.state.clock.now().getTime() / 1000);
  return new SignJWT({ email: sub.serviceAccountEmail, email_verified: true, azp: subjectFor(sub.serviceAccountEmail) })
    .setProtectedHeader({ alg: 'RS256', kid: ctx.g.kid, typ: 'JWT' })
    .setIssuer('https://accounts.google.com')
    .setAudience(sub.audience ?? sub.pushEndpoint)
    .setSubject(subjectFor(sub.serviceAccountEmail))
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(ctx.g.privateKey);
}

function subjectFor(email: string): string {
  let h = 0n;
  for (const c of email) h = (h * 131n + BigInt(c.charCodeAt(0))) % 10n ** 21n;
  return h.toString().padStart(21, '1');
}

async function deliver(ctx: GoogleCtx, sub: PubSubSubscription, address: string, historyId: number, attempt: number, messageId = ctx.g.nextPushMessageId()): Promise<void> {
  const publishTime = ctx.state.clock.now().toISOString();
  const data = Buffer.from(JSON.stringify({ emailAddress: address, historyId })).toString('base64');
  const body = { message: { data, messageId, message_id: messageId, publishTime, publish_time: publishTime }, subscription: sub.name };
  const record = { subscription: sub.name, pushEndpoint: sub.pushEndpoint, emailAddress: address, historyId, messageId, at: publishTime, status: null as number | null, attempts: attempt } as (typeof ctx.g.pushes)[number];
  ctx.g.pushes.push(record);
  if (ctx.g.pushes.length > 10_000) ctx.g.pushes.splice(0, ctx.g.pushes.length - 10_000);
  try {
    const res = await fetch(sub.pushEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await oidcToken(ctx, sub)}`, 'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    record.status = res.status;
    await res.arrayBuffer().catch(() => undefined);
    // Pub/Sub acknowledges 102, 200, 201, 202 and 204; anything else is retried with back-off.
    if ([102, 200, 201, 202, 204].includes(res.status)) return;
  } catch (e) {
    record.error = e instanceof Error ? e.message : String(e);
  }
  if (attempt <= ctx.g.config.pushRetries) later(ctx, 250 * 2 ** attempt, () => void deliver(ctx, sub, address, historyId, attempt + 1, messageId));
}
