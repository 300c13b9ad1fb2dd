import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CalendarEventsTable } from '../../src/store/migrations/0005_calendar_events.ts';
import type { Database } from '../../src/store/database.ts';
import type { TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';
import { startTestApi } from '../helpers/app.ts';

const START = '2026-12-07T10:00:00+01:00';
const END = '2026-12-07T10:30:00+01:00';
const OWN = { google: 'google_meet', microsoft: 'teams' } as const;
const OTHER = { google: 'teams', microsoft: 'google_meet' } as const;

describe.each(['google', 'microsoft'] as const)('R-52 screening interviews with %s', (provider) => {
  let database: Database;
  let api: TestApi;
  let sim: TestSimulators;
  let n = 0;
  const store = () => api.ctx.db as unknown as Kysely<{ calendar_events: CalendarEventsTable }>;

  beforeAll(async () => {
    sim = await startTestSimulators();
    database = await backends[0]!.open();
    api = await startTestApi(database, { simulatorUrl: sim.url });
  });
  afterAll(async () => {
    await api.close();
    await database.close();
    await sim.close();
  });

  async function company(options: { connectCalendar?: boolean } = {}) {
    const domain = `iv${++n}-${provider}.test`;
    const c = await createCompany(api, `Iv ${n}`, domain);
    const address = `rita@${domain}`;
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view', calendarEnabled: true });
    if (options.connectCalendar !== false) {
      await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'calendar', address });
    }
    return { ...c, domain, address };
  }
  type Company = Awaited<ReturnType<typeof company>>;

  const schedule = (c: Company, body: Record<string, unknown>, candidateId = c.candidate.id, actAs: string = c.recruiter.id) =>
    api.call('POST', `/api/v1/candidates/${candidateId}/interviews`, { token: c.contractToken, actAs, body: { title: 'Screening call', start: START, end: END, ...body } });

  /** What the simulator's calendar holds for the seat's mailbox, in one shape for both providers. */
  async function simEvents(address: string): Promise<Array<{ id: string; attendees: string[]; joinUrl: string | null; sendUpdates?: string; start: number }>> {
    if (provider === 'google') {
      const all: Array<{ address: string; sendUpdates: string; event: { id: string; attendees?: Array<{ email: string }>; hangoutLink?: string; start: { dateTime: string } } }> = await sim.control('GET', '/_sim/google/calendar-events');
      return all
        .filter((e) => e.address === address)
        .map((e) => ({ id: e.event.id, attendees: (e.event.attendees ?? []).map((a) => a.email), joinUrl: e.event.hangoutLink ?? null, sendUpdates: e.sendUpdates, start: Date.parse(e.event.start.dateTime) }));
    }
    const all: Array<{ id: string; attendees: Array<{ emailAddress: { address: string } }>; onlineMeeting: { joinUrl: string } | null; startInstant: string }> = await sim.control('GET', `/_sim/microsoft/events?address=${encodeURIComponent(address)}`);
    return all.map((e) => ({ id: e.id, attendees: e.attendees.map((a) => a.emailAddress.address), joinUrl: e.onlineMeeting?.joinUrl ?? null, start: Date.parse(e.startInstant) }));
  }

  it(`creates the event with a ${provider === 'google' ? 'Meet' : 'Teams'} link, inviting the candidate, stored and audited`, async () => {
    const c = await company();
    const res = await schedule(c, { conferencing: OWN[provider] });
    expect(res.statusCode, res.body).toBe(201);
    const { eventId, joinUrl } = res.json();
    expect(joinUrl).toMatch(provider === 'google' ? /^https:\/\/meet\.google\.com\/[a-z]{3}-[a-z]{4}-[a-z]{3}$/ : /^https:\/\/teams\.microsoft\.com\//);
    const events = await simEvents(c.address);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ id: eventId, attendees: ['carla@mail.example'], joinUrl });
    expect(events[0]!.start).toBe(Date.parse(START));
    if (provider === 'google') expect(events[0]!.sendUpdates).toBe('all');

    const row = await store().selectFrom('calendar_events').selectAll().where('contract_id', '=', c.contract.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ contract_id: c.contract.id, seat_id: c.seat.id, candidate_id: c.candidate.id, provider, provider_event_id: eventId, title: 'Screening call', join_url: joinUrl, conferencing: OWN[provider] });
    expect(row.starts_at.toISOString()).toBe('2026-12-07T09:00:00.000Z');

    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=1`);
    expect(audit.entries[0]).toMatchObject({ action: 'interview.scheduled', targetId: c.candidate.id });
    expect(JSON.stringify(audit.entries[0])).not.toContain('Screening call');
    expect(JSON.stringify(audit.entries[0])).not.toContain('carla@');
  });

  it('conferencing "none" creates an event without a link', async () => {
    const c = await company();
    const res = await schedule(c, { conferencing: 'none' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().joinUrl).toBeUndefined();
    const events = await simEvents(c.address);
    expect(events).toEqual([expect.objectContaining({ id: res.json().eventId, joinUrl: null, attendees: ['carla@mail.example'] })]);
  });

  it('R-15: the other provider’s conferencing is refused naming the rule, and nothing is created', async () => {
    const c = await company();
    const res = await schedule(c, { conferencing: OTHER[provider] });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'validation_failed', details: { field: 'conferencing', rule: 'R-15' } });
    expect(res.json().error.message).toContain('R-15');
    expect(await simEvents(c.address)).toEqual([]);
  });

  it('R-05: calendar off → calendar_disabled, grant untouched; on again → works without re-authorization', async () => {
    const c = await company();
    const before = await api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('seat_id', '=', c.seat.id).where('kind', '=', 'calendar').executeTakeFirstOrThrow();
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { calendarEnabled: false });
    const off = await schedule(c, { conferencing: 'none' });
    expect(off.statusCode).toBe(409);
    expect(off.json().error.code).toBe('calendar_disabled');
    expect(await simEvents(c.address)).toEqual([]);
    const during = await api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('id', '=', before.id).executeTakeFirstOrThrow();
    expect(during).toMatchObject({ state: 'authorized', refresh_token_ciphertext: before.refresh_token_ciphertext });

    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { calendarEnabled: true });
    const on = await schedule(c, { conferencing: OWN[provider] });
    expect(on.statusCode, on.body).toBe(201);
    expect(on.json().joinUrl).toBeTruthy();
    const after = await api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('id', '=', before.id).executeTakeFirstOrThrow();
    expect(after.last_authorized_at).toEqual(before.last_authorized_at);
  });

  it('without a calendar grant → not_authorized (an email grant is not enough)', async () => {
    const c = await company({ connectCalendar: false });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
    const res = await schedule(c, { conferencing: 'none' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('not_authorized');
  });

  it('refusals: suspended contract, other contract’s candidate, no email, bad times, no seat', async () => {
    const c = await company();
    const other = await company();
    const cross = await schedule(c, { conferencing: 'none' }, other.candidate.id);
    expect([cross.statusCode, cross.json().error.code]).toEqual([404, 'not_found']);

    const noEmail = await c.json('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { name: 'Nobody', emails: [], emailDiscovery: 'anyone' });
    const res = await schedule(c, { conferencing: 'none' }, noEmail.id);
    expect([res.statusCode, res.json().error.code]).toEqual([400, 'validation_failed']);

    const reversed = await schedule(c, { conferencing: 'none', start: END, end: START });
    expect([reversed.statusCode, reversed.json().error.code]).toEqual([400, 'validation_failed']);
    const noOffset = await schedule(c, { conferencing: 'none', start: '2026-12-07T10:00:00' });
    expect([noOffset.statusCode, noOffset.json().error.code]).toEqual([400, 'validation_failed']);

    const admin = await schedule(c, { conferencing: 'none' }, c.candidate.id, c.admin.id);
    expect([admin.statusCode, admin.json().error.code]).toEqual([403, 'forbidden']);

    await c.json('PATCH', `/api/v1/contracts/${c.contract.id}`, { status: 'suspended' });
    const suspended = await schedule(c, { conferencing: 'none' });
    expect(suspended.json().error.code).toBe('contract_suspended');
    expect(await simEvents(c.address)).toEqual([]);
  });

  it('refuses a start in the past, an end before the start and a slot longer than 10 hours, in plain words', async () => {
    const c = await company();
    const past = await schedule(c, { conferencing: 'none', start: '2020-01-06T10:00:00Z', end: '2020-01-06T10:30:00Z' });
    expect([past.statusCode, past.json().error.code]).toEqual([400, 'validation_failed']);
    expect(past.json().error.message).toMatch(/in the past/);
    const reversed = await schedule(c, { conferencing: 'none', start: END, end: START });
    expect(reversed.json().error.message).toMatch(/end must be after the start/);
    const long = await schedule(c, { conferencing: 'none', start: START, end: '2026-12-07T20:00:01+01:00' });
    expect([long.statusCode, long.json().error.code]).toEqual([400, 'validation_failed']);
    expect(long.json().error.message).toMatch(/at most 10 hours/);
    for (const res of [past, reversed, long]) expect(res.json().error.message).not.toMatch(/R-\d/);
    // Exactly ten hours is a (long) working day, and allowed.
    expect((await schedule(c, { conferencing: 'none', start: START, end: '2026-12-07T20:00:00+01:00' })).statusCode).toBe(201);
    expect(await simEvents(c.address)).toHaveLength(1);
  });

  it('lists the candidate’s screenings to the seat that scheduled them only, with time, link and who scheduled', async () => {
    const c = await company();
    const res = await schedule(c, { conferencing: OWN[provider] });
    expect(res.statusCode, res.body).toBe(201);
    const list = await api.call('GET', `/api/v1/candidates/${c.candidate.id}/interviews`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json().interviews).toEqual([
      expect.objectContaining({ id: res.json().id, title: 'Screening call', start: '2026-12-07T09:00:00.000Z', end: '2026-12-07T09:30:00.000Z', joinUrl: res.json().joinUrl, scheduledBy: { userId: c.recruiter.id, name: expect.any(String) } }),
    ]);
    // R-63-like: an admin (no seat of theirs scheduled it) sees nothing, and cannot cancel it.
    const admin = await api.call('GET', `/api/v1/candidates/${c.candidate.id}/interviews`, { token: c.contractToken, actAs: c.admin.id });
    expect(admin.json().interviews).toEqual([]);
    const adminCancel = await api.call('DELETE', `/api/v1/interviews/${res.json().id}`, { token: c.contractToken, actAs: c.admin.id });
    expect([adminCancel.statusCode, adminCancel.json().error.code]).toEqual([404, 'not_found']);
  });

  it('reschedule moves the event at the provider (attendees updated) and in the list; bad times are refused', async () => {
    const c = await company();
    const { id, eventId } = (await schedule(c, { conferencing: 'none' })).json();
    const bad = await api.call('PATCH', `/api/v1/interviews/${id}`, { token: c.contractToken, actAs: c.recruiter.id, body: { start: '2020-01-06T10:00:00Z', end: '2020-01-06T10:30:00Z' } });
    expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'validation_failed']);
    const moved = await api.call('PATCH', `/api/v1/interviews/${id}`, { token: c.contractToken, actAs: c.recruiter.id, body: { start: '2026-12-08T14:00:00Z', end: '2026-12-08T14:45:00Z' } });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({ id, start: '2026-12-08T14:00:00.000Z', end: '2026-12-08T14:45:00.000Z' });
    const events = await simEvents(c.address);
    expect(events).toEqual([expect.objectContaining({ id: eventId, start: Date.parse('2026-12-08T14:00:00Z') })]);
    if (provider === 'google') expect(events[0]!.sendUpdates).toBe('all');
    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=1`);
    expect(audit.entries[0]).toMatchObject({ action: 'interview.rescheduled' });
  });

  it('cancel cancels the event at the provider, notifying the candidate, and drops it from the list', async () => {
    const c = await company();
    const { id, eventId } = (await schedule(c, { conferencing: 'none' })).json();
    const res = await api.call('DELETE', `/api/v1/interviews/${id}`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(res.statusCode, res.body).toBe(204);
    if (provider === 'google') {
      const all: Array<{ sendUpdates: string; event: { id: string; status: string } }> = await sim.control('GET', '/_sim/google/calendar-events');
      expect(all.find((e) => e.event.id === eventId)).toMatchObject({ sendUpdates: 'all', event: { status: 'cancelled' } });
    } else {
      const all: Array<{ id: string; isCancelled?: boolean; cancellationComment?: string }> = await sim.control('GET', `/_sim/microsoft/events?address=${encodeURIComponent(c.address)}`);
      expect(all.find((e) => e.id === eventId)).toMatchObject({ isCancelled: true, cancellationComment: expect.stringContaining('cancelled') });
    }
    const list = await api.call('GET', `/api/v1/candidates/${c.candidate.id}/interviews`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(list.json().interviews).toEqual([]);
    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=5`);
    expect(audit.entries.map((e: { action: string }) => e.action)).toContain('interview.cancelled');
    const again = await api.call('DELETE', `/api/v1/interviews/${id}`, { token: c.contractToken, actAs: c.recruiter.id });
    expect([again.statusCode, again.json().error.code]).toEqual([409, 'conflict']);
  });

  it('R-70: suspension deletes the contract’s interview records and counts them in the receipt', async () => {
    const c = await company();
    const other = await company();
    expect((await schedule(c, { conferencing: 'none' })).statusCode).toBe(201);
    expect((await schedule(other, { conferencing: 'none' })).statusCode).toBe(201);
    const receipt = await c.json('PATCH', `/api/v1/contracts/${c.contract.id}`, { status: 'suspended' });
    expect(JSON.stringify(receipt)).toContain('"calendarEvents":1');
    const left = await store().selectFrom('calendar_events').select('contract_id').where('contract_id', 'in', [c.contract.id, other.contract.id]).execute();
    expect(left.map((r) => r.contract_id)).toEqual([other.contract.id]);
  });

  it('provider throttling surfaces as rate_limited with a retry time', async () => {
    const c = await company();
    await sim.control('POST', '/_sim/faults', { provider, match: { method: 'POST', path: provider === 'google' ? '/calendar/v3/' : '/events' }, fault: 'http_429', retryAfterSeconds: 7, count: 1 });
    const res = await schedule(c, { conferencing: 'none' });
    expect(res.statusCode, res.body).toBe(429);
    expect(res.json().error).toMatchObject({ code: 'rate_limited', details: { retryAfterSeconds: 7 } });
    expect(res.headers['retry-after']).toBe('7');
    expect((await schedule(c, { conferencing: 'none' })).statusCode).toBe(201);
  });
});
