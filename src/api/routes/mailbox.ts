import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { safeRedirectPath } from '../../domain/mailbox.ts';
import { AppError } from '../../errors.ts';
import type { Actor } from '../../services/actors.ts';
import {
  grantView, loadGrants, completeAuthorization, completeIntegrationFlow, deauthorize, startAuthorization, type CallbackOutcome, type FlowBinding, type MailboxDeps,
} from '../../services/mailbox-authorization.ts';
import { SESSION_COOKIE } from '../auth.ts';
import { defineRoute, documentRawRoute } from '../route.ts';
import type { Jobs } from '../../jobs/index.ts';
import { startEmailSync } from '../../sync/workers.ts';
import { IDLE_SYNC_STATE, SYNC_STATUSES, syncStateView } from '../../sync/state.ts';
import { IdParams, Timestamp } from '../schemas.ts';

const Warning = z.object({ code: z.string(), rule: z.string(), message: z.string() });
export const PushState = z
  .object({ channels: z.number().int(), expiresAt: Timestamp.nullable() })
  .describe('R-21: push channels live at the provider (Gmail watch, Graph subscriptions) and the first expiry; 0 → polled every minute only');
export const SyncStatusSchema = z
  .enum(SYNC_STATUSES)
  .describe('reconnect_needed: the provider refused the connection; up_to_date: mail read from the provider within the last 10 minutes without error; behind: not read since; historical: the first sync is running; starting: it has not begun; not_connected / disconnected: no connection');
const SyncState = z.object({
  phase: z.enum(['idle', 'historical', 'incremental', 'paused']),
  messagesIngested: z.number().int(),
  messagesExamined: z.number().int(),
  progress: z.number().nullable(),
  estimatedCompletionAt: Timestamp.nullable(),
  lastSyncedAt: Timestamp.nullable(),
  lastError: z.string().nullable(),
  push: PushState,
  status: SyncStatusSchema,
  lastCheckedAt: Timestamp.nullable().describe('When the provider last accepted the connection (a sync, or the health probe every couple of minutes)'),
});
const Grant = z.object({
  state: z.enum(['not_authorized', 'authorized', 'needs_reauthorization', 'deauthorized']),
  provider: z.enum(['google', 'microsoft']).nullable(),
  address: z.string().nullable(),
  aliases: z.array(z.string()),
  scopes: z.array(z.string()),
  canSend: z.boolean(),
  warnings: z.array(Warning),
  reason: z.string().nullable().describe('Why the grant needs re-authorization or was deauthorized, in plain words'),
  firstAuthorizedAt: Timestamp.nullable(),
  lastAuthorizedAt: Timestamp.nullable(),
  deauthorizedAt: Timestamp.nullable(),
});
const Kind = z.enum(['email', 'calendar']);

/** where the UI wants the browser back after the provider: a path of this product and nothing else. */
const RedirectAfter = z
  .string()
  .max(2000)
  .refine((value) => safeRedirectPath(value) !== null, {
    message: 'must be a path of this product starting with "/" — no scheme or host, no "//" or backslash, no tab or line break, printable Latin-1 characters only',
  });

