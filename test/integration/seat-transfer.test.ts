import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLL_SECONDS } from '../../src/sync/workers.ts';
import type { TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestProduct, type TestProduct } from '../helpers/product.ts';
import type { TestSimulators } from '../helpers/simulators.ts';

/**
 * R-62 with R-22 end to end, through the simulators and the job queue: a seat transfer or park ends the seat's
 * email and calendar grants (tokens revoked where the provider can and deleted, push channels ended, syncing
 * stopped); the mail already synced stays with the seat (private: nobody; contract: every seat), mail reaching the
 * previous holder's mailbox afterwards is never synced, and the new holder connects their own mailbox.
 * disconnecting the calendar never breaks email.
 */

type Company = Awaited<ReturnType<typeof createCompany>>;
interface Revocation {
  provider: string;
  kind: string;
  id: string;
}

describe.each(['google', 'microsoft'] as const)('seat transfer and parking with %s (R-62, R-22, R-05)', (provider) => {
  let product: TestProduct;
  let api: TestApi;
  let sim: TestSimulators;
  let n = 0;

  beforeAll(async () => {
    product = await startTestProduct({ jobs: true, push: true });
    ({ api, sim } = product);
  });
  afterAll(() => product?.close());

  const drain = async () => (await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' })).json().ran as number;
  /** Past the poll interval and the revocation round (every five minutes), then every job that is due. */
  const later = async () => {
    api.clock.set(new Date(api.clock.now().getTime() + Math.max(POLL_SECONDS, 300) * 1000 + 1000));
    await drain();
  };
  const revocationsOf = async (address: string): Promise<Revocation[]> => (await sim.control('GET', '/_sim/revocations'))[address] ?? [];
  const deliver = (address: string, subject: string) =>
    sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(address)}/messages`, { from: 'Carla <carla@mail.example>', to: address, subject, text: `About ${subject}` });
  const storedSubjects = async (seatId: string) =>
    (await api.ctx.db.selectFrom('mail_messages').select('subject').where('owner_seat_id', '=', seatId).orderBy('subject').execute()).map((r) => r.subject);
  const visibleSubjects = async (c: Company, userId: string) => {
    const threads = (await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, { token: c.contractToken, actAs: userId })).json();
    return (threads as Array<{ messages: Array<{ subject: string }> }>).flatMap((t) => t.messages.map((m) => m.subject)).sort();
  };

  /**
   * A company at send & view with the calendar on; Rita's seat has email (and, when asked, calendar) connected,
   * its historical sync done and its push channels live. Nina and Sam are further recruiters, Sam on a seat.
   */
  async function company(options: { email?: boolean; calendar?: boolean } = {}) {
    const domain = `transfer${++n}-${provider}.test`;
    const c = await createCompany(api, `Transfer ${n}`, domain);
    const address = `rita@${domain}`;
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    for (const who of ['rita', 'nina', 'sam']) await sim.control('POST', '/_sim/mailboxes', { provider, address: `${who}@${domain}` });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'send_and_view', calendarEnabled: true });
    const nina = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `nina@${domain}`, name: 'Nina New', role: 'recruiter' });
    const sam = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `sam@${domain}`, name: 'Sam Colleague', role: 'recruiter' });
    await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: sam.id });
    const recent = new Date(api.clock.now().getTime() - 2 * 86_400_000).toISOString();
    for (const subject of ['Private before', 'Shared before']) {
      await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(address)}/messages`, { from: 'Carla <carla@mail.example>', to: address, subject, text: subject, date: recent });
    }
    if (options.email !== false) await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
    if (options.calendar) await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'calendar', address });
    await drain();
    const grants = await api.ctx.db.selectFrom('mailbox_authorizations').select(['id', 'kind']).where('seat_id', '=', c.seat.id).execute();
    const grantId = (kind: 'email' | 'calendar') => grants.find((g) => g.kind === kind)?.id ?? '';
    const mailboxView = async (userId: string) => (await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: userId })).json();
    return { ...c, domain, address, nina, sam, grantId, mailboxView };
  }

  /** Rita's two synced messages (two conversations), one of them shared with the contract by her. */
  async function shareOne(c: Awaited<ReturnType<typeof company>>) {
    expect(await storedSubjects(c.seat.id)).toEqual(['Private before', 'Shared before']);
    const shared = await api.ctx.db.selectFrom('mail_messages').select('thread_id').where('owner_seat_id', '=', c.seat.id).where('subject', '=', 'Shared before').executeTakeFirstOrThrow();
    const res = await api.call('PATCH', `/api/v1/threads/${shared.thread_id}`, { token: c.contractToken, actAs: c.recruiter.id, body: { visibility: 'contract' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(await visibleSubjects(c, c.recruiter.id)).toEqual(['Private before', 'Shared before']);
    expect(await visibleSubjects(c, c.sam.id)).toEqual(['Shared before']);
  }

  it('a transfer ends the seat’s grants: the new holder cannot send as the previous one, nothing more is synced, the new holder connects their own', async () => {
    const c = await company({ calendar: true });
    await shareOne(c);
    expect(await api.ctx.db.selectFrom('push_subscriptions').select('id').where('authorization_id', '=', c.grantId('email')).execute()).not.toEqual([]);

    const transferred = await api.call('POST', `/api/v1/seats/${c.seat.id}/transfer`, { token: c.contractToken, body: { toUserId: c.nina.id } });
    expect(transferred.statusCode, transferred.body).toBe(200);
    expect(transferred.json()).toMatchObject({ userId: c.nina.id, status: 'active' });

    // The seat's mailbox view says why, for both grants; no token of the previous holder is left.
    const view = await c.mailboxView(c.nina.id);
    expect(view.email).toMatchObject({ state: 'deauthorized', reason: 'seat_transferred', canSend: false });
    expect(view.calendar).toMatchObject({ state: 'deauthorized', reason: 'seat_transferred' });
    const rows = await api.ctx.db.selectFrom('mailbox_authorizations').select(['access_token_ciphertext', 'refresh_token_ciphertext']).where('seat_id', '=', c.seat.id).execute();
    expect(rows).toEqual([
      { access_token_ciphertext: null, refresh_token_ciphertext: null },
      { access_token_ciphertext: null, refresh_token_ciphertext: null },
    ]);
    expect(await api.ctx.db.selectFrom('push_subscriptions').select('id').where('authorization_id', '=', c.grantId('email')).execute()).toEqual([]);

    // Nina cannot send from Rita's mailbox.
    const send = await api.call('POST', `/api/v1/candidates/${c.candidate.id}/emails`, { token: c.contractToken, actAs: c.nina.id, body: { subject: 'Hello', bodyText: 'From Nina' } });
    expect([send.statusCode, send.json().error.code]).toEqual([409, 'not_authorized']);
    expect(await sim.control('GET', `/_sim/mailboxes/${encodeURIComponent(c.address)}/sent`)).toEqual([]);

    // The transfer queued the provider's side at once: the drain ends the channels without waiting for the schedule.
    await drain();
    if (provider === 'google') expect((await revocationsOf(c.address)).some((r) => r.kind === 'watch')).toBe(true);
    else expect((await revocationsOf(c.address)).filter((r) => r.kind === 'subscription')).toHaveLength(2);

    // Mail reaching Rita's mailbox afterwards is never synced: not by push, not by the poll.
    await deliver(c.address, 'After the transfer');
    await drain();
    await later();
    expect(await storedSubjects(c.seat.id)).toEqual(['Private before', 'Shared before']);
    expect(await api.ctx.db.selectFrom('ingestion_decisions').select('id').where('seat_id', '=', c.seat.id).where('provider_message_id', 'not in', (await api.ctx.db.selectFrom('mail_messages').select('provider_message_id').where('owner_seat_id', '=', c.seat.id).execute()).map((r) => r.provider_message_id ?? '')).execute()).toEqual([]);

    // At the provider: channels ended; Google's grant revoked (Microsoft has no revocation per app: tokens deleted).
    const revocations = await revocationsOf(c.address);
    if (provider === 'google') {
      expect(revocations.some((r) => r.kind === 'watch')).toBe(true);
      expect(revocations.some((r) => r.kind === 'token')).toBe(true);
      const watches: Array<{ address: string }> = await sim.control('GET', '/_sim/google/watches');
      expect(watches.filter((w) => w.address.toLowerCase() === c.address)).toEqual([]);
    } else {
      expect(revocations.filter((r) => r.kind === 'subscription')).toHaveLength(2);
      const subs: Array<{ address: string }> = await sim.control('GET', '/_sim/microsoft/subscriptions');
      expect(subs.filter((s) => s.address.toLowerCase() === c.address)).toEqual([]);
    }
    expect(await api.ctx.db.selectFrom('token_revocations').select('id').where('contract_id', '=', c.contract.id).execute()).toEqual([]);
    expect(await api.ctx.db.selectFrom('push_stops').select('id').where('contract_id', '=', c.contract.id).execute()).toEqual([]);

    // Rita's private mail is visible to nobody; the shared one to every seat holder, Rita no longer among them.
    expect(await visibleSubjects(c, c.nina.id)).toEqual(['Shared before']);
    expect(await visibleSubjects(c, c.sam.id)).toEqual(['Shared before']);
    expect(await visibleSubjects(c, c.recruiter.id)).toEqual([]);

    // Nina connects her own mailbox; it syncs as hers.
    const ninaAddress = `nina@${c.domain}`;
    await connectMailbox(api, { seatId: c.seat.id, userId: c.nina.id, token: c.contractToken, kind: 'email', address: ninaAddress });
    expect((await c.mailboxView(c.nina.id)).email).toMatchObject({ state: 'authorized', address: ninaAddress, canSend: true });
    await deliver(ninaAddress, 'To Nina');
    await drain();
    await later();
    expect(await visibleSubjects(c, c.nina.id)).toEqual(['Shared before', 'To Nina']);
    expect(await storedSubjects(c.seat.id)).not.toContain('After the transfer');
  });

  it('parking ends the seat’s grants the same way, and a parked seat syncs nothing', async () => {
    const c = await company();
    await shareOne(c);
    const parked = await api.call('POST', `/api/v1/seats/${c.seat.id}/park`, { token: c.contractToken });
    expect(parked.statusCode, parked.body).toBe(200);
    expect(parked.json()).toMatchObject({ userId: null, status: 'parked' });
    const view = await c.mailboxView(c.admin.id);
    expect(view.email).toMatchObject({ state: 'deauthorized', reason: 'seat_parked' });
    expect(await api.ctx.db.selectFrom('push_subscriptions').select('id').where('authorization_id', '=', c.grantId('email')).execute()).toEqual([]);

    await deliver(c.address, 'While parked');
    await drain();
    await later();
    expect(await storedSubjects(c.seat.id)).toEqual(['Private before', 'Shared before']);
    const revocations = await revocationsOf(c.address);
    expect(revocations.some((r) => r.kind === (provider === 'google' ? 'watch' : 'subscription'))).toBe(true);
    expect(revocations.some((r) => r.kind === 'token')).toBe(provider === 'google');

    expect(await visibleSubjects(c, c.sam.id)).toEqual(['Shared before']);
    expect(await visibleSubjects(c, c.recruiter.id)).toEqual([]);
    // The parked seat's next holder finds it disconnected too.
    await c.json('POST', `/api/v1/seats/${c.seat.id}/transfer`, { toUserId: c.nina.id });
    expect((await c.mailboxView(c.nina.id)).email).toMatchObject({ state: 'deauthorized', reason: 'seat_parked' });
    expect(await visibleSubjects(c, c.nina.id)).toEqual(['Shared before']);
  });

  it('R-05: disconnecting the calendar keeps the email grant at the provider, and email keeps syncing', async () => {
    const c = await company({ calendar: true });
    const before = (await revocationsOf(c.address)).length;
    const res = await api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/calendar`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ state: 'deauthorized', reason: 'user_request' });
    // Our calendar token is deleted; nothing is queued to revoke at the provider, which would end the email grant too.
    const calendar = await api.ctx.db.selectFrom('mailbox_authorizations').select(['access_token_ciphertext', 'refresh_token_ciphertext']).where('id', '=', c.grantId('calendar')).executeTakeFirstOrThrow();
    expect(calendar).toEqual({ access_token_ciphertext: null, refresh_token_ciphertext: null });
    expect(await api.ctx.db.selectFrom('token_revocations').select('id').where('contract_id', '=', c.contract.id).execute()).toEqual([]);
    await drain();
    await later();
    expect((await revocationsOf(c.address)).slice(before).filter((r) => r.kind === 'token')).toEqual([]);

    // Email still syncs, and its token still works at the provider (a forced refresh and a send).
    expect((await c.mailboxView(c.recruiter.id)).email).toMatchObject({ state: 'authorized', canSend: true });
    await deliver(c.address, 'After the calendar left');
    await drain();
    await later();
    expect(await storedSubjects(c.seat.id)).toContain('After the calendar left');
    await api.ctx.db.updateTable('mailbox_authorizations').set({ access_token_expires_at: api.clock.now() }).where('id', '=', c.grantId('email')).execute();
    const send = await api.call('POST', `/api/v1/candidates/${c.candidate.id}/emails`, { token: c.contractToken, actAs: c.recruiter.id, body: { subject: 'Still here', bodyText: 'Email works' } });
    expect(send.statusCode, send.body).toBe(201);
    expect((await c.mailboxView(c.recruiter.id)).email.state).toBe('authorized');

    // Disconnecting email afterwards revokes the grant at Google (the calendar's consent goes with it).
    await api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    await drain();
    await later();
    expect((await revocationsOf(c.address)).slice(before).some((r) => r.kind === 'token')).toBe(provider === 'google');
  });

  it('R-22: disconnecting a calendar with no email grant alongside it revokes it where the provider can', async () => {
    const c = await company({ email: false, calendar: true });
    const res = await api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/calendar`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(res.statusCode, res.body).toBe(200);
    await drain();
    await later();
    expect((await revocationsOf(c.address)).some((r) => r.kind === 'token')).toBe(provider === 'google');
  });
});
