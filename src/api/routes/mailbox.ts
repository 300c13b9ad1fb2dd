import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { grantView, loadGrants, completeAuthorization, deauthorize, startAuthorization, type MailboxDeps } from '../../services/mailbox-authorization.ts';
import { defineRoute, documentRawRoute } from '../route.ts';
import type { Jobs } from '../../jobs/index.ts';
import { startEmailSync } from '../../sync/workers.ts';
import { IDLE_SYNC_STATE, syncStateView } from '../../sync/state.ts';
import { IdParams, Timestamp } from '../schemas.ts';

const Warning = z.object({ code: z.string(), rule: z.string(), message: z.string() });
export const PushState = z
  .object({ channels: z.number().int(), expiresAt: Timestamp.nullable() })
  .describe('R-21: push channels live at the provider (Gmail watch, Graph subscriptions) and the first expiry; 0 → polled every minute only');
const SyncState = z.object({
  phase: z.enum(['idle', 'historical', 'incremental', 'paused']),
  messagesIngested: z.number().int(),
  messagesExamined: z.number().int(),
  progress: z.number().nullable(),
  estimatedCompletionAt: Timestamp.nullable(),
  lastSyncedAt: Timestamp.nullable(),
  lastError: z.string().nullable(),
  push: PushState,
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

/** API.md "Seat mailbox": connect, disconnect and inspect a seat's email and calendar grants (SPEC §3). */
export function mailboxRoutes(app: FastifyInstance, deps: MailboxDeps, jobs?: Pick<Jobs, 'send'>): void {
  const tags = ['Seat mailbox'];

  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/seats/{id}/authorizations', tags, auth: 'caller',
      summary: "Start connecting the seat's email or calendar: returns the provider's consent page (R-10)",
      params: IdParams,
      body: z.strictObject({ kind: Kind, redirectAfter: z.string().max(2000).optional() }),
      response: z.object({ authorizationUrl: z.string() }),
      errors: ['provider_not_selected', 'email_disabled', 'calendar_disabled', 'contract_suspended'],
    },
    ({ actor, params, body }) => startAuthorization(deps, actor, params.id, body),
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
    summary: "The provider's OAuth redirect: finishes the grant and redirects (303) to the UI path given at the start with ?authorization=connected|failed&code=&message=; an invalid or reused state gets a 400 page in plain words",
    params: z.object({ provider: z.enum(['google', 'microsoft']) }),
    query: z.object({ code: z.string().optional(), state: z.string().optional(), error: z.string().optional(), error_description: z.string().optional() }),
  });
  app.get<{ Params: { provider: string }; Querystring: Record<string, string> }>('/oauth/:provider/callback', async (request, reply) => {
    const provider = request.params.provider;
    if (provider !== 'google' && provider !== 'microsoft') return reply.status(404).send({ error: { code: 'not_found', message: 'Unknown provider' } });
    const q = request.query;
    const outcome = await completeAuthorization(deps, provider, { code: q.code, state: q.state, error: q.error, error_description: q.error_description });
    // the historical sync starts at authorization (or resumes from the cursor, R-23).
    if (outcome.ok && outcome.kind === 'email' && jobs) await startEmailSync(deps, jobs, outcome.seatId);
    if (outcome.redirectTo) return reply.redirect(outcome.redirectTo, 303);
    const message = outcome.ok ? 'Connected.' : outcome.message;
    return reply
      .status(outcome.ok ? 200 : 400)
      .type('text/html; charset=utf-8')
      .send(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Mailbox connection</title><body><main><h1>Mailbox connection</h1><p>${escapeHtml(message)}</p><p><a href="/">Back to recruiter-sync</a></p></main></body></html>`);
  });
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
