import { createHash, randomBytes } from 'node:crypto';
import { startSimulators } from '../../../sim/server.ts';

export const T0 = new Date('2025-03-03T12:00:00Z');
export const READ = 'https://www.googleapis.com/auth/gmail.readonly';
export const SEND = 'https://www.googleapis.com/auth/gmail.send';
export const CAL = 'https://www.googleapis.com/auth/calendar.events';
export const REDIRECT = 'http://127.0.0.1:3000/oauth/google/callback';

/** A simulator on a free port with a frozen clock, plus small HTTP helpers. */
export async function startGoogleSim() {
  const sim = await startSimulators({ port: 0, now: T0 });
  const G = `${sim.url}/google`;
  const control = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sim.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await control(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const pkce = () => {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
  };
  const authorizeUrl = (params: Record<string, string>) => {
    const u = new URL(`${G}/o/oauth2/v2/auth`);
    for (const [k, v] of Object.entries({ client_id: 'recruiter-sync-local', redirect_uri: REDIRECT, response_type: 'code', state: 'st-1', ...params })) u.searchParams.set(k, v);
    return u.toString();
  };
  const tokenRequest = async (fields: Record<string, string>) => {
    const res = await fetch(`${G}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'recruiter-sync-local', client_secret: 'local-secret', ...fields }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  /** Full authorization-code round trip with PKCE for a mailbox; returns the token response. */
  const authorize = async (address: string, scopes: string[], extra: Record<string, string> = {}) => {
    const { verifier, challenge } = pkce();
    const res = await fetch(authorizeUrl({ scope: scopes.join(' '), code_challenge: challenge, code_challenge_method: 'S256', access_type: 'offline', prompt: 'consent', auto_consent: '1', login_hint: address, ...extra }), { redirect: 'manual' });
    if (res.status !== 302) throw new Error(`authorize → ${res.status} ${await res.text()}`);
    const location = new URL(res.headers.get('location')!);
    const code = location.searchParams.get('code');
    if (!code) throw new Error(`no code: ${location}`);
    const token = await tokenRequest({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT });
    if (token.status !== 200) throw new Error(`token → ${token.status} ${JSON.stringify(token.body)}`);
    return token.body;
  };
  const api = async (token: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${G}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  };
  /** A google mailbox and a read(+send) token for it. */
  const mailboxWithToken = async (address: string, scopes: string[] = [READ, SEND]) => {
    await ok('POST', '/_sim/mailboxes', { provider: 'google', address });
    const t = await authorize(address, ['openid', 'email', ...scopes]);
    return t.access_token!;
  };
  return { ...sim, G, control, ok, pkce, authorizeUrl, tokenRequest, authorize, api, mailboxWithToken };
}

export type GoogleSim = Awaited<ReturnType<typeof startGoogleSim>>;
