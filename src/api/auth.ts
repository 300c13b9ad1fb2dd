import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import type { Actor } from '../services/actors.ts';
import type { ServiceContext } from '../services/context.ts';
import { actorFromBearer, actorFromSession, csrfTokenMatches } from '../services/credentials.ts';
import type { AuthMode } from './route.ts';

export const SESSION_COOKIE = 'rs_session';
export const CSRF_HEADER = 'x-csrf-token';

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
    return actorFromBearer(ctx.db, match[1], actAs);
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

const headerValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
