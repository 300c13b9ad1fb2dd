import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, validationFailed } from '../errors.ts';
import type { Actor } from '../services/actors.ts';
import type { ServiceContext } from '../services/context.ts';
import { actorFromBearer, actorFromSession, auditActAs, csrfTokenMatches } from '../services/credentials.ts';
import type { AuthMode } from './route.ts';

export const SESSION_COOKIE = 'rs_session';
export const CSRF_HEADER = 'x-csrf-token';
/** Why an integration acts as a user: optional, kept in the audit entry of that use. */
export const ACT_AS_REASON_HEADER = 'x-act-as-reason';

export const sessionCookieOptions = (secure: boolean) => ({ httpOnly: true, secure, sameSite: 'lax' as const, path: '/' });

/**
 * Resolves the caller of every route declared with `auth: 'caller'`: a bearer token (system or contract,
 * optionally acting as a user) or a session cookie. Cookie requests that change state must carry the CSRF
 * header; bearer requests cannot be forged cross-site, so they need none.
 */
export function registerAuth(app: FastifyInstance, ctx: ServiceContext): void {
  app.addHook('preHandler', async (request) => {
    const mode = (request.routeOptions.config as { auth?: AuthMode } | undefined)?.auth;
    if (mode !== 'caller') return;
    request.actor = await resolveActor(ctx, request);
  });
}

async function resolveActor(ctx: ServiceContext, request: FastifyRequest): Promise<Actor> {
  const authorization = request.headers.authorization;
  const actAs = headerValue(request.headers['x-act-as-user']);
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match?.[1]) throw new AppError('unauthenticated', 'Authorization must be "Bearer <token>".');
    const reason = actAs === undefined ? null : actAsReason(headerValue(request.headers[ACT_AS_REASON_HEADER]));
    const actor = await actorFromBearer(ctx.db, match[1], actAs);
    if (actor.kind === 'user' && actor.via === 'integration') await auditActAs(ctx, actor, { method: request.method, route: routePattern(request), reason });
    return actor;
  }
  const sessionToken = request.cookies[SESSION_COOKIE];
  if (!sessionToken) throw new AppError('unauthenticated', 'Sign in, or send an integration token.');
  const actor = await actorFromSession(ctx, sessionToken);
  if (!actor) throw new AppError('unauthenticated', 'Your session has ended. Sign in again.');
  if (actAs !== undefined) throw new AppError('forbidden', 'X-Act-As-User is for integration tokens only.');
  const safe = request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS';
  if (!safe && !csrfTokenMatches(sessionToken, headerValue(request.headers[CSRF_HEADER]))) {
    throw new AppError('forbidden', 'Missing or wrong X-CSRF-Token header.');
  }
  return actor;
}

/** No control characters (C0, DEL, C1): text that goes into the audit log as one line. */
export function isPrintableLine(value: string): boolean {
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return false;
  }
  return true;
}

/** One line of printable text, at most 200 characters; anything else is refused rather than stored. */
function actAsReason(value: string | undefined): string | null {
  if (value === undefined) return null;
  const reason = value.trim();
  if (reason.length === 0) return null;
  if (reason.length > 200 || !isPrintableLine(reason)) {
    throw validationFailed('X-Act-As-Reason must be one line of printable text of at most 200 characters.', { field: 'headers.x-act-as-reason' });
  }
  return reason;
}

/** The route as declared (`/api/v1/seats/{id}/export`), never the URL: no ids or query strings in the audit. */
const routePattern = (request: FastifyRequest): string => (request.routeOptions.url ?? '').replace(/:(\w+)/g, '{$1}');

const headerValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
