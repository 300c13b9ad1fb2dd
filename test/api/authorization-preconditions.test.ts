import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { Database } from '../../src/store/database.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany } from '../helpers/fixtures.ts';

describe.each(backends)('starting a seat authorization on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let c: Awaited<ReturnType<typeof createCompany>>;
  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
    c = await createCompany(api);
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  const start = (kind: 'email' | 'calendar', actAs = c.recruiter.id) =>
    api.call('POST', `/api/v1/seats/${c.seat.id}/authorizations`, { token: c.contractToken, actAs, body: { kind, redirectAfter: '/settings/email' } });
  const settings = (body: object) => c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, body);

  it('R-01: refuses before a provider is chosen, naming the missing setting', async () => {
    await settings({ emailAccess: 'view' });
    const res = await start('email');
    expect([res.statusCode, res.json().error.code]).toEqual([409, 'provider_not_selected']);
    expect(res.json().error.message).toMatch(/email provider/);
  });

  it('R-02: refuses email while access is off; R-05: refuses calendar while it is off', async () => {
    await settings({ emailProvider: 'google', emailAccess: 'off', calendarEnabled: false });
    expect((await start('email')).json().error.code).toBe('email_disabled');
    expect((await start('calendar')).json().error.code).toBe('calendar_disabled');
  });

  it('R-10: only the seat holder starts it; the URL carries PKCE S256, a fresh state and least-privilege scopes', async () => {
    await settings({ emailProvider: 'google', emailAccess: 'view', calendarEnabled: true });
    expect((await start('email', c.admin.id)).statusCode).toBe(403);
    const res = await start('email');
    expect(res.statusCode).toBe(201);
    const url = new URL(res.json().authorizationUrl);
    expect(url.pathname).toBe('/google/o/oauth2/v2/auth');
    const p = url.searchParams;
    expect(p.get('client_id')).toBe('recruiter-sync-local');
    expect(p.get('response_type')).toBe('code');
    expect(p.get('code_challenge_method')).toBe('S256');
    expect(p.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get('access_type')).toBe('offline');
    expect(p.get('redirect_uri')).toBe(`${api.publicUrl}/oauth/google/callback`);
    expect(p.get('scope')?.split(' ')).toEqual(['openid', 'email', 'https://www.googleapis.com/auth/gmail.readonly']);
    // The state is stored only as a hash, the PKCE verifier only encrypted.
    const row = await api.ctx.db.selectFrom('oauth_states').selectAll().orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    expect(row.state_hash).toBe(createHash('sha256').update(p.get('state')!).digest('base64url'));
    expect(row.code_verifier_ciphertext).toMatch(/^v1\./);
    const second = new URL((await start('email')).json().authorizationUrl).searchParams;
    expect(second.get('state')).not.toBe(p.get('state'));

    await settings({ emailAccess: 'send_and_view' });
    const send = new URL((await start('email')).json().authorizationUrl).searchParams.get('scope')?.split(' ');
    expect(send).toContain('https://www.googleapis.com/auth/gmail.send');
    const calendar = new URL((await start('calendar')).json().authorizationUrl).searchParams.get('scope')?.split(' ');
    expect(calendar).toEqual(['openid', 'email', 'https://www.googleapis.com/auth/calendar.events']);
  });

  it('R-10 on Microsoft: offline_access and Graph scopes, no redirect outside our own UI', async () => {
    await settings({ emailProvider: 'microsoft', emailAccess: 'send_and_view' });
    const evil = await api.call('POST', `/api/v1/seats/${c.seat.id}/authorizations`, { token: c.contractToken, actAs: c.recruiter.id, body: { kind: 'email', redirectAfter: 'https://evil.example/steal' } });
    expect([evil.statusCode, evil.json().error.code]).toEqual([400, 'validation_failed']);
    const res = await start('email');
    const url = new URL(res.json().authorizationUrl);
    expect(url.pathname).toBe('/microsoft/common/oauth2/v2.0/authorize');
    expect(url.searchParams.get('scope')?.split(' ')).toEqual(['openid', 'email', 'offline_access', 'User.Read', 'Mail.Read', 'Mail.Send']);
    const row = await api.ctx.db.selectFrom('oauth_states').select('redirect_after').orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    expect(row.redirect_after).toBe('/settings/email');
  });

  it('the callback rejects a missing or unknown state in plain words', async () => {
    const none = await api.app.inject({ method: 'GET', url: '/oauth/google/callback?code=abc' });
    expect(none.statusCode).toBe(400);
    expect(none.body).toContain('incomplete');
    const unknown = await api.app.inject({ method: 'GET', url: '/oauth/google/callback?code=abc&state=forged' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('not valid');
  });

  it('R-14 and the mailbox view: not authorized yet, holder and admins may look', async () => {
    const view = await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(view.json()).toMatchObject({ email: { state: 'not_authorized', address: null, warnings: [], sync: { phase: 'idle' } }, calendar: { state: 'not_authorized' } });
    const other = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: 'nosy@acme.test', name: 'Nosy', role: 'recruiter' });
    expect((await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: other.id })).statusCode).toBe(403);
    expect((await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.admin.id })).statusCode).toBe(200);
  });
});
