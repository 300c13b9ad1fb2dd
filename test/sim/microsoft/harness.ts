import { createHash, randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { controlRoutes } from '../../../sim/control.ts';
import { createSimState, type SimState } from '../../../sim/core/state.ts';
import { microsoftRoutes } from '../../../sim/microsoft/index.ts';

/** The simulator as `sim/server.ts` composes it (control API + Microsoft), driven through HTTP. */
export interface Sim {
  state: SimState;
  app: FastifyInstance;
  close(): Promise<void>;
}

export const T0 = new Date('2025-03-03T09:00:00Z');
export const REDIRECT = 'http://127.0.0.1:3999/oauth/microsoft/callback';
export const SCOPES = ['openid', 'email', 'offline_access', 'User.Read', 'Mail.Read', 'Mail.Send', 'Calendars.ReadWrite'];

export async function makeSim(now = T0): Promise<Sim> {
  const state = createSimState({ now });
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.register(controlRoutes(state), { prefix: '/_sim' });
  app.register(microsoftRoutes(state));
  await app.ready();
  return { state, app, close: () => app.close() };
}

export async function listen(sim: Sim): Promise<string> {
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  const a = sim.app.server.address();
  return `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}

export async function mailbox(sim: Sim, address: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await sim.app.inject({ method: 'POST', url: '/_sim/mailboxes', payload: { provider: 'microsoft', address, ...extra } });
  if (res.statusCode >= 300) throw new Error(`mailbox: ${res.statusCode} ${res.body}`);
}

export async function deliver(sim: Sim, address: string, body: Record<string, unknown>): Promise<{ id: string; threadId: string; messageId: string }> {
  const res = await sim.app.inject({ method: 'POST', url: `/_sim/mailboxes/${encodeURIComponent(address)}/messages`, payload: body });
  if (res.statusCode >= 300) throw new Error(`deliver: ${res.statusCode} ${res.body}`);
  return res.json();
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function form(fields: Record<string, string>): { payload: string; headers: Record<string, string> } {
  return { payload: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
}

export async function authorizeCode(sim: Sim, address: string, scopes = SCOPES, tenant = 'common'): Promise<{ location: URL; verifier: string }> {
  const { verifier, challenge } = pkce();
  const q = new URLSearchParams({
    client_id: 'recruiter-sync-local', response_type: 'code', redirect_uri: REDIRECT, scope: scopes.join(' '),
    state: 'st-1', code_challenge: challenge, code_challenge_method: 'S256', auto_consent: '1', login_hint: address,
  });
  const res = await sim.app.inject({ method: 'GET', url: `/microsoft/${tenant}/oauth2/v2.0/authorize?${q}` });
  if (res.statusCode !== 302) throw new Error(`authorize: ${res.statusCode} ${res.body}`);
  return { location: new URL(String(res.headers.location)), verifier };
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  scope: string;
  expires_in: number;
  id_token?: string;
}

export async function signIn(sim: Sim, address: string, scopes = SCOPES): Promise<Tokens> {
  const { location, verifier } = await authorizeCode(sim, address, scopes);
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`no code: ${location}`);
  const res = await sim.app.inject({
    method: 'POST',
    url: '/microsoft/common/oauth2/v2.0/token',
    ...form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: 'recruiter-sync-local', client_secret: 'local-secret' }),
  });
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return res.json();
}

export function graph(sim: Sim, token: string) {
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const full = url.startsWith('http') ? new URL(url).pathname + new URL(url).search : url.startsWith('/microsoft') ? url : `/microsoft/v1.0${url}`;
    return sim.app.inject({ method, url: full, headers: { authorization: `Bearer ${token}`, ...headers }, ...(payload !== undefined ? { payload: payload as string } : {}) });
  };
  return {
    get: (url: string, headers?: Record<string, string>) => call('GET', url, undefined, headers),
    post: (url: string, payload?: unknown, headers?: Record<string, string>) => call('POST', url, payload ?? {}, headers),
    patch: (url: string, payload: unknown, headers?: Record<string, string>) => call('PATCH', url, payload, headers),
    del: (url: string, headers?: Record<string, string>) => call('DELETE', url, undefined, headers),
  };
}

export async function setClock(sim: Sim, at: Date): Promise<void> {
  const res = await sim.app.inject({ method: 'POST', url: '/_sim/clock', payload: { now: at.toISOString() } });
  if (res.statusCode >= 300) throw new Error(`clock: ${res.statusCode} ${res.body}`);
}
