/**
 * Provider failures, classified once so every caller handles each class the same way:
 * - `auth`: the grant is refused (revoked, expired, password change, admin policy) → needs_reauthorization
 * - `consent`: the user or the IT admin has not granted a permission
 * - `throttled`: quota or concurrency limit → wait `retryAfterSeconds`, then retry
 * - `transient`: 5xx, timeouts, resets → retry with back-off
 * - `cursor_expired`: history/delta cursor no longer valid → resync with reconciliation
 * - `permanent`: a request the provider will never accept → surface, do not retry
 */
export type ProviderErrorKind = 'auth' | 'consent' | 'throttled' | 'transient' | 'cursor_expired' | 'permanent';

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly details: { status?: number; providerCode?: string; retryAfterSeconds?: number; missingScope?: string } = {},
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

export const isProviderError = (error: unknown, kind?: ProviderErrorKind): error is ProviderError =>
  error instanceof ProviderError && (kind === undefined || error.kind === kind);

/** Parses a Retry-After header (seconds or HTTP date) relative to `now`. */
export function retryAfterSeconds(header: string | null, now: Date): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}
