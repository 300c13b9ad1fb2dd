/**
 * Errors the product reports to callers. Each has a stable snake_case code (API.md "Errors"); the API
 * layer maps codes to HTTP statuses, so nothing below `api/` knows about HTTP.
 */
export type ErrorCode =
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'validation_failed'
  | 'conflict'
  | 'provider_not_selected'
  | 'email_disabled'
  | 'calendar_disabled'
  | 'send_not_allowed'
  | 'send_scope_missing'
  | 'not_authorized'
  | 'needs_reauthorization'
  | 'contract_suspended'
  | 'consent_required'
  | 'rate_limited'
  | 'provider_unavailable'
  | 'internal';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);
export const forbidden = (message: string): AppError => new AppError('forbidden', message);
export const validationFailed = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError('validation_failed', message, details);
