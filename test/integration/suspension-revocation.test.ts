import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestProduct, type TestProduct } from '../helpers/product.ts';
import type { TestSimulators } from '../helpers/simulators.ts';

describe.each(['google', 'microsoft'] as const)('suspension revokes at the provider (R-70) with %s', (provider) => {
  let product: TestProduct;
  let api: TestApi;
  let sim: TestSimulators;
  beforeAll(async () => {
    product = await startTestProduct();
    ({ api, sim } = product);
  });
  afterAll(() => product.close());

  it('revokes every grant it can before deleting the tokens, and says so in the receipt', async () => {
    const domain = `suspend-${provider}.test`;
    const c = await createCompany(api, 'Suspend Co', domain);
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: `rita@${domain}` });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view', calendarEnabled: true });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: `rita@${domain}` });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'calendar', address: `rita@${domain}` });
    // Suspension is the host system's: the system token, not the contract's.
    const res = await api.call('PATCH', `/api/v1/contracts/${c.contract.id}`, { body: { status: 'suspended' } });
    expect(res.statusCode, res.body).toBe(200);
    const receipt = res.json().deletionReceipt;
    expect(receipt.counts.authorizations).toBe(2);
    expect(receipt.revocations).toEqual(provider === 'google' ? { revoked: 2, unsupported: 0, failed: 0 } : { revoked: 0, unsupported: 2, failed: 0 });
    if (provider === 'google') expect(JSON.stringify(await sim.control('GET', '/_sim/revocations'))).toContain(`rita@${domain}`);
    expect(await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('contract_id', '=', c.contract.id).execute()).toEqual([]);
    // Reactivation starts from nothing: the seat authorizes again.
    await c.json('PATCH', `/api/v1/contracts/${c.contract.id}`, { status: 'active' });
    const mailbox = (await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id })).json();
    expect(mailbox.email.state).toBe('not_authorized');
  });
});
