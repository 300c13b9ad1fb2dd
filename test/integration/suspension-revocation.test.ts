import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';

describe.each(['google', 'microsoft'] as const)('suspension revokes at the provider (R-70) with %s', (provider) => {
  let database: Database;
  let api: TestApi;
  let sim: TestSimulators;
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

  it('revokes every grant it can before deleting the tokens, and says so in the receipt', async () => {
    const domain = `suspend-${provider}.test`;
    const c = await createCompany(api, 'Suspend Co', domain);
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: `rita@${domain}` });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view', calendarEnabled: true });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: `rita@${domain}` });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'calendar', address: `rita@${domain}` });
    const res = await api.call('PATCH', `/api/v1/contracts/${c.contract.id}`, { token: c.contractToken, body: { status: 'suspended' } });
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
