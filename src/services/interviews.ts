import type { Kysely } from 'kysely';
import { AppError, forbidden, notFound, validationFailed } from '../errors.ts';
import { newId } from '../ids.ts';
import { CONFERENCING_OF, type CalendarClients, type Conferencing } from '../providers/calendar.ts';
import { ProviderError } from '../providers/errors.ts';
import type { CalendarEventsTable } from '../store/migrations/0005_calendar_events.ts';
import type { ScreeningColumns } from '../store/migrations/0018_screenings.ts';
import type { DB } from '../store/schema.ts';
import { withMailboxBudget } from '../sync/quota-budget.ts';
import { assertContractVisible, requireFound, type Actor } from './actors.ts';
import { accessTokenFor } from './access-tokens.ts';
import { recordAudit } from './audit.ts';
import { loadCandidate } from './candidates.ts';
import { loadContract } from './contracts.ts';
import type { MailboxDeps } from './mailbox-authorization.ts';

/**
 * R-52 screening interviews: a user schedules an event in their seat's own calendar inviting the candidate,
 * with a Google Meet link (Google) or a Teams link (Microsoft) when asked. The calendar switch
 * gates the feature without touching any authorization, so turning it back on needs no re-authorization.
 */
export interface InterviewDeps extends MailboxDeps {
  calendars: CalendarClients;
}

export interface ScheduleInterviewInput {
  title: string;
  description?: string | undefined;
  start: string;
  end: string;
  conferencing: Conferencing;
}

export interface ScheduledInterview {
  /** The screening's id here (for cancel and reschedule). */
  id: string;
  /** The provider's event id (the event in the seat's calendar). */
  eventId: string;
  joinUrl?: string;
}

const CONFERENCING_NAME: Record<Exclude<Conferencing, 'none'>, string> = { google_meet: 'Google Meet', teams: 'Microsoft Teams' };
const PROVIDER_NAME = { google: 'Google Workspace', microsoft: 'Microsoft 365' } as const;

/** The store with `calendar_events`, whichever way the schema type names it. */
const withEvents = (db: Kysely<DB>) => db as unknown as Kysely<DB & { calendar_events: Omit<CalendarEventsTable, keyof ScreeningColumns> & ScreeningColumns }>;

/** A screening is one sitting: longer than a working day is a typing mistake, not an interview. */
export const MAX_SCREENING_MS = 10 * 60 * 60 * 1000;

/**
 * The times of a screening, checked the same way for scheduling and rescheduling: a start in the future, an
 * end after it, at most ten hours long. Plain words: these messages reach the form as they are.
 */
export function checkScreeningTimes(startIso: string, endIso: string, now: Date): { start: number; end: number } {
  const start = Date.parse(startIso);
  const end = Date.parse(endIso);
  if (Number.isNaN(start) || Number.isNaN(end)) throw validationFailed('Start and end must be dates with a time and a time zone.', { field: 'start' });
  if (start < now.getTime()) throw validationFailed('The start is in the past. Choose a time from now on.', { field: 'start' });
  if (end <= start) throw validationFailed('The end must be after the start.', { field: 'end' });
  if (end - start > MAX_SCREENING_MS) throw validationFailed('A screening can last at most 10 hours. Check the end time.', { field: 'end' });
  return { start, end };
}

