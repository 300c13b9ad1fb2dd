import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';
import { startTestProduct, type TestProduct } from '../helpers/product.ts';
import type { TestSimulators } from '../helpers/simulators.ts';

describe.each(['google', 'microsoft'] as const)('Email Connect sending (R-50, R-51) with %s', (provider) => {
  let product: TestProduct;
  let api: TestApi;
  let sim: TestSimulators;
  let n = 0;
  beforeAll(async () => {
    product = await startTestProduct();
    ({ api, sim } = product);
  });
  afterAll(() => product.close());

  async function company(level: 'view' | 'send_and_view' = 'send_and_view', connect = true) {
    const domain = `send${++n}-${provider}.test`;
    const c = await createCompany(api, `Send ${n}`, domain);
    const address = `rita@${domain}`;
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: level });
    if (connect) await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
    const send = (body: object, candidateId = c.candidate.id) => api.call('POST', `/api/v1/candidates/${candidateId}/emails`, { token: c.contractToken, actAs: c.recruiter.id, body });
    const sent = async () => sim.control('GET', `/_sim/mailboxes/${encodeURIComponent(address)}/sent`);
    return { ...c, domain, address, send, sent };
  }

  it('R-50: sends a new email through the seat’s mailbox and shows it at once, private, initiated through the product', async () => {
    const c = await company();
    const res = await c.send({ subject: 'Backend role at Acme', bodyText: 'Hi Carla, would you like to talk?' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ direction: 'outbound', origin: 'sent_from_product', visibility: 'private', from: c.address, to: ['carla@mail.example'], subject: 'Backend role at Acme', isOwner: true });
    const [record] = await c.sent();
    expect(record).toMatchObject({ from: expect.stringContaining(c.address), to: [expect.stringContaining('carla@mail.example')], subject: 'Backend role at Acme' });
    const stored = await api.ctx.db.selectFrom('mail_messages').innerJoin('mail_threads', 'mail_threads.id', 'mail_messages.thread_id').select(['mail_messages.rfc_message_id', 'mail_threads.initiated_through_product']).where('mail_messages.id', '=', res.json().id).executeTakeFirstOrThrow();
    expect(stored.initiated_through_product).toBe(true);
    expect(record.messageId.replace(/[<>]/g, '')).toBe(stored.rfc_message_id?.replace(/[<>]/g, ''));
    const threads = (await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, { token: c.contractToken, actAs: c.recruiter.id })).json();
    expect(threads[0].messages[0].id).toBe(res.json().id);
  });

  it('R-50: a reply threads at the provider (In-Reply-To, References, subject, thread)', async () => {
    const c = await company();
    const inbound = await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`, { from: 'Carla <carla@mail.example>', to: c.address, subject: 'Question about the role', text: 'Is it remote?' });
    const original = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id, provider, providerThreadId: inbound.threadId, providerMessageId: inbound.id, rfcMessageId: inbound.messageId, subject: 'Question about the role' });
    const res = await c.send({ subject: 'Question about the role', bodyText: 'Yes, fully remote.', replyToMessageId: original.messageId });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ subject: 'Re: Question about the role', threadId: original.threadId });
    const [record] = await c.sent();
    expect(record.inReplyTo?.replace(/[<>]/g, '')).toBe(inbound.messageId.replace(/[<>]/g, ''));
    expect(record.references.map((r: string) => r.replace(/[<>]/g, ''))).toContain(inbound.messageId.replace(/[<>]/g, ''));
    expect(record.threadId).toBe(inbound.threadId);
    expect(record.subject).toBe('Re: Question about the role');
  });

  it('R-50: a typed address is validated and saved on a candidate without email', async () => {
    const c = await company();
    const bare = await c.json('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { name: 'No Mail Yet', emails: [] });
    const missing = await c.send({ subject: 'Hello', bodyText: 'Hi' }, bare.id);
    expect([missing.statusCode, missing.json().error.code]).toEqual([400, 'validation_failed']);
    const invalid = await c.send({ subject: 'Hello', bodyText: 'Hi', to: 'not-an-address' }, bare.id);
    expect(invalid.json().error.code).toBe('validation_failed');
    const ok = await c.send({ subject: 'Hello', bodyText: 'Hi', to: 'Noma.Yet@Mail.example' }, bare.id);
    expect(ok.statusCode, ok.body).toBe(201);
    expect((await c.json('GET', `/api/v1/candidates/${bare.id}`)).emails).toEqual(['Noma.Yet@Mail.example']);
  });

  it('an enormous subject is refused, never cut: 998 characters go, 999 are validation_failed and nothing is sent', async () => {
    const c = await company();
    const tooLong = await c.send({ subject: 'x'.repeat(999), bodyText: 'Hi' });
    expect([tooLong.statusCode, tooLong.json().error.code]).toEqual([400, 'validation_failed']);
    expect(await c.sent()).toEqual([]);
    const longest = await c.send({ subject: 'y'.repeat(998), bodyText: 'Hi' });
    expect(longest.statusCode, longest.body).toBe(201);
    expect(longest.json().subject).toBe('y'.repeat(998));
  });

  it('R-51/R-04: refuses with the right code — view level (even holding a send scope), not connected, no send scope, suspended', async () => {
    const c = await company();
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'view' });
    // The downgrade deauthorized the grant; at view level sending is refused whatever the token holds.
    const view = await c.send({ subject: 'x', bodyText: 'y' });
    expect([view.statusCode, view.json().error.code]).toEqual([403, 'send_not_allowed']);

    const fresh = await company('send_and_view', false);
    expect((await fresh.send({ subject: 'x', bodyText: 'y' })).json().error.code).toBe('not_authorized');

    const readOnly = await company('view');
    await readOnly.json('PUT', `/api/v1/contracts/${readOnly.contract.id}/settings`, { emailAccess: 'send_and_view' });
    const noScope = await readOnly.send({ subject: 'x', bodyText: 'y' });
    expect([noScope.statusCode, noScope.json().error.code]).toEqual([403, 'send_scope_missing']);
    expect(noScope.json().error.message).toMatch(/Reconnect/);

    const suspended = await company();
    await api.call('PATCH', `/api/v1/contracts/${suspended.contract.id}`, { body: { status: 'suspended' } });
    expect((await suspended.send({ subject: 'x', bodyText: 'y' })).json().error.code).toBe('contract_suspended');
    expect(await c.sent()).toEqual([]);
  });

  it('R-51/R-12: a grant that needs re-authorization is refused with the reason', async () => {
    const c = await company();
    await api.ctx.db.updateTable('mailbox_authorizations').set({ state: 'needs_reauthorization', state_reason: 'Google refused to renew access.' }).where('seat_id', '=', c.seat.id).execute();
    const res = await c.send({ subject: 'x', bodyText: 'y' });
    expect([res.statusCode, res.json().error.code]).toEqual([409, 'needs_reauthorization']);
    expect(res.json().error.message).toMatch(/Reconnect/);
    expect(await c.sent()).toEqual([]);
  });

  it('R-04: a grant still holding the send scope at view level is refused', async () => {
    const c = await company();
    // Simulate an IT admin who left the scope in place: the level changes without the downgrade path.
    await api.ctx.db.updateTable('contracts').set({ email_access: 'view' }).where('id', '=', c.contract.id).execute();
    const res = await c.send({ subject: 'x', bodyText: 'y' });
    expect(res.json().error.code).toBe('send_not_allowed');
    expect(await c.sent()).toEqual([]);
  });

  it('R-51: provider sending limits surface as rate_limited with a retry time, and nothing is stored', async () => {
    const c = await company();
    await sim.control('POST', '/_sim/faults', { provider, match: { method: 'POST', path: provider === 'google' ? 'messages/send' : 'sendMail' }, fault: 'http_429', count: 1, retryAfterSeconds: 42 });
    const res = await c.send({ subject: 'x', bodyText: 'y' });
    expect([res.statusCode, res.json().error.code]).toEqual([429, 'rate_limited']);
    expect(res.headers['retry-after']).toBe('42');
    expect(await api.ctx.db.selectFrom('mail_messages').select('id').where('contract_id', '=', c.contract.id).execute()).toEqual([]);
    expect((await c.send({ subject: 'x', bodyText: 'y' })).statusCode).toBe(201);
  });
});
