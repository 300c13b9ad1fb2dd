import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryLaterError } from '../../src/jobs/index.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { quotaCounters, requestCost } from '../../src/providers/budget.ts';
import { providerFetch } from '../../src/providers/http.ts';
import { runHistoricalSync, type SyncDeps } from '../../src/sync/engine.ts';
import { DbQuotaBudget, DEFAULT_QUOTA_LIMITS, type QuotaLimits } from '../../src/sync/quota-budget.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { expectedAfterHistorical, expectSameSet, mailboxCompany, startWorld, storedMessageIds, type World } from './helpers.ts';

/**
 * the product never exceeds a provider's per-user quota or concurrency. Every call for a mailbox draws on a
 * budget kept in the database, shared by every process; the simulators count each rate-limit answer they give
 * (`rateLimited` in `/_sim/usage`), which must stay at zero.
 */

/** Limits low enough that a small mailbox's historical sync spans several quota windows, while its costliest single call (a Gmail batch of gets, 5 units each) still fits in one. */
const LOW: QuotaLimits = {
  // Below what a historical sync of the test mailbox spends (about 230 units), so it spans several windows.
  google: { perWindow: 200, windowSeconds: 60, concurrency: 25 },
  microsoft: { perWindow: 24, windowSeconds: 60, concurrency: 4 },
};

interface UsageEntry {
  units: number;
  requests: Record<string, number>;
  rateLimited: number;
}

describe('request costs in the providers’ published units', () => {
  it('Gmail: per method, a batch as the sum of its parts; Graph: one per request, a $batch one per inner request', () => {
    expect(requestCost('google', 'https://gmail.googleapis.com/gmail/v1/users/me/messages?q=x', {})).toBe(5);
    expect(requestCost('google', 'https://gmail.googleapis.com/gmail/v1/users/me/history?startHistoryId=1', {})).toBe(2);
    expect(requestCost('google', 'https://gmail.googleapis.com/gmail/v1/users/me/profile', {})).toBe(1);
    expect(requestCost('google', 'https://gmail.googleapis.com/gmail/v1/users/me/messages/send', { method: 'POST' })).toBe(100);
    expect(requestCost('google', 'https://gmail.googleapis.com/gmail/v1/users/me/watch', { method: 'POST' })).toBe(100);
    const parts = ['a', 'b', 'c'].map((id, i) => `--b\r\nContent-Type: application/http\r\nContent-ID: <item${i}>\r\n\r\nGET /gmail/v1/users/me/messages/${id}?format=raw\r\n\r\n`).join('') + '--b--\r\n';
    expect(requestCost('google', 'https://www.googleapis.com/batch/gmail/v1', { method: 'POST', body: parts })).toBe(15);
    // OAuth and Google Calendar are not charged to the Gmail quota.
    expect(requestCost('google', 'https://oauth2.googleapis.com/token', { method: 'POST' })).toBeNull();
    expect(requestCost('google', 'https://www.googleapis.com/calendar/v3/calendars/primary/events', { method: 'POST' })).toBeNull();
    expect(requestCost('microsoft', 'https://graph.microsoft.com/v1.0/me/sendMail', { method: 'POST' })).toBe(1);
    expect(requestCost('microsoft', 'https://graph.microsoft.com/v1.0/me/events', { method: 'POST' })).toBe(1);
    expect(requestCost('microsoft', 'https://graph.microsoft.com/v1.0/$batch', { method: 'POST', body: JSON.stringify({ requests: [{ id: '1' }, { id: '2' }, { id: '3' }] }) })).toBe(3);
    expect(requestCost('microsoft', 'https://login.microsoftonline.com/common/oauth2/v2.0/token', { method: 'POST' })).toBeNull();
  });
});

