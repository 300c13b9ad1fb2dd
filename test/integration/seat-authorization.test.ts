import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenFor, processTokenRevocations } from '../../src/services/access-tokens.ts';
import type { MailboxDeps } from '../../src/services/mailbox-authorization.ts';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { outcomeFromQuery } from '../../src/web/rules.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';

type Company = Awaited<ReturnType<typeof createCompany>>;

describe.each(['google', 'microsoft'] as const)('seat authorization with %s', (provider) => {
  let database: Database;
  let api: TestApi;
  let sim: TestSimulators;
  let deps: MailboxDeps;
  let n = 0;

  beforeAll(async () => {
    sim = await startTestSimulators();
    database = await backends[0]!.open();
    api = await startTestApi(database, { simulatorUrl: sim.url });
    deps = { ...api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl };
  });
  afterAll(async () => {
    await api.close();
    await database.close();
    await sim.close();
  });

  /** A company on its own domain with the provider chosen, its tenant and mailboxes at the simulator. */
  async function company(level: 'view' | 'send_and_view', options: { grantedScopes?: string[] } = {}) {
    const domain = `co${++n}-${provider}.test`;
    const c = await createCompany(api, `Co ${n}`, domain);
    await sim.control('POST', '/_sim/tenants', { provider, domain, ...(options.grantedScopes ? { grantedScopes: options.grantedScopes } : {}) });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: `rita@${domain}` });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: level, calendarEnabled: true });
    return { ...c, domain, address: `rita@${domain}` };
  }
  const connect = (c: Company & { address: string }, kind: 'email' | 'calendar' = 'email') =>
    connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind, address: c.address });
  const mailbox = async (c: Company) => (await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id })).json();
  const grantRow = (c: Company, kind = 'email') =>
    api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('seat_id', '=', c.seat.id).where('kind', '=', kind as 'email').executeTakeFirstOrThrow();

  it('R-10/R-11: completes the round trip and stores the tokens encrypted', async () => {
    const c = await company('view');
    const { location } = await connect(c);
    expect(location).toBe('/settings/email?authorization=connected&kind=email');
    const view = await mailbox(c);
    expect(view.email).toMatchObject({ state: 'authorized', provider, address: c.address, canSend: false, warnings: [] });
    expect(view.email.firstAuthorizedAt).toBe(view.email.lastAuthorizedAt);
    const row = await grantRow(c);
    const access = api.cipher.open(row.access_token_ciphertext!, `${row.id}:access`);
    const refresh = api.cipher.open(row.refresh_token_ciphertext!, `${row.id}:refresh`);
    const raw = JSON.stringify(await database.raw.query('SELECT * FROM mailbox_authorizations WHERE id = $1', [row.id]));
    expect(access.length).toBeGreaterThan(10);
    expect(raw).not.toContain(access);
    expect(raw).not.toContain(refresh);
    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=20`);
    const granted = audit.entries.find((e: { action: string }) => e.action === 'authorization.granted');
    expect(granted).toMatchObject({ targetId: c.seat.id, details: { kind: 'email', provider } });
    // The audit log outlives a suspension, so it keeps no mailbox address: the seat id is enough.
    expect(JSON.stringify(audit.entries)).not.toContain(c.address);
  });

  it('R-10: a state is single-use — replaying the callback is rejected', async () => {
    const c = await company('view');
    const { callbackPath } = await connect(c);
    const replay = await api.app.inject({ method: 'GET', url: callbackPath });
    expect(replay.statusCode).toBe(400);
    expect(replay.body).toContain('already used');
  });

  it('R-11: refreshes ahead of expiry, and the new token works at the provider', async () => {
    const c = await company('view');
    await connect(c);
    const before = await grantRow(c);
    const first = await accessTokenFor(deps, before.id);
    expect(first).toBe(api.cipher.open(before.access_token_ciphertext!, `${before.id}:access`));
    api.clock.set(new Date(api.clock.now().getTime() + 56 * 60_000));
    const second = await accessTokenFor(deps, before.id);
    expect(second).not.toBe(first);
    const after = await grantRow(c);
    expect(after.access_token_expires_at!.getTime()).toBeGreaterThan(api.clock.now().getTime() + 30 * 60_000);
    const probe = provider === 'google' ? `${sim.url}/google/gmail/v1/users/me/profile` : `${sim.url}/microsoft/v1.0/me`;
    expect((await fetch(probe, { headers: { authorization: `Bearer ${second}` } })).status).toBe(200);
  });

  it('R-11: many concurrent requests for an expiring token cause one refresh', async () => {
    const c = await company('view');
    await connect(c);
    const row = await grantRow(c);
    api.clock.set(new Date(api.clock.now().getTime() + 58 * 60_000));
    const tokens = await Promise.all(Array.from({ length: 6 }, () => accessTokenFor(deps, row.id)));
    expect(new Set(tokens).size).toBe(1);
  });

  it('R-12: a refused refresh marks the seat needs_reauthorization with the reason, keeping its history', async () => {
    const c = await company('view');
    await connect(c);
    const row = await grantRow(c);
    await sim.control('POST', '/_sim/faults', { provider, match: { method: 'POST', path: 'token' }, fault: 'invalid_grant', count: 1 });
    api.clock.set(new Date(api.clock.now().getTime() + 2 * 60 * 60_000));
    await expect(accessTokenFor(deps, row.id)).rejects.toMatchObject({ code: 'needs_reauthorization' });
    const view = await mailbox(c);
    expect(view.email.state).toBe('needs_reauthorization');
    expect(view.email.reason).toMatch(/refused/);
    expect(view.email.address).toBe(c.address);
    await expect(accessTokenFor(deps, row.id)).rejects.toMatchObject({ code: 'needs_reauthorization' });
    // Reconnecting fixes it.
    await connect(c);
    expect((await mailbox(c)).email.state).toBe('authorized');
  });

  it('R-22: disconnecting deletes the tokens and revokes the grant where the provider can', async () => {
    const c = await company('view');
    await connect(c);
    const res = await api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(res.json()).toMatchObject({ state: 'deauthorized', reason: 'user_request' });
    const row = await grantRow(c);
    expect([row.access_token_ciphertext, row.refresh_token_ciphertext]).toEqual([null, null]);
    await processTokenRevocations(deps);
    const revocations = await sim.control('GET', '/_sim/revocations');
    const mine = JSON.stringify(revocations).includes(c.address);
    expect(mine).toBe(provider === 'google');
    expect(await api.ctx.db.selectFrom('token_revocations').selectAll().where('contract_id', '=', c.contract.id).execute()).toEqual([]);
  });

  it('R-03: a downgrade deauthorizes every connected seat through the same path', async () => {
    const c = await company('send_and_view');
    const second = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `sam@${c.domain}`, name: 'Sam', role: 'recruiter' });
    const secondSeat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: second.id });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: `sam@${c.domain}` });
    await connect(c);
    await connectMailbox(api, { seatId: secondSeat.id, userId: second.id, token: c.contractToken, kind: 'email', address: `sam@${c.domain}` });
    const result = await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'view' });
    expect(result.deauthorizedSeats).toBe(2);
    await processTokenRevocations(deps);
    if (provider === 'google') {
      const revoked = JSON.stringify(await sim.control('GET', '/_sim/revocations'));
      expect(revoked).toContain(c.address);
      expect(revoked).toContain(`sam@${c.domain}`);
    }
  });

  it('R-03: after an upgrade the grant lacks send until the seat re-consents', async () => {
    const c = await company('view');
    await connect(c);
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailAccess: 'send_and_view' });
    expect((await mailbox(c)).email).toMatchObject({ state: 'authorized', canSend: false });
    const start = await api.call('POST', `/api/v1/seats/${c.seat.id}/authorizations`, { token: c.contractToken, actAs: c.recruiter.id, body: { kind: 'email' } });
    expect(new URL(start.json().authorizationUrl).searchParams.get('prompt')).toBe('consent');
    await connect(c);
    const view = (await mailbox(c)).email;
    expect(view.canSend).toBe(true);
    expect(view.firstAuthorizedAt).not.toBe(view.lastAuthorizedAt);
  });

  it('R-13: an IT admin who withheld the send permission gets a message naming it', async () => {
    const readOnly = provider === 'google'
      ? ['openid', 'email', 'https://www.googleapis.com/auth/gmail.readonly']
      : ['openid', 'email', 'offline_access', 'User.Read', 'Mail.Read'];
    const c = await company('send_and_view', { grantedScopes: readOnly });
    const { location } = await connect(c);
    const params = new URL(location, 'http://x').searchParams;
    expect(params.get('authorization')).toBe('failed');
    expect(params.get('code')).toBe('permission_missing');
    // The redirect names the permission by a fixed key; the page words it (no free text travels in the URL).
    expect(params.get('missing')).toBe('send_email');
    expect(params.get('message')).toBeNull();
    const words = outcomeFromQuery(new URL(location, 'http://x').search)?.text;
    expect(words).toMatch(/send email/);
    expect(words).toMatch(/IT admin/);
    expect(words).toMatch(provider === 'google' ? /Google Workspace admin console/ : /Microsoft Entra admin center/);
    expect((await mailbox(c)).email.state).toBe('not_authorized');
  });

  it('R-06: a provider change ends the grants; the seat connects again at the new provider', async () => {
    const c = await company('view');
    await connect(c);
    const other = provider === 'google' ? 'microsoft' : 'google';
    const result = await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: other });
    expect(result.deauthorizedSeats).toBe(1);
    expect((await mailbox(c)).email).toMatchObject({ state: 'deauthorized', reason: 'provider_change' });
    await sim.control('POST', '/_sim/tenants', { provider: other, domain: c.domain });
    // The simulators hold one mailbox per address, so the migrated mailbox gets an address of its own.
    const migrated = `rita.migrated@${c.domain}`;
    await sim.control('POST', '/_sim/mailboxes', { provider: other, address: migrated });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: migrated });
    expect((await mailbox(c)).email).toMatchObject({ state: 'authorized', provider: other, address: migrated });
  });

  it('R-05/R-15: the calendar is a separate grant with calendar scopes only', async () => {
    const c = await company('view');
    await connect(c, 'calendar');
    const view = await mailbox(c);
    expect(view.calendar.state).toBe('authorized');
    expect(view.email.state).toBe('not_authorized');
    expect(view.calendar.scopes.join(' ')).toMatch(provider === 'google' ? /calendar/ : /Calendars\.ReadWrite/);
  });

  it('R-14: a personal mailbox is refused by default, and allowed with a warning once the admin allows it', async () => {
    const c = await company('view');
    const personal = `rita.private${n}@gmail.com`;
    await sim.control('POST', '/_sim/mailboxes', { provider, address: personal });
    const refused = await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: personal });
    expect(refused.outcome).toMatchObject({ authorization: 'failed', code: 'personal_mailbox' });
    expect(refused.outcome?.message).toMatch(/company mailbox/);
    expect((await mailbox(c)).email.state).toBe('not_authorized');
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { allowExternalMailboxes: true });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: personal });
    const view = await mailbox(c);
    expect(view.email).toMatchObject({ state: 'authorized', address: personal });
    expect(view.email.warnings).toEqual([expect.objectContaining({ code: 'personal_mailbox', rule: 'R-14' })]);
  });
});
