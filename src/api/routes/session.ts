import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import type { ServiceContext } from '../../services/context.ts';
import { actorFromSession, csrfTokenFor, signIn, signOut } from '../../services/credentials.ts';
import { getUser } from '../../services/users.ts';
import { SESSION_COOKIE, sessionCookieOptions } from '../auth.ts';
import { defineRoute } from '../route.ts';
import { User } from '../schemas.ts';

const SessionView = z.object({ user: User, csrfToken: z.string(), expiresAt: z.string().optional() });

/** The logins the demo (`npm start`) seeds, shown on its sign-in page; a real deployment has none. */
export interface DemoLogins {
  password: string;
  logins: Array<{ email: string; name: string; role: 'admin' | 'recruiter' }>;
}
const SignedOut = z.object({
  user: z.null(),
  demo: z
    .object({ password: z.string(), logins: z.array(z.object({ email: z.string(), name: z.string(), role: z.enum(['admin', 'recruiter']) })) })
    .optional()
    .describe('Only when the product runs as the local demo: the seeded sign-ins'),
});

/** Signing in and out with a password; the session lives in an httpOnly cookie, CSRF in a header. */
export function sessionRoutes(app: FastifyInstance, ctx: ServiceContext, secureCookies: boolean, demo?: DemoLogins): void {
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
    {
      method: 'GET', url: '/api/v1/session',
      summary: 'The signed-in user and the CSRF token; `{user: null}` (200) when the browser has no live session, so that the sign-in page probes without an error',
      tags, auth: 'none', response: z.union([SessionView, SignedOut]),
    },
    async ({ request }) => {
      if (request.headers.authorization !== undefined) {
        throw new AppError('forbidden', 'GET /session describes a signed-in browser session; integrations have none.');
      }
      const token = request.cookies[SESSION_COOKIE];
      const actor = token ? await actorFromSession(ctx, token) : undefined;
      if (!token || !actor || actor.kind !== 'user') return { user: null, ...(demo ? { demo } : {}) };
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