/** the secret the caller proves itself with, to which the flow is bound (the session cookie or the bearer token). */
function flowBinding(actor: Actor, request: FastifyRequest): FlowBinding {
  if (actor.kind === 'user' && actor.via === 'session') {
    const session = request.cookies[SESSION_COOKIE];
    if (session) return { kind: 'session', secret: session };
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (bearer) return { kind: 'integration', secret: bearer };
  throw new AppError('unauthenticated', 'Sign in, or send an integration token.');
}

const outcomeBody = (outcome: CallbackOutcome) => ({
  authorization: outcome.ok === true ? ('connected' as const) : outcome.ok === 'pending' ? ('pending' as const) : ('failed' as const),
  kind: outcome.kind ?? null,
  code: outcome.ok === false ? outcome.code : null,
  message: outcome.ok === false ? outcome.message : null,
});

/** API.md "Seat mailbox": connect, disconnect and inspect a seat's email and calendar grants (SPEC §3). */
export function mailboxRoutes(app: FastifyInstance, deps: MailboxDeps, jobs?: Pick<Jobs, 'send'>): void {
  const tags = ['Seat mailbox'];

  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/seats/{id}/authorizations', tags, auth: 'caller',
      summary: "Start connecting the seat's email or calendar: returns the provider's consent page (R-10)",
      params: IdParams,
      body: z.strictObject({ kind: Kind, redirectAfter: RedirectAfter.optional() }),
      response: z.object({ authorizationUrl: z.string() }),
      errors: ['provider_not_selected', 'email_disabled', 'calendar_disabled', 'contract_suspended'],
    },
    ({ actor, params, body, request }) => startAuthorization(deps, actor, params.id, body, flowBinding(actor, request)),
  );
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/seats/{id}/authorizations/complete', tags, auth: 'caller',
      summary:
        "Finish a connection started by an integration (R-14): after the provider, the browser comes back with ?authorization=pending&flow=…; the same integration token, acting as the same user, completes it here",
      params: IdParams,
      body: z.strictObject({ flow: z.string().min(1).max(200) }),
      response: z.object({
        authorization: z.enum(['connected', 'failed', 'pending']),
        kind: Kind.nullable(),
        code: z.string().nullable().describe('Why it failed: permission_missing, personal_mailbox, outside_company_domains, mailbox_already_connected, state_expired, …'),
        message: z.string().nullable().describe('Why it failed, in plain words'),
      }),
      successStatus: 200,
    },
    async ({ actor, params, body, request }) => {
      const outcome = await completeIntegrationFlow(deps, actor, params.id, body.flow, flowBinding(actor, request));
      // the historical sync starts at authorization (or resumes from the cursor, R-23).
      if (outcome.ok === true && outcome.kind === 'email' && jobs) await startEmailSync(deps, jobs, outcome.seatId);
      return outcomeBody(outcome);
    },
  );
  defineRoute(
    app,
    {
      method: 'DELETE', url: '/api/v1/seats/{id}/authorizations/{kind}', tags, auth: 'caller',
      summary: 'Disconnect (R-22): tokens revoked and deleted, syncing stops, synced data stays',
      params: z.object({ id: IdParams.shape.id, kind: Kind }),
      response: Grant,
    },
    async ({ actor, params }) => {
      const view = await deauthorize(deps, actor, params.id, params.kind);
      // the grant's push channels are ended and its token revoked now, not at the schedule's next round.
      if (jobs) await jobs.send('tokens.revoke', {}, { singletonKey: 'tokens.revoke:deauthorized' });
      return view;
    },
  );
  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/seats/{id}/mailbox', tags, auth: 'caller',
      summary: 'Connection state, address, scopes, warnings (R-14) and sync progress of the seat',
      params: IdParams,
      response: z.object({ email: Grant.extend({ sync: SyncState }), calendar: Grant }),
    },
    async ({ actor, params }) => {
      const { contract, email, calendar } = await loadGrants(deps, actor, params.id);
      const sync = email ? await syncStateView(deps.db, email.id, deps.clock.now()) : IDLE_SYNC_STATE;
      return { email: { ...grantView(email, contract.company_domains), sync }, calendar: grantView(calendar, contract.company_domains) };
    },
  );

  // The OAuth redirect target (no prefix, no session: the single-use state authenticates it).
  documentRawRoute({
    method: 'GET', url: '/oauth/{provider}/callback', tags, successStatus: 303,
    summary:
      "The provider's OAuth redirect: in the session that started it, finishes the grant and redirects (303) to the UI path given at the start with ?authorization=connected|failed&kind=&code= (and for permission_missing, missing= and provider=); for a flow an integration started, redirects with ?authorization=pending&kind=&flow= for it to complete; an invalid or reused state gets a 400 page in plain words",
    params: z.object({ provider: z.enum(['google', 'microsoft']) }),
    query: z.object({ code: z.string().optional(), state: z.string().optional(), error: z.string().optional(), error_description: z.string().optional() }),
  });
  app.get<{ Params: { provider: string }; Querystring: Record<string, string> }>('/oauth/:provider/callback', async (request, reply) => {
    const provider = request.params.provider;
    if (provider !== 'google' && provider !== 'microsoft') return reply.status(404).send({ error: { code: 'not_found', message: 'Unknown provider' } });
    const q = request.query;
    const outcome = await completeAuthorization(
      deps, provider, { code: q.code, state: q.state, error: q.error, error_description: q.error_description }, { sessionToken: request.cookies[SESSION_COOKIE] },
    );
    // the historical sync starts at authorization (or resumes from the cursor, R-23).
    if (outcome.ok === true && outcome.kind === 'email' && jobs) await startEmailSync(deps, jobs, outcome.seatId);
    if (outcome.redirectTo) return reply.redirect(outcome.redirectTo, 303);
    const message = outcome.ok === false ? outcome.message : 'Connected.';
    return reply
      .status(outcome.ok === false ? 400 : 200)
      .type('text/html; charset=utf-8')
      .send(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Mailbox connection</title><body><main><h1>Mailbox connection</h1><p>${escapeHtml(message)}</p><p><a href="/">Back to recruiter-sync</a></p></main></body></html>`);
  });
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
