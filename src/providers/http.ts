import type { Provider } from '../domain/types.ts';
import { currentQuotaScope, quotaCounters, requestCost, type QuotaScope } from './budget.ts';
import { ProviderError, retryAfterSeconds } from './errors.ts';

/**
 * Budget waits up to this long are slept through in place; a longer one fails the call as `throttled` with the wait
 * as Retry-After, so a sync run checkpoints and re-queues itself instead of holding a worker slot idle.
 */
export const MAX_INLINE_BUDGET_WAIT_MS = 2_000;

export interface ProviderHttpOptions {
  /** Aborts a request that hangs (a `timeout` is a transient failure). */
  timeoutMs?: number;
  now?: () => Date;
}

export interface ProviderResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * One HTTP call to a provider with classification of every failure into `ProviderError` kinds. The caller
 * supplies `classify` for provider-specific error bodies; network failures and generic statuses are
 * handled here.
 */
export async function providerFetch<T>(
  url: string,
  init: RequestInit & { parse?: 'json' | 'text' | 'bytes' | 'none' },
  classify: (status: number, body: unknown, headers: Headers) => ProviderError | undefined,
  options: ProviderHttpOptions = {},
): Promise<ProviderResponse<T>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  // a call made for a mailbox takes its units and a concurrency lease from the mailbox's budget first.
  const scope = currentQuotaScope();
  const units = scope ? requestCost(scope.provider, url, init) : null;
  const end = scope && units !== null ? await drawBudget(scope, units, timeoutMs + 5_000) : undefined;
  try {
    return await send<T>(url, init, classify, options, timeoutMs, scope?.provider);
  } finally {
    if (end) await end();
  }
}

/** Draws a call's units and lease: from the run's reservation when there is one (mostly no database work), else from the budget. */
async function drawBudget(scope: QuotaScope, units: number, holdMs: number): Promise<() => Promise<void> | void> {
  let waited = 0;
  for (;;) {
    let grant: { ok: true; end: () => Promise<void> | void } | { ok: false; waitMs: number };
    if (scope.reservation) {
      const taken = await scope.reservation.take(units, holdMs);
      grant = taken.ok ? { ok: true, end: taken.done } : taken;
    } else {
      const acquired = await scope.budget.acquire(scope.provider, scope.address, units, holdMs);
      grant = acquired.ok ? { ok: true, end: () => scope.budget.release(scope.provider, scope.address, acquired.lease) } : acquired;
    }
    if (grant.ok) return grant.end;
    quotaCounters.budgetWaits[scope.provider]++;
    if (waited + grant.waitMs > MAX_INLINE_BUDGET_WAIT_MS) {
      throw new ProviderError('throttled', "waiting for the mailbox's quota budget", { providerCode: 'quota_budget', retryAfterSeconds: Math.max(1, Math.ceil(grant.waitMs / 1000)) });
    }
    await new Promise((resolve) => setTimeout(resolve, grant.waitMs));
    waited += grant.waitMs;
  }
}

/** Which provider answered, for counting its rate-limit answers: the scope's, else told by the URL. */
const providerOf = (url: string, scoped: Provider | undefined): Provider => scoped ?? (/\/v1\.0\/|microsoftonline/.test(url) ? 'microsoft' : 'google');

/** A 429, or Google's 403 `rateLimitExceeded`/`userRateLimitExceeded`: the provider refused for quota. */
const isRateLimitAnswer = (status: number, text: string): boolean => status === 429 || (status === 403 && /rateLimitExceeded/i.test(text));

async function send<T>(
  url: string,
  init: RequestInit & { parse?: 'json' | 'text' | 'bytes' | 'none' },
  classify: (status: number, body: unknown, headers: Headers) => ProviderError | undefined,
  options: ProviderHttpOptions,
  timeoutMs: number,
  scoped: Provider | undefined,
): Promise<ProviderResponse<T>> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: controller.signal });
  } catch (error) {
    clearTimeout(timer);
    const reason = controller.signal.aborted ? 'timed out' : `failed: ${(error as Error).message}`;
    throw new ProviderError('transient', `request to ${new URL(url).host} ${reason}`);
  }
  try {
    const parse = init.parse ?? 'json';
    // MIME may carry 8-bit text in any charset: `bytes` keeps it exactly as served; errors are read as text.
    const bytes = new Uint8Array(await response.arrayBuffer());
    const text = parse === 'bytes' && response.ok ? '' : new TextDecoder().decode(bytes);
    if (!response.ok && isRateLimitAnswer(response.status, text)) quotaCounters.rateLimitAnswers[providerOf(url, scoped)]++;
    // A Gmail batch answers 200 with each part's own status: refused parts count one by one.
    else if (response.ok && parse === 'text' && /multipart\/mixed/i.test(response.headers.get('content-type') ?? '')) {
      const refused = text.match(/^HTTP\/1\.[01] (?:429|403)\b[^]*?(?=^--)/gm)?.filter((part) => isRateLimitAnswer(Number(part.slice(9, 12)), part)).length ?? 0;
      quotaCounters.rateLimitAnswers[providerOf(url, scoped)] += refused;
    }
    let body: unknown = parse === 'bytes' && response.ok ? bytes : text;
    if (parse === 'json' || (!response.ok && text.startsWith('{'))) {
      try {
        body = text.length ? JSON.parse(text) : undefined;
      } catch {
        if (response.ok) throw new ProviderError('transient', `unparseable response from ${new URL(url).host}`);
      }
    }
    if (!response.ok) {
      const classified = classify(response.status, body, response.headers);
      if (classified) throw classified;
      throw genericError(response.status, response.headers, options.now?.() ?? new Date());
    }
    return { status: response.status, headers: response.headers, body: (parse === 'none' ? undefined : body) as T };
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    throw new ProviderError('transient', `reading the response of ${new URL(url).host} failed: ${(error as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

export function genericError(status: number, headers: Headers, now: Date): ProviderError {
  const retryAfter = retryAfterSeconds(headers.get('retry-after'), now);
  if (status === 429) return new ProviderError('throttled', 'rate limited by the provider', { status, ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}) });
  if (status === 401) return new ProviderError('auth', 'the provider refused the access token', { status });
  if (status >= 500 || status === 408) return new ProviderError('transient', `provider error ${status}`, { status, ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}) });
  return new ProviderError('permanent', `provider refused the request (${status})`, { status });
}

/** `application/x-www-form-urlencoded` body of an OAuth request. */
export const form = (fields: Record<string, string | undefined>): URLSearchParams =>
  new URLSearchParams(Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined));