describe('rate-limit answers are counted for /metrics', () => {
  it('a 429, a Gmail 403 rateLimitExceeded and refused parts of a batch each count once; other refusals do not', async () => {
    const gmailPart = (status: string, body: string) => `--r\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 ${status}\r\nContent-Type: application/json\r\n\r\n${body}\r\n`;
    const server = createServer((req, res) => {
      if (req.url === '/v1.0/me/messages') return void res.writeHead(429, { 'retry-after': '3' }).end('{"error":{"code":"ApplicationThrottled"}}');
      if (req.url === '/gmail/v1/users/me/messages') return void res.writeHead(403).end('{"error":{"errors":[{"reason":"userRateLimitExceeded"}]}}');
      if (req.url === '/gmail/v1/users/me/labels') return void res.writeHead(403).end('{"error":{"errors":[{"reason":"insufficientPermissions"}]}}');
      res.writeHead(200, { 'content-type': 'multipart/mixed; boundary=r' }).end(gmailPart('200 OK', '{}') + gmailPart('429 Too Many Requests', '{}') + gmailPart('403 Forbidden', '{"error":{"errors":[{"reason":"rateLimitExceeded"}]}}') + gmailPart('403 Forbidden', '{"error":{"errors":[{"reason":"forbidden"}]}}') + '--r--\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const before = { ...quotaCounters.rateLimitAnswers };
      const refuse = () => undefined;
      await expect(providerFetch(`${base}/v1.0/me/messages`, {}, refuse)).rejects.toMatchObject({ kind: 'throttled', details: { retryAfterSeconds: 3 } });
      await expect(providerFetch(`${base}/gmail/v1/users/me/messages`, {}, refuse)).rejects.toMatchObject({ details: { status: 403 } });
      await expect(providerFetch(`${base}/gmail/v1/users/me/labels`, {}, refuse)).rejects.toMatchObject({ details: { status: 403 } });
      await providerFetch(`${base}/batch/gmail/v1`, { method: 'POST', body: '', parse: 'text' }, refuse);
      expect(quotaCounters.rateLimitAnswers.microsoft - before.microsoft).toBe(1);
      expect(quotaCounters.rateLimitAnswers.google - before.google).toBe(3);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe.each(backends.map((b) => b.name))('quota budget on %s', (backendName) => {
  let database: Database;
  let world: World;

  beforeAll(async () => {
    database = await backends.find((b) => b.name === backendName)!.open();
    world = await startWorld(database);
    // Quota windows follow the simulators' clock: it runs at real speed, and moves with the product's below.
    world.sim.state.clock.setFrozen(false);
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  const usage = async (provider: 'google' | 'microsoft', address: string): Promise<UsageEntry> => {
    const all = await world.control('GET', '/_sim/usage');
    return all[provider]?.[address.toLowerCase()] ?? { units: 0, requests: {}, rateLimited: 0 };
  };
  /** Both clocks forward together, as the job queue's start-after and the provider's windows see it. */
  const skip = (ms: number) => {
    world.sim.state.clock.advance(ms);
    world.api.clock.set(new Date(world.api.clock.now().getTime() + ms));
  };

  describe.each(['google', 'microsoft'] as const)('%s', (provider) => {
    it('a historical sync spanning several quota windows provokes no rate-limit answer: long waits re-queue the run (R-27)', async () => {
      const c = await mailboxCompany(world, provider, 600, `quota-${provider}`);
      const limits = provider === 'google' ? { provider, perUserUnitsPerMinute: LOW.google.perWindow } : { provider, requestsPerWindow: LOW.microsoft.perWindow, windowSeconds: LOW.microsoft.windowSeconds };
      await world.control('PUT', '/_sim/limits', limits);
      try {
        await world.control('DELETE', '/_sim/usage');
        const deps: SyncDeps = { ...world.deps, quota: new DbQuotaBudget(world.api.ctx.db, world.api.clock, LOW) };
        let requeued = 0;
        for (;;) {
          try {
            expect(await runHistoricalSync(deps, c.grant.id)).toBe('completed');
            break;
          } catch (error) {
            // What the job queue does with a run that yields: the same job again at its start-after.
            if (!(error instanceof RetryLaterError)) throw error;
            requeued++;
            expect(requeued, 'the sync makes progress').toBeLessThan(200);
            skip(Math.max(0, error.at.getTime() - world.api.clock.now().getTime()));
          }
        }
        const used = await usage(provider, c.address);
        // The sync needed more than one window's quota, so the budget made it wait rather than the provider.
        expect(used.units > LOW[provider].perWindow || Object.values(used.requests).reduce((a, b) => a + b, 0) > LOW[provider].perWindow).toBe(true);
        expect(requeued).toBeGreaterThan(0);
        expect(used.rateLimited).toBe(0);
        expectSameSet(await storedMessageIds(world, c), await expectedAfterHistorical(world, c));
      } finally {
        await world.control('PUT', '/_sim/limits', provider === 'google' ? { provider, perUserUnitsPerMinute: 15_000 } : { provider, requestsPerWindow: 10_000, windowSeconds: 600 });
      }
    });

    it('sending draws on the same budget: with the mailbox’s budget spent, a send is refused with rate_limited and never reaches the provider (R-27)', async () => {
      const domain = `quota-send-${backendName}-${provider}.test`;
      const c = await createCompany(world.api, `Quota send ${provider}`, domain);
      const address = `rita@${domain}`;
      await world.control('POST', '/_sim/tenants', { provider, domain });
      await world.control('POST', '/_sim/mailboxes', { provider, address });
      await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'send_and_view' });
      await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
      await world.control('DELETE', '/_sim/usage');

      // Another process (a sync worker) spends the whole window; the API's own budget reads the same row.
      const worker = new DbQuotaBudget(world.api.ctx.db, world.api.clock);
      const spent = await worker.acquire(provider, address, worker.capacity(provider), 1000);
      expect(spent.ok).toBe(true);
      if (spent.ok) await worker.release(provider, address, spent.lease);

      const res = await world.api.call('POST', `/api/v1/candidates/${c.candidate.id}/emails`, { token: c.contractToken, actAs: c.recruiter.id, body: { subject: 'Backend role', bodyText: 'Hi' } });
      expect(res.statusCode, res.body).toBe(429);
      expect(res.json().error.code).toBe('rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.json().error.message).not.toMatch(/R-\d/);
      expect(await world.control('GET', `/_sim/mailboxes/${encodeURIComponent(address)}/sent`)).toEqual([]);
      expect((await usage(provider, address)).rateLimited).toBe(0);

      // Once the window has passed, the same send goes out.
      skip(DEFAULT_QUOTA_LIMITS[provider].windowSeconds * 1000 * 1.2);
      const again = await world.api.call('POST', `/api/v1/candidates/${c.candidate.id}/emails`, { token: c.contractToken, actAs: c.recruiter.id, body: { subject: 'Backend role', bodyText: 'Hi' } });
      expect(again.statusCode, again.body).toBe(201);
    });
  });

  it('two processes share one budget: concurrent draws never exceed the window’s units or the concurrency (R-27)', async () => {
    const limits: QuotaLimits = { google: { perWindow: 100, windowSeconds: 60, concurrency: 25 }, microsoft: { perWindow: 1000, windowSeconds: 600, concurrency: 4 } };
    const a = new DbQuotaBudget(world.api.ctx.db, world.api.clock, limits);
    const b = new DbQuotaBudget(world.api.ctx.db, world.api.clock, limits);
    const address = `shared-${backendName}@quota.test`;
    // 30 draws of 10 units from both at once against 90 units (100 less the margin): exactly 9 are granted.
    const draws = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).acquire('google', address, 10, 60_000)));
    const granted = draws.filter((d) => d.ok);
    expect(granted).toHaveLength(9);
    for (const d of draws) if (!d.ok) expect(d.waitMs).toBeGreaterThan(0);
    for (const d of granted) if (d.ok) await (a as DbQuotaBudget).release('google', address, d.lease);

    // Graph's 4 concurrent requests per mailbox: the fifth waits until one ends.
    const leases = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).acquire('microsoft', address, 1, 60_000)));
    const held = leases.filter((l): l is { ok: true; lease: string } => l.ok);
    expect(held).toHaveLength(4);
    expect((await a.acquire('microsoft', address, 1, 60_000)).ok).toBe(false);
    await b.release('microsoft', address, held[0]!.lease);
    const next = await a.acquire('microsoft', address, 1, 60_000);
    expect(next.ok).toBe(true);
    // A lease of a process that died lapses on its own.
    skip(61_000);
    expect((await b.acquire('microsoft', address, 1, 60_000)).ok).toBe(true);
  });
});
