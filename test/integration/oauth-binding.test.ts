import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeRedirectPath } from '../../src/domain/mailbox.ts';
import type { Database } from '../../src/store/database.ts';
import { outcomeFromQuery } from '../../src/web/rules.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { connectMailbox, consentAt } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestSimulators, type TestSimulators } from '../helpers/simulators.ts';

/**
 * SPEC and SECURITY.md "consent link ↔ someone else's browser": the OAuth flow is finished only by
 * the session (or integration caller) that started it; foreign, personal and already-connected mailboxes are
 * refused; the callback sends the browser only to a path of the product, with no free text.
 */
const PASSWORD = 'correct horse battery';

const cases = backends.flatMap((backend) => (['google', 'microsoft'] as const).map((provider) => ({ backend, provider })));

describe.each(cases)('OAuth binding with $provider on $backend.name', ({ backend, provider }) => {
  let database: Database;
  let api: TestApi;
  let sim: TestSimulators;
  let n = 0;

  beforeAll(async () => {
    sim = await startTestSimulators();
    database = await backend.open();
    api = await startTestApi(database, { simulatorUrl: sim.url });
  });
  afterAll(async () => {
    await api.close();
    await database.close();
    await sim.close();
  });

  async function company() {
    const domain = `bind${++n}-${provider}.test`;
    const c = await createCompany(api, `Bind ${n}`, domain);
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: `rita@${domain}` });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: `admin@${domain}` });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view', calendarEnabled: true });
    return { ...c, domain, address: `rita@${domain}` };
  }
  type Company = Awaited<ReturnType<typeof company>>;

  /** A browser session: its cookie and CSRF token, as the web UI holds them. */
  async function signIn(email: string) {
    const res = await api.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email, password: PASSWORD } });
    expect(res.statusCode, res.body).toBe(200);
    const cookie = res.cookies.find((k) => k.name === 'rs_session')!;
    return { cookie: `rs_session=${cookie.value}`, csrf: res.json().csrfToken as string };
  }
  const startInSession = async (c: Company, session: { cookie: string; csrf: string }, redirectAfter = '/settings/email') => {
    const res = await api.app.inject({
      method: 'POST',
      url: `/api/v1/seats/${c.seat.id}/authorizations`,
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrf },
      payload: { kind: 'email', redirectAfter },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().authorizationUrl as string;
  };
  const callback = (path: string, cookie?: string) => api.app.inject({ method: 'GET', url: path, ...(cookie ? { headers: { cookie } } : {}) });
  const query = (location: string) => new URL(location, 'http://product.invalid').searchParams;
  const mailbox = async (c: Company) => (await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id })).json();
  const revoked = async () => JSON.stringify(await sim.control('GET', '/_sim/revocations'));

  it("a consent link started in A's session and opened in B's session (or none) connects nothing", async () => {
    const c = await company();
    const rita = await signIn(c.address);
    const ada = await signIn(`admin@${c.domain}`);

    // Rita forwards her consent link; Ada (signed in to the product herself) consents with her own mailbox.
    const forwarded = await consentAt(api, await startInSession(c, rita), `admin@${c.domain}`);
    const inAdasBrowser = await callback(forwarded, ada.cookie);
    expect(inAdasBrowser.statusCode).toBe(303);
    const params = query(inAdasBrowser.headers.location as string);
    expect([params.get('authorization'), params.get('code')]).toEqual(['failed', 'session_mismatch']);
    expect(params.get('message')).toBeNull();
    expect(outcomeFromQuery(`?${params}`)?.text).toMatch(/started by someone else/);

    // Nobody signed in at all: the same refusal.
    const noSession = await callback(await consentAt(api, await startInSession(c, rita), `admin@${c.domain}`));
    expect(query(noSession.headers.location as string).get('code')).toBe('session_mismatch');

    // Nothing attached to Rita's seat, and the refused state cannot be retried in Rita's browser either.
    expect((await mailbox(c)).email.state).toBe('not_authorized');
    expect(await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('contract_id', '=', c.contract.id).execute()).toEqual([]);
    expect((await callback(forwarded, rita.cookie)).statusCode).toBe(400);

    // In Rita's own session the same flow connects her mailbox.
    const own = await callback(await consentAt(api, await startInSession(c, rita), c.address), rita.cookie);
    expect(own.headers.location).toBe('/settings/email?authorization=connected&kind=email');
    expect((await mailbox(c)).email).toMatchObject({ state: 'authorized', address: c.address });
  });

  it('a flow started by an integration is finished only by the same token acting as the same user', async () => {
    const c = await company();
    const start = await api.call('POST', `/api/v1/seats/${c.seat.id}/authorizations`, { token: c.contractToken, actAs: c.recruiter.id, body: { kind: 'email', redirectAfter: '/settings/email' } });
    const answer = await callback(await consentAt(api, start.json().authorizationUrl, c.address));
    // The browser brings back no bearer token: the callback parks the code and connects nothing by itself.
    expect(answer.statusCode).toBe(303);
    const params = query(answer.headers.location as string);
    expect(params.get('authorization')).toBe('pending');
    const flow = params.get('flow')!;
    expect(flow.length).toBeGreaterThanOrEqual(40);
    expect((await mailbox(c)).email.state).toBe('not_authorized');

    const complete = (token: string, actAs: string | undefined, body: object = { flow }) =>
      api.call('POST', `/api/v1/seats/${c.seat.id}/authorizations/complete`, { token, ...(actAs ? { actAs } : {}), body });
    const otherToken = (await c.json('POST', `/api/v1/contracts/${c.contract.id}/tokens`)).token as string;
    // Another user, another token of the same contract, the system token, the token acting as itself: refused.
    for (const [token, actAs] of [[c.contractToken, c.admin.id], [otherToken, c.recruiter.id], [api.systemToken, c.recruiter.id], [c.contractToken, undefined]] as const) {
      const res = await complete(token, actAs);
      expect(res.statusCode, `${res.body}`).toBe(403);
      expect(res.json().error.message).toMatch(/started by someone else/);
    }
    // A browser session of the same user cannot finish it either.
    const rita = await signIn(c.address);
    const bySession = await api.app.inject({
      method: 'POST', url: `/api/v1/seats/${c.seat.id}/authorizations/complete`, headers: { cookie: rita.cookie, 'x-csrf-token': rita.csrf }, payload: { flow },
    });
    expect(bySession.statusCode).toBe(403);
    expect((await complete(c.contractToken, c.recruiter.id, { flow: 'not-the-flow' })).statusCode).toBe(404);
    expect((await mailbox(c)).email.state).toBe('not_authorized');

    const done = await complete(c.contractToken, c.recruiter.id);
    expect([done.statusCode, done.json()]).toEqual([200, { authorization: 'connected', kind: 'email', code: null, message: null }]);
    expect((await mailbox(c)).email).toMatchObject({ state: 'authorized', address: c.address });
    // Single use.
    expect((await complete(c.contractToken, c.recruiter.id)).json()).toMatchObject({ authorization: 'failed', code: 'state_reused' });
    // The parked code is gone once used.
    const row = await api.ctx.db.selectFrom('oauth_states').selectAll().where('seat_id', '=', c.seat.id).where('completed_at', 'is not', null).executeTakeFirstOrThrow();
    expect(row.code_ciphertext).toBeNull();
  });

  it('R-14: a mailbox outside the company domains is refused by default (tokens revoked), allowed with a warning when the admin allows it', async () => {
    const c = await company();
    const outside = `rita${n}@elsewhere-${provider}.test`;
    await sim.control('POST', '/_sim/mailboxes', { provider, address: outside });
    expect((await c.json('GET', `/api/v1/contracts/${c.contract.id}/settings`)).allowExternalMailboxes).toBe(false);

    const refused = await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: outside });
    expect(refused.outcome).toMatchObject({ authorization: 'failed', code: 'outside_company_domains' });
    expect(refused.outcome?.message).toMatch(/company mailbox/);
    expect(refused.outcome?.message).not.toMatch(/R-\d/);
    expect((await mailbox(c)).email.state).toBe('not_authorized');
    // Google revokes the tokens it just gave (Microsoft has no revocation endpoint).
    if (provider === 'google') expect(await revoked()).toContain(outside);

    const saved = await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { allowExternalMailboxes: true });
    expect(saved.allowExternalMailboxes).toBe(true);
    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=20`);
    expect(audit.entries.find((e: { action: string }) => e.action === 'settings.changed')).toMatchObject({ details: { changes: { allowExternalMailboxes: { from: false, to: true } } } });

    const allowed = await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: outside });
    expect(allowed.outcome?.authorization).toBe('connected');
    expect((await mailbox(c)).email.warnings).toEqual([expect.objectContaining({ code: 'outside_company_domains', rule: 'R-14' })]);
  });

  it('R-14: a mailbox already connected to another seat is refused, in the same company and in another', async () => {
    const c = await company();
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
    const sam = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: `sam@${c.domain}`, name: 'Sam', role: 'recruiter' });
    const samSeat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: sam.id });
    const same = await connectMailbox(api, { seatId: samSeat.id, userId: sam.id, token: c.contractToken, kind: 'email', address: c.address.toUpperCase() });
    expect(same.outcome).toMatchObject({ authorization: 'failed', code: 'mailbox_already_connected' });
    const calendar = await connectMailbox(api, { seatId: samSeat.id, userId: sam.id, token: c.contractToken, kind: 'calendar', address: c.address });
    expect(calendar.outcome?.code).toBe('mailbox_already_connected');
    expect(await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('seat_id', '=', samSeat.id).execute()).toEqual([]);

    // Another company, even one that allows outside mailboxes, cannot take it either.
    const other = await company();
    await other.json('PUT', `/api/v1/contracts/${other.contract.id}/settings`, { allowExternalMailboxes: true });
    const elsewhere = await connectMailbox(api, { seatId: other.seat.id, userId: other.recruiter.id, token: other.contractToken, kind: 'email', address: c.address });
    expect(elsewhere.outcome?.code).toBe('mailbox_already_connected');
    expect((await mailbox(other)).email.state).toBe('not_authorized');

    // Once disconnected from the first seat it can be connected elsewhere; its own seat reconnects freely.
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'calendar', address: c.address });
    expect((await mailbox(c)).calendar.state).toBe('authorized');
    await api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    await api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/calendar`, { token: c.contractToken, actAs: c.recruiter.id });
    expect((await connectMailbox(api, { seatId: samSeat.id, userId: sam.id, token: c.contractToken, kind: 'email', address: c.address })).outcome?.authorization).toBe('connected');
  });

  it('R-10: redirect targets other than a plain path of the product are refused with 400, before anything is stored', async () => {
    const c = await company();
    const states = async () => (await api.ctx.db.selectFrom('oauth_states').select('id').where('seat_id', '=', c.seat.id).execute()).length;
    const before = await states();
    for (const redirectAfter of ['/\t/evil.example/', '//evil.example', '/\\evil.example', '\\\\evil.example', '/ok\r\nSet-Cookie: a=b', '/ok\nx', 'https://evil.example/', 'javascript:alert(1)', '/caf\u0101', '/\u202e', '/ok\u0000', 'settings/email']) {
      const res = await api.call('POST', `/api/v1/seats/${c.seat.id}/authorizations`, { token: c.contractToken, actAs: c.recruiter.id, body: { kind: 'email', redirectAfter } });
      expect([res.statusCode, res.json().error.code], JSON.stringify(redirectAfter)).toEqual([400, 'validation_failed']);
      expect(res.json().error.message).toMatch(/redirectAfter/);
    }
    expect(await states()).toBe(before);
    // A Latin-1 path and a query are fine.
    const ok = await api.call('POST', `/api/v1/seats/${c.seat.id}/authorizations`, { token: c.contractToken, actAs: c.recruiter.id, body: { kind: 'email', redirectAfter: '/settings/email?tab=caf\u00e9' } });
    expect(ok.statusCode).toBe(201);
  });

  it('R-10: a stored redirect target that is not a plain path is neutralised at the callback; no free text travels in it', async () => {
    const c = await company();
    const rita = await signIn(c.address);
    const authorizationUrl = await startInSession(c, rita);
    // As if stored before the check existed.
    await api.ctx.db.updateTable('oauth_states').set({ redirect_after: '/\t/evil.example/' }).where('seat_id', '=', c.seat.id).where('used_at', 'is', null).execute();
    const state = new URL(authorizationUrl).searchParams.get('state')!;
    const declined = await callback(`/oauth/${provider}/callback?state=${encodeURIComponent(state)}&error=access_denied&error_description=${encodeURIComponent('Call 555-0100 to restore access')}`, rita.cookie);
    expect(declined.statusCode).toBe(303);
    const location = declined.headers.location as string;
    expect(location.startsWith('/?')).toBe(true);
    expect(location).not.toMatch(/evil|555|message=/);
    expect(Object.fromEntries(query(location))).toEqual({ authorization: 'failed', kind: 'email', code: 'consent_denied' });
  });

  it('safeRedirectPath accepts only same-origin relative paths', () => {
    expect(safeRedirectPath('/settings/email')).toBe('/settings/email');
    expect(safeRedirectPath('/a/../settings?x=1#top')).toBe('/settings?x=1#top');
    expect(safeRedirectPath('/caf\u00e9')).toBe('/caf%C3%A9');
    // An escaped line break stays escaped: harmless in a Location header.
    expect(safeRedirectPath('/%0a')).toBe('/%0a');
    for (const bad of ['/\t/evil.example/', '//evil', '/\\evil', '/.//evil', 'http://x/', '', 'x', '/\u0085', '/\u00ff\u0100', '/\u007f']) {
      expect(safeRedirectPath(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});
