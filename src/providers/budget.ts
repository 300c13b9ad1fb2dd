import { AsyncLocalStorage } from 'node:async_hooks';
import type { Provider } from '../domain/types.ts';

/**
 * every provider call made for a mailbox draws on that mailbox's quota budget before it leaves, so the product
 * stays under the provider's per-user quota and concurrency instead of waiting for 429s. The budget itself is kept
 * by the caller's side (the store, shared by every process: src/sync/quota-budget.ts); providers only see this
 * interface, through the scope the caller opens around its calls (`withQuotaScope`).
 */
export interface QuotaBudget {
  /**
   * Takes `units` and one concurrent-request lease held at most `holdMs`: granted with the lease's id, or refused
   * with how long to wait before asking again (nothing taken then).
   */
  acquire(provider: Provider, address: string, units: number, holdMs: number): Promise<{ ok: true; lease: string } | { ok: false; waitMs: number }>;
  /** Ends a lease (the call has its answer). */
  release(provider: Provider, address: string, lease: string): Promise<void>;
  /**
   * A reservation for a run of many calls (a sync run): it draws units and concurrency from the budget in blocks and
   * spends them in the process, so most calls cost no database round trip. Budgets without it draw per call.
   */
  reserve?(provider: Provider, address: string): QuotaReservation;
}

/**
 * A run's share of a mailbox's budget: units drawn in blocks and a place among the mailbox's requests in
 * flight, spent locally and returned when the run ends (`close`). What it holds is counted by every other process as
 * spent until then, so the budget stays exact across processes.
 */
export interface QuotaReservation {
  /**
   * Takes `units` and a place in flight for one call that lasts at most `holdMs`: granted with the function that
   * ends the call, or refused with how long to wait before asking again (nothing taken then).
   */
  take(units: number, holdMs: number): Promise<{ ok: true; done: () => void } | { ok: false; waitMs: number }>;
  /** Gives back the units not spent and the run's places in flight (the run is over). */
  close(): Promise<void>;
}

export interface QuotaScope {
  provider: Provider;
  /** The mailbox the quota belongs to (lower case). */
  address: string;
  budget: QuotaBudget;
  /** The run's reservation on this budget, when the calls belong to one (`reserve`). */
  reservation?: QuotaReservation | undefined;
}

const scopes = new AsyncLocalStorage<QuotaScope>();

/** Runs `body` with its provider calls drawing on the mailbox's budget. */
export function withQuotaScope<T>(scope: QuotaScope, body: () => Promise<T>): Promise<T> {
  return scopes.run(scope, body);
}

export const currentQuotaScope = (): QuotaScope | undefined => scopes.getStore();

/**
 * Gmail's published per-method quota units (https://developers.google.com/gmail/api/reference/quota); a method not
 * listed is charged like a `messages.get`.
 */
export const GMAIL_METHOD_UNITS: Record<string, number> = {
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

/** The Gmail method of a request path below `/gmail/v1/users/{user}/` (`messages/x/attachments/y` → `messages.attachments.get`). */
export function gmailMethod(httpMethod: string, rest: string): string {
  const parts = rest.split('/').filter(Boolean);
  const verb = httpMethod.toUpperCase();
  if (parts.length === 1 && parts[0] === 'profile') return 'getProfile';
  if (parts.length === 1 && (parts[0] === 'watch' || parts[0] === 'stop')) return parts[0];
  const [collection, id, sub, , action] = parts;
  if (collection === 'history') return 'history.list';
  if (collection === 'settings') return `settings.${id ?? ''}.${sub ? 'get' : 'list'}`;
  if (sub === 'attachments') return `${collection}.attachments.get`;
  if (id === undefined) return `${collection}.${verb === 'POST' ? 'insert' : 'list'}`;
  if (id === 'send' || id === 'import' || id === 'batchDelete' || id === 'batchModify') return `${collection}.${id}`;
  if (sub !== undefined && action === undefined && ['modify', 'trash', 'untrash', 'send'].includes(sub)) return `${collection}.${sub}`;
  return `${collection}.${verb === 'DELETE' ? 'delete' : verb === 'PUT' ? 'update' : 'get'}`;
}

const gmailUnits = (httpMethod: string, path: string): number | null => {
  const m = /\/gmail\/v1\/users\/[^/]+\/(.*)$/.exec(path);
  if (!m) return null;
  return GMAIL_METHOD_UNITS[gmailMethod(httpMethod, m[1]!)] ?? GMAIL_METHOD_UNITS['messages.get']!;
};

/**
 * What a request costs against its mailbox's quota, in the provider's own unit; null when the request is not
 * charged to the mailbox (OAuth, Google Calendar — which has its own quota, not Gmail's). Gmail: the method's
 * units, a batch the sum of its parts. Graph: one request, a `$batch` one per inner request (Graph throttles
 * each of them against the mailbox).
 */
export function requestCost(provider: Provider, url: string, init: { method?: string | undefined; body?: unknown }): number | null {
  const { pathname } = new URL(url);
  const method = init.method ?? 'GET';
  const body = typeof init.body === 'string' ? init.body : '';
  if (provider === 'google') {
    if (/\/batch\/gmail\/v1\/?$/.test(pathname)) {
      let total = 0;
      for (const part of body.matchAll(/^([A-Z]+) (\S+)/gm)) total += gmailUnits(part[1]!, new URL(part[2]!, 'http://batch').pathname) ?? 0;
      return total;
    }
    return gmailUnits(method, pathname);
  }
  if (!/\/v1\.0\//.test(pathname) && !/\/beta\//.test(pathname)) return null;
  if (/\/\$batch\/?$/.test(pathname)) {
    try {
      const parsed = JSON.parse(body) as { requests?: unknown[] };
      return Math.max(1, parsed.requests?.length ?? 1);
    } catch {
      return 1;
    }
  }
  return 1;
}

/** Process-wide counts for `/metrics` and the benchmark: rate-limit answers received, and draws that had to wait. */
export const quotaCounters = {
  rateLimitAnswers: { google: 0, microsoft: 0 } as Record<Provider, number>,
  budgetWaits: { google: 0, microsoft: 0 } as Record<Provider, number>,
};
