import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliver, graph, listen, mailbox, makeSim, setClock, signIn, T0, type Sim } from './harness.ts';

let sim: Sim;
let token: string;
let g: ReturnType<typeof graph>;
const ME = 'rita@contoso.com';

beforeEach(async () => {
  sim = await makeSim();
  await mailbox(sim, ME);
  token = (await signIn(sim, ME)).access_token;
  g = graph(sim, token);
});
afterEach(() => sim.close());

describe('$batch', () => {
  it('runs up to 20 requests with dependsOn and per-request status, headers and body; 400 over 20', async () => {
    const d = await deliver(sim, ME, { from: 'cara@example.org', subject: 'one', text: 'x' });
    const res = await g.post('/$batch', {
      requests: [
        { id: '1', method: 'GET', url: `/me/messages/${d.id}?$select=subject`, headers: { prefer: 'IdType="ImmutableId"' } },
        { id: '2', method: 'GET', url: '/me/messages/AAMkAGnope=?$select=subject', dependsOn: ['1'] },
        { id: '3', method: 'GET', url: '/me/mailFolders/inbox', dependsOn: ['2'] },
        { id: '4', method: 'POST', url: '/me/sendMail', headers: { 'content-type': 'application/json' }, body: { message: { subject: 'b', toRecipients: [{ emailAddress: { address: 'x@example.org' } }] } } },
      ],
    });
    expect(res.statusCode).toBe(200);
    const byId = Object.fromEntries(res.json().responses.map((r: { id: string }) => [r.id, r]));
    expect(byId['1']).toMatchObject({ status: 200, body: { subject: 'one', id: d.id } });
    expect(byId['1'].headers['content-type']).toContain('application/json');
    expect(byId['2'].status).toBe(404);
    expect(byId['3'].status).toBe(424);
    expect(byId['4'].status).toBe(202);
    expect(byId['4']).not.toHaveProperty('body');
    const many = await g.post('/$batch', { requests: Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/me' })) });
    expect(many.statusCode).toBe(400);
    expect(many.json().error.code).toBe('BadRequest');
    const usage = (await sim.app.inject({ method: 'GET', url: '/_sim/usage' })).json().microsoft[ME];
    expect(usage.requests.batch).toBe(1);
    expect(usage.requests['users.sendMail']).toBe(1);
  });
});

describe('events', () => {
  it('creates a Teams meeting with a join link and attendees; GET returns it', async () => {
    const res = await g.post('/me/events', {
      subject: 'Screening: Cara',
      body: { contentType: 'HTML', content: '<p>Looking forward</p>' },
      start: { dateTime: '2025-03-10T10:00:00', timeZone: 'Europe/Paris' },
      end: { dateTime: '2025-03-10T10:30:00', timeZone: 'Europe/Paris' },
      attendees: [{ emailAddress: { address: 'cara@example.org', name: 'Cara' }, type: 'required' }],
      isOnlineMeeting: true,
      onlineMeetingProvider: 'teamsForBusiness',
    });
    expect(res.statusCode).toBe(201);
    const ev = res.json();
    expect(ev.onlineMeeting.joinUrl).toMatch(/^https:\/\/teams\.microsoft\.com\/l\/meetup-join\//);
    expect(ev).toMatchObject({ isOnlineMeeting: true, onlineMeetingProvider: 'teamsForBusiness', subject: 'Screening: Cara', start: { dateTime: '2025-03-10T09:00:00.0000000', timeZone: 'UTC' } });
    expect(ev.attendees).toEqual([expect.objectContaining({ type: 'required', emailAddress: { address: 'cara@example.org', name: 'Cara' } })]);
    expect(ev.organizer.emailAddress.address).toBe(ME);
    const got = await g.get(`/me/events/${ev.id}`);
    expect(got.json().onlineMeeting.joinUrl).toBe(ev.onlineMeeting.joinUrl);
    const cal = await g.post('/me/calendar/events', { subject: 'plain', start: { dateTime: '2025-03-10T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2025-03-10T11:00:00', timeZone: 'UTC' } });
    expect(cal.json()).toMatchObject({ isOnlineMeeting: false, onlineMeeting: null });
    const bad = await g.post('/me/events', { subject: 'x' });
    expect(bad.statusCode).toBe(400);
  });
});

describe('throttling, faults, usage', () => {
  it('429 ApplicationThrottled with Retry-After past the per-mailbox window; recovers when the sim clock moves', async () => {
    await sim.app.inject({ method: 'PUT', url: '/_sim/limits', payload: { provider: 'microsoft', requestsPerWindow: 3 } });
    await sim.app.inject({ method: 'DELETE', url: '/_sim/usage' });
    for (let i = 0; i < 3; i++) expect((await g.get('/me')).statusCode).toBe(200);
    const limited = await g.get('/me');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('ApplicationThrottled');
    // Counted in the usage as a rate-limit answer (the refused request is not charged).
    expect((await sim.app.inject({ method: 'GET', url: '/_sim/usage' })).json().microsoft[ME]).toMatchObject({ units: 3, rateLimited: 1 });
    const retry = Number(limited.headers['retry-after']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(600);
    await setClock(sim, new Date(T0.getTime() + retry * 1000));
    // The access token outlives the move (under an hour), so the same caller goes on.
    expect((await g.get('/me')).statusCode).toBe(200);
  });

  it('429 MailboxConcurrency beyond 4 requests in flight', async () => {
    await sim.app.inject({ method: 'PUT', url: '/_sim/limits', payload: { provider: 'microsoft', concurrency: 1 } });
    // Hold a slot the way a slow in-flight request would.
    expect(sim.state.quota.enter('microsoft', ME, 1)).toBe(true);
    const res = await g.get('/me');
    expect(res.statusCode).toBe(429);
    expect(res.json().error).toMatchObject({ code: 'ApplicationThrottled', message: expect.stringContaining('MailboxConcurrency') });
    expect(res.headers['retry-after']).toBeTruthy();
    sim.state.quota.leave('microsoft', ME);
    expect((await g.get('/me')).statusCode).toBe(200);
  });

  it('injected http_429/500/503 faults with Graph error bodies, counted down', async () => {
    await sim.app.inject({ method: 'POST', url: '/_sim/faults', payload: { provider: 'microsoft', match: { method: 'GET', path: 'mailFolders' }, fault: 'http_429', count: 2, retryAfterSeconds: 7 } });
    const a = await g.get('/me/mailFolders');
    expect(a.statusCode).toBe(429);
    expect(a.headers['retry-after']).toBe('7');
    expect(a.json().error.innerError).toHaveProperty('request-id');
    expect((await g.get('/me')).statusCode).toBe(200);
    expect((await g.get('/me/mailFolders')).statusCode).toBe(429);
    expect((await g.get('/me/mailFolders')).statusCode).toBe(200);
    await sim.app.inject({ method: 'POST', url: '/_sim/faults', payload: { provider: 'microsoft', match: { path: 'sendMail' }, fault: 'http_503' } });
    const s = await g.post('/me/sendMail', { message: { subject: 'x', toRecipients: [{ emailAddress: { address: 'a@example.org' } }] } });
    expect(s.statusCode).toBe(503);
    expect(s.json().error.code).toBe('ServiceNotAvailable');
    await sim.app.inject({ method: 'POST', url: '/_sim/faults', payload: { provider: 'microsoft', match: { path: 're:/\\/me$/' }, fault: 'http_500' } });
    expect((await g.get('/me')).statusCode).toBe(500);
  });

  it('timeout and reset faults over a real socket', async () => {
    const url = await listen(sim);
    await sim.app.inject({ method: 'PUT', url: '/_sim/microsoft/config', payload: { faultHangMs: 50 } });
    await sim.app.inject({ method: 'POST', url: '/_sim/faults', payload: { provider: 'microsoft', match: { path: 'mailFolders' }, fault: 'reset' } });
    await expect(fetch(`${url}/microsoft/v1.0/me/mailFolders`, { headers: { authorization: `Bearer ${token}` } })).rejects.toThrow();
    await sim.app.inject({ method: 'POST', url: '/_sim/faults', payload: { provider: 'microsoft', match: { path: 'mailFolders' }, fault: 'timeout' } });
    const slow = await fetch(`${url}/microsoft/v1.0/me/mailFolders`, { headers: { authorization: `Bearer ${token}` } });
    expect(slow.status).toBe(504);
    const fine = await fetch(`${url}/microsoft/v1.0/me/mailFolders`, { headers: { authorization: `Bearer ${token}` } });
    expect(fine.status).toBe(200);
  });

  it('usage counts requests per method and distinct bodies served (body, uniqueBody, $value)', async () => {
    const a = await deliver(sim, ME, { from: 'cara@example.org', subject: 'a', text: 'x' });
    await deliver(sim, ME, { from: 'dan@example.org', subject: 'b', text: 'y' });
    await sim.app.inject({ method: 'DELETE', url: '/_sim/usage' });
    const h = { prefer: 'IdType="ImmutableId"' };
    await g.get('/me/mailFolders/inbox/messages/delta?$select=subject,from', h);
    await g.get(`/me/messages/${a.id}?$select=body`, h);
    await g.get(`/me/messages/${a.id}/$value`);
    await g.get(`/me/messages/${a.id}?$select=uniqueBody`, h);
    const u = (await sim.app.inject({ method: 'GET', url: '/_sim/usage' })).json().microsoft[ME];
    expect(u).toEqual({ units: 4, requests: { 'messages.delta': 1, 'messages.get': 2, 'messages.getMime': 1 }, bodiesServed: 1, rateLimited: 0 });
    await g.get('/me/mailFolders/inbox/messages/delta', h);
    expect((await sim.app.inject({ method: 'GET', url: '/_sim/usage' })).json().microsoft[ME].bodiesServed).toBe(2);
  });
});
