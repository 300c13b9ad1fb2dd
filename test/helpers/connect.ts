import { expect } from 'vitest';
import type { TestApi } from './app.ts';

/** What `POST /seats/{id}/authorizations/complete` answers. */
export interface FlowOutcome {
  authorization: 'connected' | 'failed' | 'pending';
  kind: 'email' | 'calendar' | null;
  code: string | null;
  message: string | null;
}

/**
 * Drives the browser-free OAuth round trip as an integration: our authorization URL → the simulator's consent
 * page with auto-consent → the redirect to our callback (injected into the API under test), which parks the
 * code and sends the browser back with `authorization=pending&flow=…` → the same token, acting as the same
 * user, completes the flow. Returns the UI path with the outcome (e.g.
 * `/settings/email?authorization=connected&kind=email`), the callback path and the completion's answer.
 */
export async function connectMailbox(
  api: TestApi,
  params: { seatId: string; userId: string; token: string; kind: 'email' | 'calendar'; address: string },
): Promise<{ location: string; callbackPath: string; outcome: FlowOutcome | null }> {
  const start = await api.call('POST', `/api/v1/seats/${params.seatId}/authorizations`, {
    token: params.token,
    actAs: params.userId,
    body: { kind: params.kind, redirectAfter: '/settings/email' },
  });
  expect(start.statusCode, start.body).toBe(201);
  const callbackPath = await consentAt(api, start.json().authorizationUrl, params.address);
  const callback = await api.app.inject({ method: 'GET', url: callbackPath });
  expect(callback.statusCode, callback.body).toBe(303);
  const back = new URL(callback.headers.location as string, api.publicUrl);
  const flow = back.searchParams.get('flow');
  // A provider-side refusal (declined consent, an error) fails at the callback already.
  if (back.searchParams.get('authorization') !== 'pending' || !flow) return { location: `${back.pathname}${back.search}`, callbackPath, outcome: null };
  const done = await api.call('POST', `/api/v1/seats/${params.seatId}/authorizations/complete`, { token: params.token, actAs: params.userId, body: { flow } });
  expect(done.statusCode, done.body).toBe(200);
  const outcome = done.json() as FlowOutcome;
  const result = new URLSearchParams({ authorization: outcome.authorization, kind: outcome.kind ?? params.kind, ...(outcome.code ? { code: outcome.code } : {}) });
  return { location: `${back.pathname}?${result}`, callbackPath, outcome };
}

/** The simulator's consent page with auto-consent as `address`; returns our callback's path and query. */
export async function consentAt(api: TestApi, authorizationUrl: string, address: string): Promise<string> {
  const consent = new URL(authorizationUrl);
  consent.searchParams.set('auto_consent', '1');
  consent.searchParams.set('login_hint', address);
  const providerAnswer = await fetch(consent, { redirect: 'manual' });
  expect([302, 303], await providerAnswer.clone().text()).toContain(providerAnswer.status);
  const redirect = new URL(providerAnswer.headers.get('location')!);
  expect(`${redirect.origin}${redirect.pathname}`).toMatch(new RegExp(`^${api.publicUrl}/oauth/(google|microsoft)/callback$`));
  return `${redirect.pathname}${redirect.search}`;
}
