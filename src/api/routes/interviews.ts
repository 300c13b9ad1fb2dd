import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { cancelInterview, listInterviews, MAX_SCREENING_MS, rescheduleInterview, scheduleInterview, type InterviewDeps } from '../../services/interviews.ts';
import { defineRoute } from '../route.ts';
import { Id, IdParams, Timestamp } from '../schemas.ts';

/** End after start and at most ten hours later; whether the start is still ahead is the service's check (its clock). */
const times = <T extends z.ZodType<{ start: string; end: string }>>(schema: T) =>
  schema.superRefine((b, ctx) => {
    const start = Date.parse(b.start);
    const end = Date.parse(b.end);
    if (end <= start) ctx.addIssue({ code: 'custom', path: ['end'], message: 'The end must be after the start.' });
    else if (end - start > MAX_SCREENING_MS) ctx.addIssue({ code: 'custom', path: ['end'], message: 'A screening can last at most 10 hours. Check the end time.' });
  });

const Screening = z.object({
  id: Id,
  candidateId: Id,
  title: z.string(),
  start: Timestamp,
  end: Timestamp,
  conferencing: z.enum(['google_meet', 'teams', 'none']),
  joinUrl: z.string().nullable().describe('The Meet or Teams link, when one was asked for'),
  scheduledBy: z.object({ userId: Id.nullable(), name: z.string().nullable() }).describe('Who scheduled it'),
  createdAt: Timestamp,
  updatedAt: Timestamp.nullable(),
});

const CALENDAR_ERRORS = ['not_authorized', 'needs_reauthorization', 'consent_required', 'rate_limited', 'provider_unavailable'];

/** API.md "Messages": screening interviews. */
export function interviewRoutes(app: FastifyInstance, deps: InterviewDeps): void {
  defineRoute(
    app,
    {
      method: 'POST', url: '/api/v1/candidates/{id}/interviews', tags: ['Messages'], auth: 'caller', params: IdParams,
      summary:
        "Schedule a screening interview in the caller's own calendar, inviting the candidate's first email address (R-52). " +
        '`google_meet` needs a Google contract and `teams` a Microsoft one (R-15). Needs the calendar turned on (R-05) and authorized. ' +
        'The start must be in the future, the end after it and at most 10 hours later (`validation_failed`). ' +
        '`id` is the screening here (for cancel and reschedule), `eventId` the event id at the provider; `joinUrl` is the Meet or Teams link when one was asked for',
      body: times(
        z.strictObject({
          title: z.string().trim().min(1).max(500),
          description: z.string().max(8_000).optional(),
          start: Timestamp,
          end: Timestamp,
          conferencing: z.enum(['google_meet', 'teams', 'none']),
        }),
      ),
      response: z.object({ id: Id, eventId: z.string(), joinUrl: z.string().optional() }),
      errors: ['calendar_disabled', 'provider_not_selected', 'contract_suspended', ...CALENDAR_ERRORS],
    },
    ({ actor, params, body }) => scheduleInterview(deps, actor, params.id, body),
  );

  defineRoute(
    app,
    {
      method: 'GET', url: '/api/v1/candidates/{id}/interviews', tags: ['Messages'], auth: 'caller', params: IdParams,
      summary:
        "The candidate's screenings that are not cancelled, oldest start first, with who scheduled them. A screening lives in one seat's own calendar, " +
        'so only the current holder of that seat sees it (like private mail, R-60 … R-63): other seats and admins get an empty list',
      response: z.object({ interviews: z.array(Screening) }),
    },
    async ({ actor, params }) => ({ interviews: await listInterviews(deps, actor, params.id) }),
  );

  defineRoute(
    app,
    {
      method: 'PATCH', url: '/api/v1/interviews/{id}', tags: ['Messages'], auth: 'caller', params: IdParams,
      summary:
        'Reschedule a screening of the seat the caller holds: the provider sends the candidate the new time (Google `events.patch` with `sendUpdates=all`, Graph `PATCH /me/events/{id}`). ' +
        'Same time checks as scheduling',
      body: times(z.strictObject({ start: Timestamp, end: Timestamp })),
      response: Screening,
      errors: ['conflict', ...CALENDAR_ERRORS],
    },
    ({ actor, params, body }) => rescheduleInterview(deps, actor, params.id, body),
  );

  defineRoute(
    app,
    {
      method: 'DELETE', url: '/api/v1/interviews/{id}', tags: ['Messages'], auth: 'caller', params: IdParams, successStatus: 204,
      summary:
        'Cancel a screening of the seat the caller holds: the event is cancelled at the provider, which sends the candidate the cancellation ' +
        '(Google `events.delete` with `sendUpdates=all`, Graph `POST /me/events/{id}/cancel`). `conflict` when already cancelled',
      errors: ['conflict', ...CALENDAR_ERRORS],
    },
    async ({ actor, params }) => {
      await cancelInterview(deps, actor, params.id);
    },
  );
}
