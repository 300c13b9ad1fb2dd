import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import type { ServiceContext } from '../../services/context.ts';
import { csrfTokenFor, signIn, signOut } from '../../services/credentials.ts';
import { getUser } from '../../services/users.ts';
import { SESSION_COOKIE, sessionCookieOptions } from '../auth.ts';
import { defineRoute } from '../route.ts';
import { User } from '../schemas.ts';

const SessionView = z.object({ user: User, csrfToken: z.string(), expiresAt: z.string().optional() });

/** Signing in and out with a password; the session lives in an httpOnly cookie, CSRF in a header. */
export function sessionRoutes(app: FastifyInstance, ctx: ServiceContext, secureCookies: boolean): void {
  const tags = ['Session'];
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/session', summary: 'Sign in; sets the session cookie and returns the CSRF token', tags, auth: 'none',
      body: z.strictObject({ email: z.string().trim().min(1).max(254), password: z.string().min(1).max(200) }), response: SessionView, successStatus: 200,
      // Failed sign-ins are throttled per account and per client address: 429 with Retry-After, growing.
      errors: ['rate_limited'],
    },
    async ({ body, request, reply }) => {
      const grant = await signIn(ctx, body.email, body.password, request.ip);
      reply.setCookie(SESSION_COOKIE, grant.sessionToken, { ...sessionCookieOptions(secureCookies), expires: grant.expiresAt });
      const user = await getUser(ctx, { kind: 'user', userId: grant.user.id, contractId: grant.user.contractId, role: grant.user.role, via: 'session' }, grant.user.id);
      return { user, csrfToken: grant.csrfToken, expiresAt: grant.expiresAt.toISOString() };
    },
  );
  defineRoute(
    app,
    { method: 'GET', url: '/api/v1/session', summary: 'The signed-in user and the CSRF token', tags, auth: 'caller', response: SessionView },
    async ({ actor, request }) => {
      if (actor.kind !== 'user' || actor.via !== 'session') {
        throw new AppError('forbidden', 'GET /session describes a signed-in browser session; integrations have none.');
      }
      const token = request.cookies[SESSION_COOKIE] ?? '';
      return { user: await getUser(ctx, actor, actor.userId), csrfToken: csrfTokenFor(token) };
    },
  );
  defineRoute(
    app,
    { method: 'DELETE', url: '/api/v1/session', summary: 'Sign out', tags, auth: 'none', successStatus: 204 },
    async ({ request, reply }) => {
      const token = request.cookies[SESSION_COOKIE];
      if (token) await signOut(ctx, token);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return undefined;
    },
  );
}
