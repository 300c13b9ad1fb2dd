import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGoogleSim, type GoogleSim } from './harness.ts';

let sim: GoogleSim;
let token: string;
const ME = 'qa@acme.com';
let id: string;

beforeAll(async () => {
  sim = await startGoogleSim();
  token = await sim.mailboxWithToken(ME);
  id = (await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'a@b.org', subject: 's', text: 'body' })).id;
});
afterAll(() => sim.close());

const get = (format = 'minimal', t = token) => sim.api(t, 'GET', `/gmail/v1/users/me/messages/${id}?format=${format}`);

describe('quota', () => {
  it('refuses with 403 userRateLimitExceeded past the per-user units per minute, and recovers when the clock moves', async () => {
    await sim.ok('DELETE', '/_sim/usage');
    await sim.ok('PUT', '/_sim/limits', { provider: 'google', perUserUnitsPerMinute: 20 });
    const start = sim.state.clock.now();
    sim.state.clock.set(new Date(Math.ceil(start.getTime() / 60000) * 60000 + 1000));
    for (let i = 0; i < 4; i++) expect((await get()).status).toBe(200);
    const refused = await get();
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 403, status: 'PERMISSION_DENIED', errors: [{ domain: 'usageLimits', reason: 'userRateLimitExceeded' }] });
    expect(Number(refused.headers.get('retry-after'))).toBe(59);
    // The refusal is counted in the usage (a refused request is not charged).
    expect((await sim.ok('GET', '/_sim/usage')).google[ME]).toMatchObject({ units: 20, rateLimited: 1 });
    sim.state.clock.advance(60_000);
    expect((await get()).status).toBe(200);
    await sim.ok('PUT', '/_sim/limits', { provider: 'google', perUserUnitsPerMinute: 15000 });
  });

  it('refuses concurrent requests past the per-user limit with 429 rateLimitExceeded', async () => {
    await sim.ok('DELETE', '/_sim/usage');
    await sim.ok('PUT', '/_sim/limits', { provider: 'google', concurrency: 1, latencyMs: 100 });
    const results = await Promise.all([get(), get(), get()]);
    const statuses = results.map((r) => r.status).sort();
    expect((await sim.ok('GET', '/_sim/usage')).google[ME].rateLimited).toBe(statuses.filter((s) => s === 429).length);
    expect(statuses[0]).toBe(200);
    expect(statuses).toContain(429);
    const tooMany = results.find((r) => r.status === 429)!;
    expect(tooMany.body.error.errors[0]).toMatchObject({ reason: 'rateLimitExceeded', domain: 'usageLimits' });
    await sim.ok('PUT', '/_sim/limits', { provider: 'google', concurrency: 25, latencyMs: 0 });
  });
});

describe('faults', () => {
  it('injects 429/500/503 with Google error bodies, count times, then serves normally', async () => {
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: { method: 'GET', path: '/messages/' }, fault: 'http_429', count: 2, retryAfterSeconds: 7 });
    for (let i = 0; i < 2; i++) {
      const r = await get();
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('7');
      expect(r.body.error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED', errors: [{ reason: 'rateLimitExceeded' }] });
    }
    expect((await get()).status).toBe(200);
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: { path: 're:/^\\/gmail\\/v1\\/users\\/me\\/messages\\/[0-9a-f]+/' }, fault: 'http_500' });
    const e500 = await get();
    expect(e500.status).toBe(500);
    expect(e500.body.error.errors[0].reason).toBe('backendError');
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: {}, fault: 'http_503' });
    expect((await get()).status).toBe(503);
    // a fault for the other provider never touches Google
    await sim.ok('POST', '/_sim/faults', { provider: 'microsoft', match: {}, fault: 'http_500' });
    expect((await get()).status).toBe(200);
    await sim.ok('DELETE', '/_sim/faults');
    expect(await sim.ok('GET', '/_sim/faults')).toEqual([]);
  });

  it('matches a fault path literally, slashes and all; a regular expression only when written re:/…/flags', async () => {
    // A literal path that looks like `/pattern/flags` is still a path.
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: { path: '/gmail/v1/users/me/messages' }, fault: 'http_500' });
    expect((await sim.api(token, 'GET', '/gmail/v1/users/me/profile')).status).toBe(200);
    expect((await get()).status).toBe(500);
    expect((await get()).status).toBe(200);
    // Regular-expression characters in a literal path are plain text.
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: { path: 'messages/.*' }, fault: 'http_500' });
    expect((await get()).status).toBe(200);
    expect(await sim.ok('GET', '/_sim/faults')).toHaveLength(1);
    await sim.ok('DELETE', '/_sim/faults');
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: { path: 're:/^\\/gmail\\/.*\\/profile$/' }, fault: 'http_503' });
    expect((await get()).status).toBe(200);
    expect((await sim.api(token, 'GET', '/gmail/v1/users/me/profile')).status).toBe(503);
    const bad = await sim.control('POST', '/_sim/faults', { provider: 'google', match: { path: 're:/(/' }, fault: 'http_500' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('regular expression');
  });

  it('resets the connection, and hangs on timeout until the client gives up', async () => {
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: { path: '/messages/' }, fault: 'reset' });
    await expect(get()).rejects.toThrow();
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: { path: '/messages/' }, fault: 'timeout' });
    await expect(fetch(`${sim.G}/gmail/v1/users/me/messages/${id}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect((await get()).status).toBe(200);
  });

  it('answers 400 with a clear error for a bad fault or limits body', async () => {
    const bad = await sim.control('POST', '/_sim/faults', { provider: 'google', fault: 'explode' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.message).toContain('fault');
    const limits = await sim.control('PUT', '/_sim/limits', { provider: 'google', perUserUnitsPerMinute: -1 });
    expect(limits.status).toBe(400);
  });
});

describe('usage', () => {
  it('counts units, requests per method and distinct bodies served (full/raw, threads.get full)', async () => {
    await sim.ok('DELETE', '/_sim/usage');
    await get('minimal');
    await get('metadata');
    await get('full');
    await get('raw');
    const other = await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'a@b.org', subject: 't', text: 'x', threadKey: 'k' });
    await sim.api(token, 'GET', `/gmail/v1/users/me/threads/${other.threadId}`);
    await sim.api(token, 'GET', '/gmail/v1/users/me/messages');
    const usage = await sim.ok('GET', '/_sim/usage');
    expect(usage.google[ME]).toEqual({ units: 4 * 5 + 10 + 5, requests: { 'messages.get': 4, 'threads.get': 1, 'messages.list': 1 }, bodiesServed: 2, rateLimited: 0 });
    await sim.ok('DELETE', '/_sim/usage');
    expect(await sim.ok('GET', '/_sim/usage')).toEqual({ google: {}, microsoft: {} });
  });
});
