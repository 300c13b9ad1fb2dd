import { ProviderError, retryAfterSeconds } from './errors.ts';

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
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 30_000);
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
