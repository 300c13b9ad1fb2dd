import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { AppError, type ErrorCode } from '../errors.ts';

/** HTTP status of each error code of API.md. */
export const STATUS_OF: Record<ErrorCode, number> = {
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  validation_failed: 400,
  conflict: 409,
  provider_not_selected: 409,
  email_disabled: 409,
  calendar_disabled: 409,
  send_not_allowed: 403,
  send_scope_missing: 403,
  not_authorized: 409,
  needs_reauthorization: 409,
  contract_suspended: 409,
  consent_required: 409,
  rate_limited: 429,
  provider_unavailable: 503,
  internal: 500,
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export function zodToAppError(error: ZodError, where: string): AppError {
  const issues = error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new AppError('validation_failed', `Invalid request — ${summary}`, { issues });
}

/**
 * Database errors that only bad input can cause (a NUL byte, a date out of range, text where a uuid belongs, a
 * duplicate that a concurrent request created first). Routes refuse such input before it reaches the database;
 * this is the last line of defence, so input never turns into a 500.
 */
const INPUT_SQLSTATES: Record<string, { code: ErrorCode; message: string }> = {
  '22021': { code: 'validation_failed', message: 'Invalid request — text contains characters that cannot be stored (such as NUL).' },
  '22P05': { code: 'validation_failed', message: 'Invalid request — text contains characters that cannot be stored.' },
  '22P02': { code: 'validation_failed', message: 'Invalid request — a value has the wrong form (for example an id that is not a UUID).' },
  '22007': { code: 'validation_failed', message: 'Invalid request — a date or time has the wrong form.' },
  '22008': { code: 'validation_failed', message: 'Invalid request — a date or time is out of range.' },
  '22001': { code: 'validation_failed', message: 'Invalid request — a value is too long.' },
  '22003': { code: 'validation_failed', message: 'Invalid request — a number is out of range.' },
  '23505': { code: 'conflict', message: 'This conflicts with existing data (probably created at the same moment); reload and try again.' },
};

function inputErrorOf(error: unknown): AppError | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    const mapped = typeof code === 'string' ? INPUT_SQLSTATES[code] : undefined;
    if (mapped) return new AppError(mapped.code, mapped.message);
  }
  return undefined;
}

export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  let appError: AppError;
  let status: number | undefined;
  const fromInput = error instanceof AppError || error instanceof ZodError ? undefined : inputErrorOf(error);
  if (error instanceof AppError) appError = error;
  else if (error instanceof ZodError) appError = zodToAppError(error, 'request');
  else if (fromInput) {
    request.log.warn({ err: error }, 'database refused input');
    appError = fromInput;
  } else if ('statusCode' in error && typeof error.statusCode === 'number' && error.statusCode < 500) {
    // Fastify's own client errors: malformed JSON, unsupported media type, body too large.
    appError = new AppError(error.statusCode === 404 ? 'not_found' : 'validation_failed', error.message);
    status = error.statusCode;
  } else {
    request.log.error({ err: error }, 'unhandled error');
    appError = new AppError('internal', 'Something went wrong on our side. It has been logged.');
  }
  status ??= STATUS_OF[appError.code];
  const retryAfter = appError.details?.retryAfterSeconds;
  if (appError.code === 'rate_limited' && typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
  const body: ErrorBody = { error: { code: appError.code, message: appError.message, ...(appError.details ? { details: appError.details } : {}) } };
  void reply.status(status).send(body);
}