export async function scheduleInterview(deps: InterviewDeps, actor: Actor, candidateId: string, input: ScheduleInterviewInput): Promise<ScheduledInterview> {
  const candidate = await loadCandidate(deps.db, actor, candidateId);
  if (actor.kind !== 'user') throw forbidden('Interviews go into a seat’s own calendar: act as the user who schedules it (X-Act-As-User).');
  const seat = await deps.db.selectFrom('seats').select(['id']).where('user_id', '=', actor.userId).where('contract_id', '=', candidate.contract_id).executeTakeFirst();
  if (!seat) throw forbidden('You hold no seat, so there is no calendar to schedule in.');

  const { start, end } = checkScreeningTimes(input.start, input.end, deps.clock.now());

  const contract = await loadContract(deps.db, candidate.contract_id);
  if (contract.status === 'suspended') throw new AppError('contract_suspended', 'This company is suspended: interviews cannot be scheduled.');
  if (!contract.email_provider) throw new AppError('provider_not_selected', 'Your admin has not chosen a provider yet (Google Workspace or Microsoft 365).');
  // only the switch is checked; the calendar grant stays as it is while the calendar is off.
  if (!contract.calendar_enabled) throw new AppError('calendar_disabled', 'The calendar is turned off for your company. Your admin can turn it on in the company email settings.');
  const provider = contract.email_provider;
  if (input.conferencing !== 'none' && CONFERENCING_OF[provider] !== input.conferencing) {
    throw validationFailed(
      `conferencing: ${CONFERENCING_NAME[input.conferencing]} needs a ${input.conferencing === 'google_meet' ? 'Google Workspace' : 'Microsoft 365'} company; yours uses ${PROVIDER_NAME[provider]}, so choose "${CONFERENCING_OF[provider]}" or "none" (R-15).`,
      { field: 'conferencing', rule: 'R-15' },
    );
  }

  const grant = await deps.db.selectFrom('mailbox_authorizations').selectAll().where('seat_id', '=', seat.id).where('kind', '=', 'calendar').executeTakeFirst();
  if (!grant || grant.state === 'deauthorized' || grant.provider !== provider) {
    throw new AppError('not_authorized', 'Connect your calendar first (My email & calendar): interviews are scheduled in your own calendar.');
  }
  if (grant.state === 'needs_reauthorization') throw new AppError('needs_reauthorization', `Reconnect your calendar: ${grant.state_reason ?? 'the provider no longer accepts the connection.'}`);

  const email = await deps.db.selectFrom('candidate_emails').select('address').where('candidate_id', '=', candidate.id).orderBy('position').executeTakeFirst();
  if (!email) throw validationFailed('This candidate has no email address, so there is nobody to invite. Add one to the profile first.', { field: 'candidateId' });

  const id = newId();
  let created;
  try {
    const token = await accessTokenFor(deps, grant.id);
    // on the mailbox's quota budget (Graph counts calendar requests against the mailbox).
    created = await withMailboxBudget(deps, provider, grant.address, grant.id, () => deps.calendars(provider).createEvent(token, {
      title: input.title,
      description: input.description,
      start: input.start,
      end: input.end,
      attendees: [{ address: email.address, name: candidate.name }],
      onlineMeeting: input.conferencing !== 'none',
      requestId: id,
    }));
  } catch (error) {
    throw calendarError(error);
  }

  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await withEvents(trx)
      .insertInto('calendar_events')
      .values({
        id,
        contract_id: candidate.contract_id,
        seat_id: seat.id,
        user_id: actor.userId,
        candidate_id: candidate.id,
        provider,
        provider_event_id: created.providerEventId,
        title: input.title,
        starts_at: new Date(start),
        ends_at: new Date(end),
        conferencing: input.conferencing,
        join_url: created.joinUrl,
        created_at: now,
      })
      .execute();
    // R-07 without third-party content: no title, no attendee address.
    await recordAudit(trx, { contractId: candidate.contract_id, actor, action: 'interview.scheduled', targetType: 'candidate', targetId: candidate.id, at: now, details: { seatId: seat.id, provider, conferencing: input.conferencing } });
  });
  return { id, eventId: created.providerEventId, ...(created.joinUrl ? { joinUrl: created.joinUrl } : {}) };
}

export interface ScreeningView {
  id: string;
  candidateId: string;
  title: string;
  start: Date;
  end: Date;
  conferencing: Conferencing;
  joinUrl: string | null;
  scheduledBy: { userId: string | null; name: string | null };
  createdAt: Date;
  updatedAt: Date | null;
}

/**
 * The candidate's upcoming-or-past screenings that are not cancelled, as the mail is shown: a
 * screening lives in one seat's own calendar, so only the current holder of that seat sees it — not other
 * seats, not admins (the event belongs to the person's calendar, like their private mail).
 */
export async function listInterviews(deps: InterviewDeps, actor: Actor, candidateId: string): Promise<ScreeningView[]> {
  const candidate = await loadCandidate(deps.db, actor, candidateId);
  if (actor.kind !== 'user') return [];
  const rows = await withEvents(deps.db)
    .selectFrom('calendar_events as e')
    .innerJoin('seats as s', 's.id', 'e.seat_id')
    .leftJoin('users as u', 'u.id', 'e.user_id')
    .select(['e.id', 'e.candidate_id', 'e.title', 'e.starts_at', 'e.ends_at', 'e.conferencing', 'e.join_url', 'e.user_id', 'u.name as user_name', 'e.created_at', 'e.updated_at'])
    .where('e.candidate_id', '=', candidate.id)
    .where('e.cancelled_at', 'is', null)
    .where('s.user_id', '=', actor.userId)
    .orderBy('e.starts_at')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    candidateId: r.candidate_id ?? candidate.id,
    title: r.title,
    start: r.starts_at,
    end: r.ends_at,
    conferencing: r.conferencing,
    joinUrl: r.join_url,
    scheduledBy: { userId: r.user_id, name: r.user_name ?? null },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));
}

