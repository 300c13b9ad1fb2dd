import type { Provider } from './mail.ts';

/**
 * Provider quotas as the providers publish them, all configurable through `PUT /_sim/limits`.
 * Gmail: per-user quota units per minute and the per-method unit table of
 * https://developers.google.com/gmail/api/reference/quota (15,000 units per user per minute; messages.get 5,
 * messages.list 5, history.list 2, messages.send 100, watch 100 …), plus a per-user concurrent request limit.
 * Graph (Outlook mail): 10,000 requests per 10 minutes and 4 concurrent requests per mailbox
 * (https://learn.microsoft.com/graph/throttling-limits).
 */

export interface GoogleLimits {
  perUserUnitsPerMinute: number;
  /** Concurrent requests per user before 429 "Too many concurrent requests for user". */
  concurrency: number;
  /** Quota units per Gmail API method (`messages.get` …). */
  units: Record<string, number>;
  /** How long Gmail keeps history records: older startHistoryIds answer 404. */
  historyRetentionSeconds: number;
  /** Lifetime of a users.watch. */
  watchExpirationSeconds: number;
  /** Minimum spacing of Pub/Sub notifications per user. */
  pushIntervalMs: number;
  accessTokenLifetimeSeconds: number;
  /** Longest a `timeout` fault holds a request before dropping the socket. */
  timeoutHangMs: number;
  /** Most parts of a batch request. */
  batchLimit: number;
  /** Added service time per Gmail call (0 = none); makes the concurrency limit observable. */
  latencyMs: number;
}

export interface MicrosoftLimits {
  requestsPerWindow: number;
  windowSeconds: number;
  concurrency: number;
  [key: string]: number;
}

export interface Limits {
  google: GoogleLimits;
  microsoft: MicrosoftLimits;
}

export const GMAIL_UNITS: Record<string, number> = {
  'drafts.create': 10,
  'drafts.delete': 10,
  'drafts.get': 5,
  'drafts.list': 5,
  'drafts.send': 100,
  'drafts.update': 15,
  getProfile: 1,
  'history.list': 2,
  'labels.create': 5,
  'labels.delete': 5,
  'labels.get': 1,
  'labels.list': 1,
  'labels.update': 5,
  'messages.attachments.get': 5,
  'messages.batchDelete': 50,
  'messages.batchModify': 50,
  'messages.delete': 10,
  'messages.get': 5,
  'messages.import': 25,
  'messages.insert': 25,
  'messages.list': 5,
  'messages.modify': 5,
  'messages.send': 100,
  'messages.trash': 5,
  'messages.untrash': 5,
  'settings.sendAs.get': 1,
  'settings.sendAs.list': 1,
  stop: 50,
  'threads.get': 10,
  'threads.list': 10,
  'threads.modify': 10,
  'threads.trash': 10,
  watch: 100,
};

export function defaultLimits(): Limits {
  return {
    google: {
      perUserUnitsPerMinute: 15_000,
      concurrency: 25,
      units: { ...GMAIL_UNITS },
      historyRetentionSeconds: 7 * 24 * 3600,
      watchExpirationSeconds: 7 * 24 * 3600,
      pushIntervalMs: 1000,
      accessTokenLifetimeSeconds: 3599,
      timeoutHangMs: 30_000,
      batchLimit: 100,
      latencyMs: 0,
    },
    microsoft: { requestsPerWindow: 10_000, windowSeconds: 600, concurrency: 4 },
  };
}

/** Fixed windows of the sim clock per provider and user; concurrency counted on live requests. */
export class Quota {
  private readonly windows = new Map<string, { start: number; used: number }>();
  private readonly inFlight = new Map<string, number>();
  /** Requests refused for quota or concurrency per provider and user, since the usage was last reset. */
  private readonly refused = new Map<string, number>();

  private refuse(key: string): void {
    this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
  }

  /**
   * Charges `cost` against the user's window of `windowSeconds` capped at `limit`. A refused request is not
   * charged. Returns the seconds until the window resets when refused.
   */
  charge(provider: Provider, address: string, cost: number, limit: number, windowSeconds: number, now: Date): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const key = `${provider}|${address.toLowerCase()}`;
    const windowMs = windowSeconds * 1000;
    const start = Math.floor(now.getTime() / windowMs) * windowMs;
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      w = { start, used: 0 };
      this.windows.set(key, w);
    }
    if (w.used + cost > limit) {
      this.refuse(key);
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((start + windowMs - now.getTime()) / 1000)) };
    }
    w.used += cost;
    return { ok: true };
  }

  /** Units or requests used in the current window. */
  used(provider: Provider, address: string, windowSeconds: number, now: Date): number {
    const w = this.windows.get(`${provider}|${address.toLowerCase()}`);
    const windowMs = windowSeconds * 1000;
    return w && w.start === Math.floor(now.getTime() / windowMs) * windowMs ? w.used : 0;
  }

  /** Enters a request; false (and nothing counted) when `limit` requests are already in flight. */
  enter(provider: Provider, address: string, limit: number): boolean {
    const key = `${provider}|${address.toLowerCase()}`;
    const n = this.inFlight.get(key) ?? 0;
    if (n >= limit) {
      this.refuse(key);
      return false;
    }
    this.inFlight.set(key, n + 1);
    return true;
  }

  leave(provider: Provider, address: string): void {
    const key = `${provider}|${address.toLowerCase()}`;
    const n = (this.inFlight.get(key) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(key);
    else this.inFlight.set(key, n);
  }

  reset(): void {
    this.windows.clear();
  }

  /** Rate-limit answers given (429 / 403 for quota or concurrency) per user of `provider`. */
  refusals(provider: Provider): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, n] of this.refused) if (key.startsWith(`${provider}|`)) out[key.slice(provider.length + 1)] = n;
    return out;
  }

  resetRefusals(): void {
    this.refused.clear();
  }
}

type UsageSnapshot = Record<Provider, Record<string, { units: number; requests: Record<string, number>; bodiesServed: number }>>;

/** `GET /_sim/usage`: each address's usage with `rateLimited`, the requests refused for quota or concurrency. */
export function usageWithRefusals(usage: UsageSnapshot, quota: Quota): Record<Provider, Record<string, { units: number; requests: Record<string, number>; bodiesServed: number; rateLimited: number }>> {
  const out = { google: {}, microsoft: {} } as ReturnType<typeof usageWithRefusals>;
  for (const p of ['google', 'microsoft'] as const) {
    const refused = quota.refusals(p);
    for (const [address, u] of Object.entries(usage[p])) out[p][address] = { ...u, rateLimited: refused[address] ?? 0 };
    for (const [address, n] of Object.entries(refused)) out[p][address] ??= { units: 0, requests: {}, bodiesServed: 0, rateLimited: n };
  }
  return out;
}
