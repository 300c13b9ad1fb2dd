import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestProduct, type TestProduct } from '../helpers/product.ts';

/**
 * R-50 with R-39: an address typed in the compose pane is saved on the candidate, and like any new address of a
 * pipeline candidate it brings that address's past conversation in (a targeted backfill, not a rescan).
 */
describe.each(['google', 'microsoft'] as const)('a new address typed when sending is backfilled (R-39, R-50) with %s', (provider) => {
  let product: TestProduct;
  beforeAll(async () => {
    product = await startTestProduct({ jobs: true });
  });
  afterAll(() => product?.close());

  it('the earlier mail from that address appears on the profile after the send', async () => {
    const { api, sim } = product;
    const domain = `typed-${provider}.test`;
    const c = await createCompany(api, 'Typed', domain);
    const address = `rita@${domain}`;
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address });
    const tenDaysAgo = new Date(api.clock.now().getTime() - 10 * 86_400_000).toISOString();
    const earlier = await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(address)}/messages`, {
      from: 'Carla <carla.home@mail.example>',
      to: address,
      subject: 'My CV, from my personal address',
      text: 'Attached you find my CV.',
      date: tenDaysAgo,
    });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'send_and_view' });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
    await product.jobs!.drain();

    const subjects = async () =>
      ((await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, { token: c.contractToken, actAs: c.recruiter.id })).json() as { messages: { subject: string }[] }[]).flatMap((t) => t.messages.map((m) => m.subject)).sort();
    // Not the candidate's address yet: the historical sync left it out.
    expect(await subjects()).toEqual([]);

    const sent = await api.call('POST', `/api/v1/candidates/${c.candidate.id}/emails`, { token: c.contractToken, actAs: c.recruiter.id, body: { to: 'carla.home@mail.example', subject: 'Thanks for your CV', bodyText: 'We will be in touch.' } });
    expect(sent.statusCode, sent.body).toBe(201);
    expect((await c.json('GET', `/api/v1/candidates/${c.candidate.id}`)).emails).toEqual(['carla@mail.example', 'carla.home@mail.example']);
    await product.jobs!.drain();

    expect(await subjects()).toEqual(['My CV, from my personal address', 'Thanks for your CV']);
    const stored = await api.ctx.db.selectFrom('mail_messages').select(['provider_message_id', 'origin']).where('owner_seat_id', '=', c.seat.id).where('origin', '=', 'synced').execute();
    expect(stored.map((m) => m.provider_message_id)).toEqual([earlier.id]);
  });
  it('an address added by mistake is removed by whoever added it (or an admin), audited, and a reply from it is no longer synced, the decision log saying why', async () => {
    const { api, sim } = product;
    const domain = `mistake-${provider}.test`;
    const c = await createCompany(api, 'Mistake', domain);
    const address = `rita@${domain}`;
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'send_and_view' });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
    await product.jobs!.drain();
    const tom = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `tom@${domain}`, name: 'Tom', role: 'recruiter' });

    const wrong = 'carla.wrong@mail.example';
    const sent = await api.call('POST', `/api/v1/candidates/${c.candidate.id}/emails`, { token: c.contractToken, actAs: c.recruiter.id, body: { to: wrong, subject: 'Interview next week', bodyText: 'Shall we talk?' } });
    expect(sent.statusCode, sent.body).toBe(201);
    const listed = async (actAs: string) => (await api.call('GET', `/api/v1/candidates/${c.candidate.id}/emails`, { token: c.contractToken, actAs })).json().emails;
    expect(await listed(c.recruiter.id)).toEqual([
      { address: 'carla@mail.example', addedBy: null, removable: false },
      { address: wrong, addedBy: { userId: c.recruiter.id, name: 'Rita Recruiter' }, removable: true },
    ]);
    expect((await listed(tom.id)).map((e: { removable: boolean }) => e.removable)).toEqual([false, false]);
    expect((await listed(c.admin.id)).map((e: { removable: boolean }) => e.removable)).toEqual([true, true]);
    const remove = (actAs: string, who = wrong) => api.call('DELETE', `/api/v1/candidates/${c.candidate.id}/emails/${encodeURIComponent(who)}`, { token: c.contractToken, actAs });
    // Not Tom (he did not add it); not the host system's own address for a recruiter who did not add it either.
    expect([(await remove(tom.id)).statusCode, (await remove(tom.id)).json().error.code]).toEqual([403, 'forbidden']);
    expect((await remove(c.recruiter.id, 'carla@mail.example')).statusCode).toBe(403);
    const removed = await remove(c.recruiter.id, 'Carla.Wrong@mail.example');
    expect(removed.statusCode, removed.body).toBe(200);
    expect(removed.json()).toEqual({ emails: ['carla@mail.example'] });
    expect((await c.json('GET', `/api/v1/candidates/${c.candidate.id}`)).emails).toEqual(['carla@mail.example']);
    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=10`);
    const entry = audit.entries.find((e: { action: string }) => e.action === 'candidate.email_removed');
    expect(entry).toMatchObject({ targetId: c.candidate.id });
    expect(JSON.stringify(entry)).not.toContain('wrong@');
    // An admin may remove any address.
    expect((await remove(c.admin.id, 'carla@mail.example')).statusCode).toBe(200);

    // The mistaken person answers in the conversation the product started: not synced any more.
    const record = (await sim.control('GET', `/_sim/mailboxes/${encodeURIComponent(address)}/sent`))[0];
    await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(address)}/messages`, { from: `Someone <${wrong}>`, to: address, subject: 'Re: Interview next week', text: 'Who are you?', inReplyTo: record.messageId, references: record.messageId });
    api.clock.set(new Date(api.clock.now().getTime() + 2 * 60_000));
    await product.jobs!.drain();
    const subjects = ((await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, { token: c.contractToken, actAs: c.recruiter.id })).json() as { messages: { subject: string }[] }[]).flatMap((t) => t.messages.map((m) => m.subject));
    expect(subjects).toEqual(['Interview next week']);
    const decisions = (await api.call('GET', `/api/v1/seats/${c.seat.id}/sync/decisions?address=${wrong}`, { token: c.contractToken, actAs: c.recruiter.id })).json() as Array<{ ingested: boolean; rule: string | null; detail: { reason: string; direction: string } }>;
    const reply = decisions.find((d) => d.detail.direction === 'received');
    expect(reply, JSON.stringify(decisions)).toMatchObject({ ingested: false, rule: 'R-33', detail: { reason: expect.stringMatching(/^carla\.wrong@mail\.example was removed from the candidate's profile on .*, so email with it is no longer synced\.$/) } });
  });
});
