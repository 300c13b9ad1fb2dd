import { createPublicKey, verify, X509Certificate } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAL, READ, REDIRECT, SEND, startGoogleSim, type GoogleSim } from './harness.ts';

let sim: GoogleSim;
beforeAll(async () => {
  sim = await startGoogleSim();
  await sim.ok('POST', '/_sim/mailboxes', { provider: 'google', address: 'ann@acme.com', password: 'pw' });
});
afterAll(() => sim.close());

describe('Google OAuth 2.0', () => {
  it('runs the code flow with PKCE, offline access and an id_token verifiable against the JWKS', async () => {
    const t = await sim.authorize('ann@acme.com', ['openid', 'email', READ]);
    expect(t.token_type).toBe('Bearer');
    expect(t.expires_in).toBe(3599);
    expect(t.access_token).toMatch(/^ya29\./);
    expect(t.refresh_token).toMatch(/^1\/\//);
    expect(t.scope!.split(' ').sort()).toEqual(['https://www.googleapis.com/auth/gmail.readonly', 'https://www.googleapis.com/auth/userinfo.email', 'openid'].sort());
    const jwks = createRemoteJWKSet(new URL(`${sim.G}/oauth2/v3/certs`));
    const { payload } = await jwtVerify(t.id_token!, jwks, { issuer: 'https://accounts.google.com', audience: 'recruiter-sync-local', currentDate: sim.state.clock.now() });
    expect(payload.email).toBe('ann@acme.com');
    const info = await sim.api(t.access_token!, 'GET', '/oauth2/v3/userinfo');
    expect(info.body).toMatchObject({ email: 'ann@acme.com', email_verified: true, hd: 'acme.com' });
  });

  it('serves the signing keys as PEM X.509 certificates keyed by kid at /oauth2/v1/certs, as Google does', async () => {
    const t = await sim.authorize('ann@acme.com', ['openid', 'email', READ]);
    const { kid } = decodeProtectedHeader(t.id_token!);
    const res = await fetch(`${sim.G}/oauth2/v1/certs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const certs = (await res.json()) as Record<string, string>;
    expect(Object.keys(certs)).toEqual([kid]);
    const pem = certs[kid!]!;
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/);
    const cert = new X509Certificate(pem);
    // Self-signed, for the same key as the JWKS at v3.
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    const jwks = (await (await fetch(`${sim.G}/oauth2/v3/certs`)).json()) as { keys: Array<{ kid: string }> };
    const jwk = jwks.keys.find((k) => k.kid === kid)!;
    expect(cert.publicKey.export({ format: 'jwk' })).toMatchObject({ n: (jwk as { n?: string }).n, e: (jwk as { e?: string }).e });
    expect(new Date(cert.validFrom).getTime()).toBeLessThanOrEqual(sim.state.clock.now().getTime());
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(sim.state.clock.now().getTime());
    // The id_token verifies with the certificate's key, as google-auth-library does (RS256 over header.payload).
    const [header, payload, signature] = t.id_token!.split('.');
    expect(verify('sha256', Buffer.from(`${header}.${payload}`), createPublicKey(pem), Buffer.from(signature!, 'base64url'))).toBe(true);
    const verified = await jwtVerify(t.id_token!, await importX509(pem, 'RS256'), { issuer: 'https://accounts.google.com', audience: 'recruiter-sync-local', currentDate: sim.state.clock.now() });
    expect(verified.payload.email).toBe('ann@acme.com');
    // Stable between requests (clients cache by kid).
    expect(await (await fetch(`${sim.G}/oauth2/v1/certs`)).json()).toEqual(certs);
  });

  it('says it is the local simulator, and asks for no password when the mailbox has none', async () => {
    await sim.ok('POST', '/_sim/mailboxes', { provider: 'google', address: 'nopass@acme.com' });
    const { challenge } = sim.pkce();
    const html = await (await fetch(sim.authorizeUrl({ scope: `openid email ${READ}`, code_challenge: challenge, code_challenge_method: 'S256', login_hint: 'nopass@acme.com' }))).text();
    expect(html).toContain('Local simulator — not Google.');
    expect(html).not.toContain('type="password"');
    // A mailbox with a password: the field is there.
    const withPassword = await (await fetch(sim.authorizeUrl({ scope: `openid email ${READ}`, code_challenge: challenge, code_challenge_method: 'S256', login_hint: 'ann@acme.com' }))).text();
    expect(withPassword).toContain('type="password"');
  });

  it('shows a consent page listing the scopes and signs in with the password', async () => {
    const { challenge } = sim.pkce();
    const url = sim.authorizeUrl({ scope: `openid email ${READ} ${SEND}`, code_challenge: challenge, code_challenge_method: 'S256', login_hint: 'ann@acme.com' });
    const page = await fetch(url);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('View your email messages and settings');
    expect(html).toContain('Send email on your behalf');
    const form = new URLSearchParams(new URL(url).searchParams);
    form.set('email', 'ann@acme.com');
    form.set('password', 'wrong');
    form.set('decision', 'allow');
    const bad = await fetch(`${sim.G}/o/oauth2/v2/auth/consent`, { method: 'POST', body: form, redirect: 'manual' });
    expect(bad.status).toBe(200);
    expect(await bad.text()).toContain('Wrong password');
    form.set('password', 'pw');
    const good = await fetch(`${sim.G}/o/oauth2/v2/auth/consent`, { method: 'POST', body: form, redirect: 'manual' });
    expect(good.status).toBe(302);
    const loc = new URL(good.headers.get('location')!);
    expect(loc.origin + loc.pathname).toBe(REDIRECT);
    expect(loc.searchParams.get('state')).toBe('st-1');
    expect(loc.searchParams.get('code')).toBeTruthy();
    form.set('decision', 'deny');
    const denied = await fetch(`${sim.G}/o/oauth2/v2/auth/consent`, { method: 'POST', body: form, redirect: 'manual' });
    expect(new URL(denied.headers.get('location')!).searchParams.get('error')).toBe('access_denied');
  });

  it('refuses unknown clients and redirect URIs on the page, as Google does', async () => {
    const unknown = await fetch(sim.authorizeUrl({ client_id: 'nope', scope: READ }), { redirect: 'manual' });
    expect(unknown.status).toBe(401);
    expect(await unknown.text()).toContain('invalid_client');
    const mismatch = await fetch(sim.authorizeUrl({ redirect_uri: 'https://evil.example/cb', scope: READ }), { redirect: 'manual' });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toContain('redirect_uri_mismatch');
    const badScope = await fetch(sim.authorizeUrl({ scope: 'https://www.googleapis.com/auth/nonsense' }), { redirect: 'manual' });
    expect(await badScope.text()).toContain('invalid_scope');
  });

  it('answers invalid_grant for a reused code, a wrong verifier and a revoked refresh token', async () => {
    const { verifier, challenge } = sim.pkce();
    const res = await fetch(sim.authorizeUrl({ scope: READ, code_challenge: challenge, code_challenge_method: 'S256', access_type: 'offline', prompt: 'consent', auto_consent: '1', login_hint: 'ann@acme.com' }), { redirect: 'manual' });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const wrong = await sim.tokenRequest({ grant_type: 'authorization_code', code, code_verifier: 'x'.repeat(43), redirect_uri: REDIRECT });
    expect(wrong).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const okRes = await sim.tokenRequest({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });
    expect(okRes.status).toBe(200);
    const reused = await sim.tokenRequest({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });
    expect(reused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const badSecret = await sim.tokenRequest({ grant_type: 'refresh_token', refresh_token: okRes.body.refresh_token!, client_secret: 'nope' });
    expect(badSecret).toMatchObject({ status: 401, body: { error: 'invalid_client' } });

    const refreshed = await sim.tokenRequest({ grant_type: 'refresh_token', refresh_token: okRes.body.refresh_token! });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toBeUndefined();
    expect(refreshed.body.expires_in).toBe(3599);

    const revoke = await fetch(`${sim.G}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(okRes.body.refresh_token!)}` });
    expect(revoke.status).toBe(200);
    const after = await sim.tokenRequest({ grant_type: 'refresh_token', refresh_token: okRes.body.refresh_token! });
    expect(after).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } });
    // the access tokens of the grant die with it
    const api = await sim.api(refreshed.body.access_token!, 'GET', '/gmail/v1/users/me/profile');
    expect(api.status).toBe(401);
    const again = await fetch(`${sim.G}/revoke?token=${encodeURIComponent(okRes.body.refresh_token!)}`, { method: 'POST' });
    expect(again.status).toBe(400);
    const revocations = await sim.ok('GET', '/_sim/revocations');
    expect(revocations['ann@acme.com'].some((r: { kind: string }) => r.kind === 'token')).toBe(true);
  });

  it('expires access tokens by the simulators clock', async () => {
    const t = await sim.authorize('ann@acme.com', [READ]);
    expect((await sim.api(t.access_token!, 'GET', '/gmail/v1/users/me/profile')).status).toBe(200);
    sim.state.clock.advance(3600 * 1000);
    const expired = await sim.api(t.access_token!, 'GET', '/gmail/v1/users/me/profile');
    expect(expired.status).toBe(401);
    expect(expired.body.error.errors[0].reason).toBe('authError');
    const missing = await fetch(`${sim.G}/gmail/v1/users/me/profile`);
    expect(missing.status).toBe(401);
    const refreshed = await sim.tokenRequest({ grant_type: 'refresh_token', refresh_token: t.refresh_token! });
    expect((await sim.api(refreshed.body.access_token!, 'GET', '/gmail/v1/users/me/profile')).status).toBe(200);
  });

  it('issues a refresh token without prompt=consent only on the first grant; include_granted_scopes merges', async () => {
    await sim.ok('POST', '/_sim/mailboxes', { provider: 'google', address: 'bo@acme.com' });
    const first = await sim.authorize('bo@acme.com', [READ], { prompt: '' });
    expect(first.refresh_token).toBeTruthy();
    const second = await sim.authorize('bo@acme.com', [CAL], { prompt: '', include_granted_scopes: 'true' });
    expect(second.refresh_token).toBeUndefined();
    expect(second.scope!.split(' ')).toEqual(expect.arrayContaining([READ, CAL]));
  });

  it('enforces the IT admin policy: an ungranted scope fails consent and later refreshes', async () => {
    await sim.ok('POST', '/_sim/tenants', { provider: 'google', domain: 'strict.com', grantedScopes: [READ] });
    await sim.ok('POST', '/_sim/mailboxes', { provider: 'google', address: 'cy@strict.com' });
    const { challenge } = sim.pkce();
    const res = await fetch(sim.authorizeUrl({ scope: `openid email ${READ} ${SEND}`, code_challenge: challenge, code_challenge_method: 'S256', auto_consent: '1', login_hint: 'cy@strict.com' }), { redirect: 'manual' });
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.get('location')!);
    expect(loc.searchParams.get('error')).toBe('admin_policy_enforced');
    expect(loc.searchParams.get('error_description')).toContain(SEND);
    expect(loc.searchParams.get('code')).toBeNull();
    const page = await fetch(sim.authorizeUrl({ scope: `${SEND}`, login_hint: 'cy@strict.com' }));
    const form = new URLSearchParams(new URL(sim.authorizeUrl({ scope: SEND })).searchParams);
    form.set('email', 'cy@strict.com');
    form.set('decision', 'allow');
    expect(page.status).toBe(200);
    const blocked = await fetch(`${sim.G}/o/oauth2/v2/auth/consent`, { method: 'POST', body: form, redirect: 'manual' });
    expect(blocked.status).toBe(400);
    expect(await blocked.text()).toContain('admin_policy_enforced');

    const granted = await sim.authorize('cy@strict.com', ['openid', 'email', READ]);
    await sim.ok('PUT', '/_sim/tenants/strict.com', { grantedScopes: [] });
    const refused = await sim.tokenRequest({ grant_type: 'refresh_token', refresh_token: granted.refresh_token! });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('admin_policy_enforced');
  });

  it('consumes an injected invalid_grant fault on the token endpoint', async () => {
    const t = await sim.authorize('ann@acme.com', [READ]);
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: { path: '/token' }, fault: 'invalid_grant' });
    expect(await sim.tokenRequest({ grant_type: 'refresh_token', refresh_token: t.refresh_token! })).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await sim.tokenRequest({ grant_type: 'refresh_token', refresh_token: t.refresh_token! })).status).toBe(200);
  });
});
