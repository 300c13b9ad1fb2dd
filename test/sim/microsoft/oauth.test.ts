import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REDIRECT, SCOPES, authorizeCode, form, graph, mailbox, makeSim, pkce, setClock, signIn, T0, type Sim } from './harness.ts';

let sim: Sim;
beforeEach(async () => {
  sim = await makeSim();
  await mailbox(sim, 'rita@contoso.com', { aliases: ['recruiting@contoso.com'], password: 'pw' });
});
afterEach(() => sim.close());

const tokenUrl = '/microsoft/common/oauth2/v2.0/token';
const client = { client_id: 'recruiter-sync-local', client_secret: 'local-secret' };

describe('identity platform v2', () => {
  it('says it is the local simulator, and asks for no password when the mailbox has none', async () => {
    await mailbox(sim, 'nopass@contoso.com');
    const { challenge } = pkce();
    const query = (hint: string) => new URLSearchParams({ client_id: 'recruiter-sync-local', response_type: 'code', redirect_uri: REDIRECT, scope: SCOPES.join(' '), state: 'abc', code_challenge: challenge, code_challenge_method: 'S256', login_hint: hint });
    const page = await sim.app.inject({ method: 'GET', url: `/microsoft/organizations/oauth2/v2.0/authorize?${query('nopass@contoso.com')}` });
    expect(page.body).toContain('Local simulator — not Microsoft.');
    expect(page.body).not.toContain('type="password"');
    const withPassword = await sim.app.inject({ method: 'GET', url: `/microsoft/organizations/oauth2/v2.0/authorize?${query('rita@contoso.com')}` });
    expect(withPassword.body).toContain('type="password"');
  });

  it('serves a sign-in and consent page listing the scopes, and signs in with the password', async () => {
    const { challenge } = pkce();
    const q = new URLSearchParams({ client_id: 'recruiter-sync-local', response_type: 'code', redirect_uri: REDIRECT, scope: SCOPES.join(' '), state: 'abc', code_challenge: challenge, code_challenge_method: 'S256', login_hint: 'rita@contoso.com' });
    const page = await sim.app.inject({ method: 'GET', url: `/microsoft/organizations/oauth2/v2.0/authorize?${q}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    for (const s of ['Mail.Read', 'Mail.Send', 'Calendars.ReadWrite']) expect(page.body).toContain(`<li>${s}</li>`);
    const fields = Object.fromEntries([...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&')]));
    const wrong = await sim.app.inject({ method: 'POST', url: '/microsoft/organizations/oauth2/v2.0/authorize', ...form({ ...fields, login: 'rita@contoso.com', password: 'nope', decision: 'accept' }) });
    expect(wrong.statusCode).toBe(200);
    expect(wrong.body).toContain('AADSTS50126');
    const ok = await sim.app.inject({ method: 'POST', url: '/microsoft/organizations/oauth2/v2.0/authorize', ...form({ ...fields, login: 'rita@contoso.com', password: 'pw', decision: 'accept' }) });
    expect(ok.statusCode).toBe(302);
    const loc = new URL(String(ok.headers.location));
    expect(loc.origin + loc.pathname).toBe(REDIRECT);
    expect(loc.searchParams.get('state')).toBe('abc');
    expect(loc.searchParams.get('code')).toMatch(/^1\.A/);
    const cancel = await sim.app.inject({ method: 'POST', url: '/microsoft/organizations/oauth2/v2.0/authorize', ...form({ ...fields, decision: 'cancel' }) });
    expect(new URL(String(cancel.headers.location)).searchParams.get('error')).toBe('access_denied');
  });

  it('refuses an unknown client or a foreign redirect URI on the page, without redirecting', async () => {
    const bad = await sim.app.inject({ method: 'GET', url: `/microsoft/common/oauth2/v2.0/authorize?client_id=nobody&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid` });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('AADSTS700016');
    const evil = await sim.app.inject({ method: 'GET', url: `/microsoft/common/oauth2/v2.0/authorize?client_id=recruiter-sync-local&response_type=code&redirect_uri=${encodeURIComponent('https://evil.example/cb')}&scope=openid` });
    expect(evil.statusCode).toBe(400);
    expect(evil.body).toContain('AADSTS50011');
  });

  it('round-trips authorization code + PKCE S256 into tokens usable on Graph; codes are single-use', async () => {
    const { location, verifier } = await authorizeCode(sim, 'rita@contoso.com');
    const code = location.searchParams.get('code')!;
    const wrongVerifier = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: 'x'.repeat(43) }) });
    expect(wrongVerifier.statusCode).toBe(400);
    expect(wrongVerifier.json()).toMatchObject({ error: 'invalid_grant', error_codes: [501481] });
    const res = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }) });
    // A failed redemption does not burn the code at Microsoft either; the right verifier still works.
    expect(res.statusCode).toBe(200);
    const t = res.json();
    expect(t).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(t.scope.split(' ')).toEqual(expect.arrayContaining(['User.Read', 'Mail.Read', 'Mail.Send']));
    expect(t.scope.split(' ')).not.toContain('offline_access');
    expect(t.refresh_token).toBeTruthy();
    expect(t.id_token.split('.')).toHaveLength(3);
    const again = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }) });
    expect(again.json().error_codes).toEqual([54005]);
    const me = await graph(sim, t.access_token).get('/me?$select=mail,userPrincipalName,proxyAddresses');
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ mail: 'rita@contoso.com', userPrincipalName: 'rita@contoso.com', proxyAddresses: ['SMTP:rita@contoso.com', 'smtp:recruiting@contoso.com'] });
  });

  it('writes errors in the AAD JSON shape', async () => {
    const res = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'authorization_code', code: 'nope', redirect_uri: REDIRECT }) });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['error', 'error_description', 'error_codes', 'timestamp', 'trace_id', 'correlation_id']));
    expect(body.error_description).toMatch(/^AADSTS70000: /);
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    const secret = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ client_id: 'recruiter-sync-local', client_secret: 'wrong', grant_type: 'refresh_token', refresh_token: 'x' }) });
    expect(secret.statusCode).toBe(401);
    expect(secret.json()).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
  });

  it('rolls refresh tokens: each redemption returns a new one', async () => {
    const first = await signIn(sim, 'rita@contoso.com');
    const r1 = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'refresh_token', refresh_token: first.refresh_token!, scope: 'User.Read Mail.Read offline_access' }) });
    expect(r1.statusCode).toBe(200);
    const t1 = r1.json();
    expect(t1.refresh_token).toBeTruthy();
    expect(t1.refresh_token).not.toBe(first.refresh_token);
    expect(t1.access_token).not.toBe(first.access_token);
    expect(t1.scope).toBe('User.Read Mail.Read');
    const r2 = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'refresh_token', refresh_token: t1.refresh_token }) });
    expect(r2.json().refresh_token).not.toBe(t1.refresh_token);
  });

  it('gives no refresh token without offline_access', async () => {
    const t = await signIn(sim, 'rita@contoso.com', ['User.Read', 'Mail.Read']);
    expect(t.refresh_token).toBeUndefined();
    expect(t.id_token).toBeUndefined();
  });

  it('expires refresh tokens after 90 days of inactivity with AADSTS700082', async () => {
    const t = await signIn(sim, 'rita@contoso.com');
    await setClock(sim, new Date(T0.getTime() + 91 * 86400_000));
    const res = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'refresh_token', refresh_token: t.refresh_token! }) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_grant', error_codes: [700082] });
    expect(res.json().error_description).toMatch(/^AADSTS700082: The refresh token has expired due to inactivity/);
  });

  it('consent_required (AADSTS65001) when the IT admin has not granted a scope, at the page and at refresh', async () => {
    await sim.app.inject({ method: 'POST', url: '/_sim/tenants', payload: { provider: 'microsoft', domain: 'contoso.com', grantedScopes: ['User.Read', 'Mail.Read'] } });
    const { location } = await authorizeCode(sim, 'rita@contoso.com');
    expect(location.searchParams.get('error')).toBe('consent_required');
    expect(location.searchParams.get('error_description')).toMatch(/^AADSTS65001: .*'Mail\.Send'/);
    expect(location.searchParams.get('state')).toBe('st-1');
    // Granted scopes only: fine. Then the admin withdraws Mail.Read: refreshing for it fails.
    const t = await signIn(sim, 'rita@contoso.com', ['offline_access', 'User.Read', 'Mail.Read']);
    await sim.app.inject({ method: 'PUT', url: '/_sim/tenants/contoso.com', payload: { grantedScopes: ['User.Read'] } });
    const res = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'refresh_token', refresh_token: t.refresh_token! }) });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_grant', suberror: 'consent_required', error_codes: [65001] });
  });

  it('revokeSignInSessions kills refresh and access tokens and is recorded', async () => {
    const t = await signIn(sim, 'rita@contoso.com');
    const g = graph(sim, t.access_token);
    const res = await g.post('/me/revokeSignInSessions');
    expect(res.statusCode).toBe(200);
    expect(res.json().value).toBe(true);
    const after = await g.get('/me');
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('InvalidAuthenticationToken');
    const refresh = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'refresh_token', refresh_token: t.refresh_token! }) });
    expect(refresh.json()).toMatchObject({ error: 'invalid_grant', error_codes: [50173] });
    const rev = (await sim.app.inject({ method: 'GET', url: '/_sim/revocations' })).json();
    expect(rev['rita@contoso.com'].some((e: { provider: string; kind: string }) => e.provider === 'microsoft' && e.kind === 'token')).toBe(true);
  });

  it('401 InvalidAuthenticationToken for a missing or expired access token', async () => {
    const none = await sim.app.inject({ method: 'GET', url: '/microsoft/v1.0/me' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' } });
    expect(Object.keys(none.json().error.innerError)).toEqual(expect.arrayContaining(['date', 'request-id', 'client-request-id']));
    const t = await signIn(sim, 'rita@contoso.com');
    await setClock(sim, new Date(T0.getTime() + 3600_000));
    const expired = await graph(sim, t.access_token).get('/me');
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.message).toMatch(/expired/);
  });

  it('invalid_grant fault on the token endpoint', async () => {
    const t = await signIn(sim, 'rita@contoso.com');
    await sim.app.inject({ method: 'POST', url: '/_sim/faults', payload: { provider: 'microsoft', match: { path: 'oauth2/v2.0/token' }, fault: 'invalid_grant' } });
    const res = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'refresh_token', refresh_token: t.refresh_token! }) });
    expect(res.json().error).toBe('invalid_grant');
    const next = await sim.app.inject({ method: 'POST', url: tokenUrl, ...form({ ...client, grant_type: 'refresh_token', refresh_token: t.refresh_token! }) });
    expect(next.statusCode).toBe(200);
  });
});
