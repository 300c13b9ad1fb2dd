import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestProduct, type TestProduct } from '../helpers/product.ts';
import type { TestSimulators } from '../helpers/simulators.ts';

describe.each(['google', 'microsoft'] as const)('sync through the API with %s', (provider) => {
  let product: TestProduct;
  let api: TestApi;
  let sim: TestSimulators;
  beforeAll(async () => {
    product = await startTestProduct({ jobs: true });
    ({ api, sim } = product);
  });
  afterAll(() => product.close());

  it('connecting a mailbox starts its sync (R-20): the callback enqueues the historical sync; the drain ingests only the candidate mail; progress and health show it', async () => {
    const domain = `flow-${provider}.test`;
    const c = await createCompany(api, 'Flow Co', domain);
    const address = `rita@${domain}`;
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address });
    const recent = new Date(api.clock.now().getTime() - 3 * 86_400_000).toISOString();
    await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(address)}/messages`, { from: 'Carla <carla@mail.example>', to: address, subject: 'Interested in the role', text: 'Hello Rita', date: recent });
    await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(address)}/messages`, { from: `Sam <sam@${domain}>`, to: address, subject: 'Lunch?', text: 'Internal', date: recent });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
    const drained = await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' });
    expect(drained.json().ran).toBeGreaterThanOrEqual(1);

    const threads = (await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, { token: c.contractToken, actAs: c.recruiter.id })).json();
    expect(threads.flatMap((t: { messages: Array<{ subject: string }> }) => t.messages.map((m) => m.subject))).toEqual(['Interested in the role']);
    const mailbox = (await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id })).json();
    expect(mailbox.email.sync).toMatchObject({ phase: 'incremental', messagesIngested: 1, progress: 1, lastError: null });
    expect(mailbox.email.sync.lastSyncedAt).not.toBeNull();
    const health = await c.json('GET', `/api/v1/contracts/${c.contract.id}/sync-health`);
    expect(health.find((h: { seatId: string }) => h.seatId === c.seat.id).sync).toMatchObject({ phase: 'incremental', messagesIngested: 1 });
    const decisions = await api.call('GET', `/api/v1/seats/${c.seat.id}/sync/decisions?address=carla@mail.example`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(decisions.json()).toEqual([expect.objectContaining({ ingested: true, rule: null })]);
    // the colleague's mail is explained as internal, whether the scan examined it (Graph lists the
    // window) or never asked for it (Gmail is searched by candidate addresses): then the address itself is judged.
    const internal = await api.call('GET', `/api/v1/seats/${c.seat.id}/sync/decisions?address=sam@${domain}`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(internal.json().map((d: { rule: string }) => d.rule)).toEqual(['R-31']);
    const stranger = await api.call('GET', `/api/v1/seats/${c.seat.id}/sync/decisions?address=nobody@elsewhere.example`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(stranger.json()).toEqual([expect.objectContaining({ providerMessageId: null, ingested: false, rule: 'R-33', detail: expect.objectContaining({ addressOnly: true }) })]);
  });

  it('a message sent from the product, seen again by sync (R-50, R-26), is stored once: the incremental sync matches it by Message-ID and fills in the provider ids', async () => {
    const domain = `dedupe-${provider}.test`;
    const c = await createCompany(api, 'Dedupe Co', domain);
    const address = `rita@${domain}`;
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'send_and_view' });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
    await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' });

    const sent = await api.call('POST', `/api/v1/candidates/${c.candidate.id}/emails`, { token: c.contractToken, actAs: c.recruiter.id, body: { subject: 'Next steps', bodyText: 'Shall we talk on Monday?' } });
    expect(sent.statusCode, sent.body).toBe(201);
    // The poll runs once the product clock passes its interval.
    api.clock.set(new Date(api.clock.now().getTime() + 2 * 60_000));
    await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' });

    const rows = await api.ctx.db.selectFrom('mail_messages').select(['id', 'provider_message_id', 'origin']).where('contract_id', '=', c.contract.id).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: sent.json().id, origin: 'sent_from_product' });
    expect(rows[0]!.provider_message_id.startsWith('sent:')).toBe(false);
    const threads = (await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, { token: c.contractToken, actAs: c.recruiter.id })).json();
    expect(threads).toHaveLength(1);
  });
});
