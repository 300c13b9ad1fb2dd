import { expect } from 'vitest';
import type { TestApi } from './app.ts';

/**
 * Drives the browser-free OAuth round trip: our authorization URL → the simulator's consent page with
 * auto-consent → the redirect to our callback (injected into the API under test) → back to the UI path.
 * Returns the callback's redirect target (e.g. `/settings/email?authorization=connected&kind=email`).
 */
export async function connectMailbox(
  api: TestApi,
  params: { seatId: string; userId: string; token: string; kind: 'email' | 'calendar'; address: string },
): Promise<{ location: string; callbackPath: string }> {
  const start = await api.call('POST', `/api/v1/seats/${params.seatId}/authorizations`, {
    token: params.token,
    actAs: params.userId,
    body: { kind: params.kind, redirectAfter: '/settings/email' },
  });
  expect(start.statusCode, start.body).toBe(201);
  const consent = new URL(start.json().authorizationUrl);
  consent.searchParams.set('auto_consent', '1');
  consent.searchParams.set('login_hint', params.address);
  const providerAnswer = await fetch(consent, { redirect: 'manual' });
  expect([302, 303], await providerAnswer.clone().text()).toContain(providerAnswer.status);
  const redirect = new URL(providerAnswer.headers.get('location')!);
  expect(`${redirect.origin}${redirect.pathname}`).toMatch(new RegExp(`^${api.publicUrl}/oauth/(google|microsoft)/callback$`));
  const callbackPath = `${redirect.pathname}${redirect.search}`;
  const callback = await api.app.inject({ method: 'GET', url: callbackPath });
  expect(callback.statusCode, callback.body).toBe(303);
  return { location: callback.headers.location as string, callbackPath };
}
