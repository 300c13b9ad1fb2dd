import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { scheduleInterview, type InterviewDeps } from '../../services/interviews.ts';
import { defineRoute } from '../route.ts';
import { IdParams, Timestamp } from '../schemas.ts';

/** API.md "Messages": screening interviews. */
export function interviewRoutes(app: FastifyInstance, deps: InterviewDeps): void {
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/candidates/{id}/interviews', tags: ['Messages'], auth: 'caller', params: IdParams,
      summary:
        "Schedule a screening interview in the caller's own calendar, inviting the candidate's first email address (R-52). " +
        '`google_meet` needs a Google contract and `teams` a Microsoft one (R-15). Needs the calendar turned on (R-05) and authorized. ' +
        '`eventId` is the event id at the provider; `joinUrl` is the Meet or Teams link when one was asked for',
      body: z.strictObject({
        title: z.string().trim().min(1).max(500),
        description: z.string().max(8_000).optional(),
        start: Timestamp,
        end: Timestamp,
        conferencing: z.enum(['google_meet', 'teams', 'none']),
      }),
      response: z.object({ eventId: z.string(), joinUrl: z.string().optional() }),
      errors: ['calendar_disabled', 'provider_not_selected', 'not_authorized', 'needs_reauthorization', 'contract_suspended', 'consent_required', 'rate_limited', 'provider_unavailable'],
    },
    ({ actor, params, body }) => scheduleInterview(deps, actor, params.id, body),
  );
}
