import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { createLogger } from '../../src/logging.ts';
import { syncStateView } from '../../src/sync/state.ts';
import { POLL_SECONDS, pollScheduleName, registerSyncWorkers, startSyncForGrant } from '../../src/sync/workers.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectedAfterHistorical, expectSameSet, mailboxCompany, receivedCandidateMessage, startWorld, storedMessageIds, usageOf, type MailboxCompany, type World } from './helpers.ts';

/**
 * The engine driven as production drives it: the grant's historical sync enqueued at authorization, the job
 * queue's drain, the recurring poll following the product clock, provider faults injected on the way.
 */
describe.each(['google', 'microsoft'] as const)('sync jobs with %s (demo mailbox)', (provider) => {
  let database: Database;
  let world: World;
  let jobs: Jobs;

  beforeAll(async () => {
    database = await backends[0]!.open();
    world = await startWorld(database);
    jobs = createJobs({ database, clock: world.api.clock });
    await jobs.start({ role: 'web' });
    await registerSyncWorkers(jobs, world.deps, createLogger('silent'));
  });
  afterAll(async () => {
    await jobs?.stop();
    await world?.close();
    await database?.close();
  });

  async function deliverCandidateMail(c: MailboxCompany, subject: string) {
    const sample = receivedCandidateMessage(c);
    const person = sample.people.find((p) => p.kind === 'candidate')!;
    return world.control('POST', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`, { from: person.address, to: c.address, subject, text: `About ${subject}` });
  }

  it('converges on the oracle through throttling and server errors, then polls for new mail and deletions (R-20, R-21, R-26, R-27, R-37)', async () => {
    const c = await mailboxCompany(world, provider, 'demo', `jobs-${provider}`);
    await world.control('DELETE', '/_sim/usage');
    // Every kind of transient trouble, each once or twice, on the calls the historical sync makes.
    const listPath = provider === 'google' ? '/messages' : 'messages/delta';
    const bodyPath = provider === 'google' ? '/messages/' : '$value';
    await world.control('POST', '/_sim/faults', { provider, match: { path: listPath }, fault: 'http_503', count: 1 });
    await world.control('POST', '/_sim/faults', { provider, match: { path: listPath }, fault: 'http_429', count: 1, retryAfterSeconds: 1 });
    await world.control('POST', '/_sim/faults', { provider, match: { path: bodyPath }, fault: 'http_500', count: 2 });
    // A connection reset, a hang (cut short here), and a long Retry-After that puts the job back for later.
    if (provider === 'google') await world.control('PUT', '/_sim/limits', { provider, timeoutHangMs: 200 });
    else await world.control('PUT', '/_sim/microsoft/config', { faultHangMs: 200 });
    await world.control('POST', '/_sim/faults', { provider, match: { path: listPath }, fault: 'reset', count: 1 });
    // Gmail bodies come in batches, whose parts meet http_* faults only: its hang is on a listing (`/messages?q=…`).
    await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/messages?' : bodyPath }, fault: 'timeout', count: 1 });
    await world.control('POST', '/_sim/faults', { provider, match: { path: listPath }, fault: 'http_429', count: 1, retryAfterSeconds: 120 });

    await startSyncForGrant(world.api.ctx, jobs, c.grant.id);
    const before = await syncStateView(world.api.ctx.db, c.grant.id);
    expect(before.phase).toBe('idle');
    // Four failures in a row outlast the in-run retries: the job's own retry (by the product clock) resumes it.
    await jobs.drain();
    for (let i = 0; i < 10 && (await syncStateView(world.api.ctx.db, c.grant.id)).phase !== 'incremental'; i++) {
      world.api.clock.set(new Date(world.api.clock.now().getTime() + 5 * 60_000));
      await jobs.drain();
    }

    // Every injected fault was met on the way.
    expect(await world.control('GET', '/_sim/faults')).toEqual([]);
    const expected = await expectedAfterHistorical(world, c);
    expect(expected.size).toBeGreaterThan(20);
    expectSameSet(await storedMessageIds(world, c), expected);
    expect((await usageOf(world, provider, c.address)).bodiesServed).toBe(expected.size);
    const view = await syncStateView(world.api.ctx.db, c.grant.id);
    expect(view).toMatchObject({ phase: 'incremental', messagesIngested: expected.size, progress: 1, lastError: null });

    // New mail and a deletion, seen by the recurring poll once the product clock has moved on.
    const fresh = await deliverCandidateMail(c, 'Polling works');
    const victim = await world.api.ctx.db.selectFrom('mail_messages').select(['provider_message_id', 'rfc_message_id']).where('owner_seat_id', '=', c.seat.id).orderBy('sent_at', 'desc').executeTakeFirstOrThrow();
    await world.control('DELETE', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages/${encodeURIComponent(victim.provider_message_id)}?mode=trash`);
    await jobs.drain();
    expect(await storedMessageIds(world, c)).not.toContain(canonical(fresh.messageId));

    world.api.clock.set(new Date(world.api.clock.now().getTime() + (POLL_SECONDS + 1) * 1000));
    await jobs.drain();
    expected.add(canonical(fresh.messageId));
    expected.delete(canonical(victim.rfc_message_id));
    expectSameSet(await storedMessageIds(world, c), expected);
    expect((await syncStateView(world.api.ctx.db, c.grant.id)).lastSyncedAt!.getTime()).toBeGreaterThan(view.lastSyncedAt!.getTime());

    expect(JSON.stringify(await database.raw.query('SELECT name FROM job_schedules'))).toContain(pollScheduleName(c.grant.id));
    // Deauthorized: the poll stops and deletions are no longer mirrored.
    const keep = await world.api.ctx.db.selectFrom('mail_messages').select(['provider_message_id', 'rfc_message_id']).where('owner_seat_id', '=', c.seat.id).orderBy('sent_at', 'desc').executeTakeFirstOrThrow();
    const res = await world.api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(res.statusCode, res.body).toBeLessThan(300);
    await world.control('DELETE', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages/${encodeURIComponent(keep.provider_message_id)}?mode=permanent`);
    world.api.clock.set(new Date(world.api.clock.now().getTime() + (POLL_SECONDS + 1) * 1000));
    await jobs.drain();
    expectSameSet(await storedMessageIds(world, c), expected);
    const schedules = await database.raw.query('SELECT name FROM job_schedules');
    expect(JSON.stringify(schedules)).not.toContain(c.grant.id);
  });
});
