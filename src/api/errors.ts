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

export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  let appError: AppError;
  if (error instanceof AppError) appError = error;
  else if (error instanceof ZodError) appError = zodToAppError(error, 'request');
  else if ('statusCode' in error && typeof error.statusCode === 'number' && error.statusCode < 500) {
    // Fastify's own client errors: malformed JSON, unsupported media type, body too large.
    appError = new AppError(error.statusCode === 404 ? 'not_found' : 'validation_failed', error.message);
    reply.status(error.statusCode);
  } else {
    request.log.error({ err: error }, 'unhandled error');
    appError = new AppError('internal', 'Something went wrong on our side. It has been logged.');
  }
  const status = error instanceof AppError || error instanceof ZodError || appError.code === 'internal' ? STATUS_OF[appError.code] : reply.statusCode;
  const retryAfter = appError.details?.retryAfterSeconds;
  if (appError.code === 'rate_limited' && typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
  const body: ErrorBody = { error: { code: appError.code, message: appError.message, ...(appError.details ? { details: appError.details } : {}) } };
  void reply.status(status).send(body);
}