/** A screening the actor may change: one in the calendar of the seat they hold now; anything else is not found. */
async function ownScreening(deps: InterviewDeps, actor: Actor, id: string) {
  if (actor.kind !== 'user') {
    // Another contract's screening does not exist for this caller: not_found before any other answer.
    const event = await deps.db.selectFrom('calendar_events').select('contract_id').where('id', '=', id).executeTakeFirst();
    assertContractVisible(actor, requireFound(event, 'Screening').contract_id, 'Screening');
    throw forbidden('A screening is changed in a seat’s own calendar: act as the user who holds it (X-Act-As-User).');
  }
  const row = await withEvents(deps.db)
    .selectFrom('calendar_events as e')
    .innerJoin('seats as s', 's.id', 'e.seat_id')
    .selectAll('e')
    .where('e.id', '=', id)
    .where('e.contract_id', '=', actor.contractId)
    .where('s.user_id', '=', actor.userId)
    .executeTakeFirst();
  if (!row) throw notFound('Screening');
  if (row.cancelled_at !== null) throw new AppError('conflict', 'This screening was already cancelled.');
  const grant = await deps.db.selectFrom('mailbox_authorizations').selectAll().where('seat_id', '=', row.seat_id).where('kind', '=', 'calendar').executeTakeFirst();
  if (!grant || grant.state === 'deauthorized' || grant.provider !== row.provider) {
    throw new AppError('not_authorized', 'Connect your calendar first (My email & calendar): the screening is in your own calendar.');
  }
  if (grant.state === 'needs_reauthorization') throw new AppError('needs_reauthorization', `Reconnect your calendar: ${grant.state_reason ?? 'the provider no longer accepts the connection.'}`);
  return { row, grant };
}

/** Moves a screening: the provider sends the candidate the new time (Google `sendUpdates=all`, Exchange itself). */
export async function rescheduleInterview(deps: InterviewDeps, actor: Actor, id: string, input: { start: string; end: string }): Promise<ScreeningView> {
  const { row, grant } = await ownScreening(deps, actor, id);
  const { start, end } = checkScreeningTimes(input.start, input.end, deps.clock.now());
  try {
    const token = await accessTokenFor(deps, grant.id);
    await withMailboxBudget(deps, row.provider, grant.address, grant.id, () => deps.calendars(row.provider).moveEvent(token, row.provider_event_id, { start: input.start, end: input.end }));
  } catch (error) {
    throw calendarError(error);
  }
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await withEvents(trx).updateTable('calendar_events').set({ starts_at: new Date(start), ends_at: new Date(end), updated_at: now }).where('id', '=', id).execute();
    await recordAudit(trx, { contractId: row.contract_id, actor, action: 'interview.rescheduled', targetType: 'candidate', targetId: row.candidate_id ?? id, at: now, details: { seatId: row.seat_id, provider: row.provider } });
  });
  const view = (await listInterviews(deps, actor, row.candidate_id!)).find((v) => v.id === id);
  if (!view) throw notFound('Screening');
  return view;
}

/** Cancels a screening at the provider, which sends the candidate the cancellation; the row stays, marked cancelled. */
export async function cancelInterview(deps: InterviewDeps, actor: Actor, id: string): Promise<void> {
  const { row, grant } = await ownScreening(deps, actor, id);
  try {
    const token = await accessTokenFor(deps, grant.id);
    await withMailboxBudget(deps, row.provider, grant.address, grant.id, () =>
      deps.calendars(row.provider).cancelEvent(token, row.provider_event_id, 'This screening interview has been cancelled.'),
    );
  } catch (error) {
    // Already gone at the provider (deleted in the calendar): cancelling here is all that is left to do.
    if (!(error instanceof ProviderError && error.kind === 'permanent' && (error.details.status === 404 || error.details.status === 410))) throw calendarError(error);
  }
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (trx) => {
    await withEvents(trx).updateTable('calendar_events').set({ cancelled_at: now, updated_at: now }).where('id', '=', id).execute();
    await recordAudit(trx, { contractId: row.contract_id, actor, action: 'interview.cancelled', targetType: 'candidate', targetId: row.candidate_id ?? id, at: now, details: { seatId: row.seat_id, provider: row.provider } });
  });
}

/** Provider failures in the codes of API.md. */
function calendarError(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  switch (error.kind) {
    case 'throttled':
      return new AppError('rate_limited', 'Your calendar provider is limiting requests right now. Try again later.', { retryAfterSeconds: error.details.retryAfterSeconds ?? 60 });
    case 'auth':
      return new AppError('needs_reauthorization', 'Your calendar provider no longer accepts the connection. Reconnect your calendar.');
    case 'consent':
      return new AppError('consent_required', `Your calendar provider refused: ${error.message}. Reconnect your calendar; if it still fails, your IT admin must grant the calendar permission.`);
    case 'transient':
      return new AppError('provider_unavailable', 'Your calendar provider did not answer. Check your calendar before trying again.', { retryAfterSeconds: 60 });
    default:
      return new AppError('validation_failed', `Your calendar provider refused the event: ${error.message}`);
  }
}
