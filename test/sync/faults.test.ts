import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { oracle } from '../../sim/generator/index.ts';
import { pollScheduleName, POLL_SECONDS } from '../../src/sync/workers.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectSameSet, joinsLater, mailboxCompany, receivedCandidateMessage, storedMessageIds, startWorld, usageOf, type MailboxCompany, type Provider, type World } from './helpers.ts';

/**
 * Every fault the simulators can inject, met by the incremental sync (the poll) and by a candidate's backfill
 * — the historical sync under the same faults is `jobs.test.ts`, an expired cursor is `engine.test.ts` and
 * `lifecycle.test.ts`. Each ends on the oracle: nothing lost, nothing stored twice, nothing extra.
 */
const enc = encodeURIComponent;

describe.each(['google', 'microsoft'] as const)('provider faults met by the sync jobs with %s', (provider: Provider) => {
  let database: Database;
  let world: World;
  let seed = 0;

  beforeAll(async () => {
    database = await backends[0]!.open();
    world = await startWorld(database, { jobs: true });
  });
  afterEach(async () => {
    await world.control('DELETE', '/_sim/faults');
    if (provider === 'google') await world.control('PUT', '/_sim/limits', { provider, perUserUnitsPerMinute: 15_000, batchLimit: 100, timeoutHangMs: 60_000 });
    else {
      await world.control('PUT', '/_sim/limits', { provider, requestsPerWindow: 10_000, windowSeconds: 600 });
      await world.control('PUT', '/_sim/microsoft/config', { faultHangMs: 20_000 });
    }
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  const later = async (ms: number) => {
    world.api.clock.set(new Date(world.api.clock.now().getTime() + ms));
  };
  const poll = () => later((POLL_SECONDS + 1) * 1000);

  /**
   * A connected seat after its historical sync, with work waiting for the next jobs: new mail from a candidate
   * (for the poll) and a candidate who joins the pipeline now (for a backfill). Returns what the seat must end with.
   */
  async function seatWithWork() {
    const { joiner, beforeConnect } = joinsLater(world);
    const c = await mailboxCompany(world, provider, 'tiny', `faults-${provider}-${++seed}`, { beforeConnect });
    await world.drain();
    const state = await world.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
    expect(state.phase).toBe('incremental');
    const expected = oracle(c.generated, { authorizedAt: c.grant.last_authorized_at, firstAuthorizedAt: c.grant.first_authorized_at, syncAt: state.historical_started_at! });
    const final = new Set(c.generated.messages.filter((m) => expected.get(m.key)?.ingested).map((m) => canonical(m.messageId)));
    const sample = receivedCandidateMessage(c);
    const fresh = await world.control('POST', `/_sim/mailboxes/${enc(c.address)}/messages`, { from: sample.people.find((p) => p.kind === 'candidate')!.address, to: c.address, subject: 'Any news?', text: 'Checking in' });
    final.add(canonical(fresh.messageId));
    const project = await c.json('POST', `/api/v1/contracts/${c.contract.id}/projects`, { name: 'Joins now' });
    await c.json('POST', `/api/v1/projects/${project.id}/candidates`, { candidateId: joiner.id });
    await world.control('DELETE', '/_sim/usage');
    return { c, final, fresh: canonical(fresh.messageId) };
  }

  const mailbox = async (c: MailboxCompany) => (await world.api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id })).json();
  const schedules = async () => JSON.stringify((await database.raw.query('SELECT name FROM job_schedules')).rows);

  const changesPath = provider === 'google' ? '/history' : 'messages/delta';
  const bodyPath = provider === 'google' ? 'format=raw' : '$value';
  // The Graph search's `$search` goes out URL-encoded.
  const searchPath = provider === 'google' ? '/messages?' : 'search=';

  it('transient (500, 503, reset, timeout): retried within the run, the jobs converge', async () => {
    const { c, final } = await seatWithWork();
    if (provider === 'google') await world.control('PUT', '/_sim/limits', { provider, timeoutHangMs: 200 });
    else await world.control('PUT', '/_sim/microsoft/config', { faultHangMs: 200 });
    await world.control('POST', '/_sim/faults', { provider, match: { path: changesPath }, fault: 'http_500', count: 1 });
    await world.control('POST', '/_sim/faults', { provider, match: { path: changesPath }, fault: 'reset', count: 1 });
    await world.control('POST', '/_sim/faults', { provider, match: { path: bodyPath }, fault: 'http_503', count: 1 });
    await world.control('POST', '/_sim/faults', { provider, match: { path: bodyPath }, fault: 'timeout', count: 1 });
    await world.control('POST', '/_sim/faults', { provider, match: { path: searchPath }, fault: 'http_500', count: 2 });
    await poll();
    await world.drain();
    expect(await world.control('GET', '/_sim/faults')).toEqual([]);
    expectSameSet(await storedMessageIds(world, c), final);
    expect((await mailbox(c)).email.sync.lastError).toBeNull();
  });

  it('throttled with Retry-After: nothing is asked again before that time, then the jobs converge', async () => {
    const { c, final, fresh } = await seatWithWork();
    // The backfill runs first (the poll is not due yet) and is told to wait two minutes.
    await world.control('POST', '/_sim/faults', { provider, match: { path: searchPath }, fault: 'http_429', count: 1, retryAfterSeconds: 120 });
    await world.drain();
    expect(await world.control('GET', '/_sim/faults')).toEqual([]);
    const listed = await usageOf(world, provider, c.address);
    // A minute later the poll brings the new mail; the backfill still waits.
    await poll();
    await world.drain();
    const stored = await storedMessageIds(world, c);
    expect(stored).toContain(fresh);
    expect(final.size - stored.size).toBeGreaterThan(0);
    const searches = (u: { requests: Record<string, number> }) => u.requests['messages.list'] ?? 0;
    expect(searches(await usageOf(world, provider, c.address))).toBe(searches(listed));
    await later(60_000);
    await world.drain();
    expectSameSet(await storedMessageIds(world, c), final);
  });

  it(`quota exhausted (${provider === 'google' ? '403 userRateLimitExceeded' : '429 ApplicationThrottled'}): the run waits for the quota window, then converges`, async () => {
    const { c, final } = await seatWithWork();
    if (provider === 'google') await world.control('PUT', '/_sim/limits', { provider, perUserUnitsPerMinute: 1 });
    else await world.control('PUT', '/_sim/limits', { provider, requestsPerWindow: 1, windowSeconds: 60 });
    await poll();
    await world.drain();
    expect((await storedMessageIds(world, c)).size).toBeLessThan(final.size);
    // The quota comes back with the next window (the simulators' clock), and the deferred runs go on.
    if (provider === 'google') await world.control('PUT', '/_sim/limits', { provider, perUserUnitsPerMinute: 15_000 });
    else await world.control('PUT', '/_sim/limits', { provider, requestsPerWindow: 10_000, windowSeconds: 600 });
    const simNow = (await world.control('GET', '/_sim/clock')).now;
    await world.control('POST', '/_sim/clock', { now: new Date(Date.parse(simNow) + 10 * 60_000).toISOString() });
    await later(10 * 60_000);
    await world.drain();
    expectSameSet(await storedMessageIds(world, c), final);
  });

  it('auth: a refresh refused (invalid_grant) marks the grant needs_reauthorization with the reason, and syncing stops', async () => {
    const { c, final, fresh } = await seatWithWork();
    // Every renewal is refused (the earlier tests' seats renew at the same time, on the same token endpoint).
    await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/token' : 'oauth2/v2.0/token' }, fault: 'invalid_grant', count: 50 });
    // The access token is due for renewal an hour later.
    await later(61 * 60_000);
    await world.drain();
    const view = await mailbox(c);
    expect(view.email.state).toBe('needs_reauthorization');
    expect(view.email.reason).toMatch(/refused to renew access/);
    expect(await storedMessageIds(world, c)).not.toContain(fresh);
    expect((await storedMessageIds(world, c)).size).toBeLessThan(final.size);
    // Nothing more is asked of the mailbox, and its next poll ends the polling.
    await world.control('DELETE', '/_sim/usage');
    await later(10 * 60_000);
    await world.drain();
    expect((await usageOf(world, provider, c.address)).requests).toEqual({});
    expect(await schedules()).not.toContain(pollScheduleName(c.grant.id));
  });

  it('auth: a token the provider revoked mid-way (401) is renewed once; the refused renewal stops syncing with the reason', async () => {
    const { c, fresh } = await seatWithWork();
    if (provider === 'google') {
      const grant = await world.api.ctx.db.selectFrom('mailbox_authorizations').select(['id', 'access_token_ciphertext']).where('id', '=', c.grant.id).executeTakeFirstOrThrow();
      const token = world.api.cipher.open(grant.access_token_ciphertext!, `${grant.id}:access`);
      const res = await fetch(`${world.sim.url}/google/revoke?token=${enc(token)}`, { method: 'POST' });
      expect(res.status).toBe(200);
    } else {
      await world.control('POST', `/_sim/microsoft/users/${enc(c.address)}/revoke-sessions`);
    }
    await poll();
    await world.drain();
    const view = await mailbox(c);
    expect(view.email.state).toBe('needs_reauthorization');
    expect(view.email.reason).toMatch(/refused/);
    expect(await storedMessageIds(world, c)).not.toContain(fresh);
    await poll();
    await world.drain();
    expect(await schedules()).not.toContain(pollScheduleName(c.grant.id));
  });

  it('permanent (a request the provider refuses, 400): surfaced in sync health, not retried at once, done once the cause is gone', async () => {
    const { c, final, fresh } = await seatWithWork();
    // The backfill's search is refused for as long as the cause lasts; the poll's own requests are not.
    await world.control('POST', '/_sim/faults', { provider, match: { path: searchPath }, fault: 'http_400', count: 100 });
    const refusals = async () => 100 - ((await world.control('GET', '/_sim/faults')) as { remaining: number }[]).reduce((sum, f) => sum + f.remaining, 0);
    await poll();
    await world.drain();
    expect(await storedMessageIds(world, c)).toContain(fresh);
    const health = await c.json('GET', `/api/v1/contracts/${c.contract.id}/sync-health`);
    const seat = health.find((h: { seatId: string }) => h.seatId === c.seat.id);
    expect(seat.sync.lastError).toMatch(/refused the request \(400\)/);
    expect((await mailbox(c)).email.state).toBe('authorized');
    expect(await refusals()).toBe(1);
    // Not retried at the job queue's pace (30 s); it comes back a quarter of an hour later.
    await later(40_000);
    await world.drain();
    expect(await refusals()).toBe(1);
    await world.control('DELETE', '/_sim/faults');
    await later(15 * 60_000);
    await world.drain();
    expectSameSet(await storedMessageIds(world, c), final);
    expect((await mailbox(c)).email.sync.lastError).toBeNull();
  });
});
