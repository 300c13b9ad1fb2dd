import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryLaterError } from '../../src/jobs/index.ts';
import { runCandidateBackfill } from '../../src/sync/backfill.ts';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import { isLease, LeaseLostError, tryAcquireRunLease } from '../../src/sync/lock.ts';
import { POLL_SECONDS } from '../../src/sync/workers.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectedAfterHistorical, expectSameSet, mailboxCompany, receivedCandidateMessage, startWorld, storedMessageIds, type World } from './helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(backends.map((b) => b.name))('one sync run per grant on %s', (backendName) => {
  let database: Database;
  let world: World;

  beforeAll(async () => {
    database = await backends.find((b) => b.name === backendName)!.open();
    world = await startWorld(database, { jobs: true });
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  it('a run that finds the grant held waits for later and is not lost; a lease whose holder died is taken over; a holder that lost its lease stops', async () => {
    const c = await mailboxCompany(world, 'google', 'tiny', `lock-${backendName}`);
    await world.drain();
    const expected = await expectedAfterHistorical(world, c);
    expectSameSet(await storedMessageIds(world, c), expected);
    const { db, clock } = world.api.ctx;
    const candidateId = (await db.selectFrom('mail_messages').select('candidate_id').where('owner_seat_id', '=', c.seat.id).where('candidate_id', 'is not', null).executeTakeFirstOrThrow()).candidate_id!;
    const sample = receivedCandidateMessage(c);
    const deliver = (subject: string) =>
      world.control('POST', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`, { from: sample.people.find((p) => p.kind === 'candidate')!.address, to: c.address, subject, text: subject });

    // Another process's run holds the grant: every kind of run of this grant is put back for later.
    const held = await tryAcquireRunLease(db, clock, c.grant.id, 'incremental');
    if (!isLease(held)) throw new Error('the grant should be free');
    expect(await tryAcquireRunLease(db, clock, c.grant.id, 'backfill')).toMatchObject({ kind: 'incremental' });
    await expect(runIncrementalSync(world.deps, c.grant.id)).rejects.toBeInstanceOf(RetryLaterError);
    await expect(runHistoricalSync(world.deps, c.grant.id)).rejects.toBeInstanceOf(RetryLaterError);
    await expect(runCandidateBackfill(world.deps, c.grant.id, candidateId)).rejects.toBeInstanceOf(RetryLaterError);

    // Through the queue: the poll finds the grant held; its job comes back once the holder is done.
    const first = await deliver('While another run holds the mailbox');
    world.api.clock.set(new Date(clock.now().getTime() + (POLL_SECONDS + 1) * 1000));
    await world.drain();
    expect(await storedMessageIds(world, c)).not.toContain(canonical(first.messageId));
    const waiting = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'sync.mailbox' AND state = 'created'`.execute(db);
    expect(waiting.rows[0]!.n).toBe(1);
    await held.release();
    world.api.clock.set(new Date(clock.now().getTime() + 6_000));
    await world.drain();
    expected.add(canonical(first.messageId));
    expectSameSet(await storedMessageIds(world, c), expected);

    // A holder that died: its lease lapses by the database's clock, and the next run takes the grant over.
    await sql`UPDATE sync_states SET run_lease_id = gen_random_uuid(), run_lease_kind = 'incremental', run_lease_until = clock_timestamp() + interval '400 milliseconds' WHERE authorization_id = ${c.grant.id}::uuid`.execute(db);
    const second = await deliver('After a worker died');
    await expect(runIncrementalSync(world.deps, c.grant.id)).rejects.toBeInstanceOf(RetryLaterError);
    await sleep(500);
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
    expected.add(canonical(second.messageId));
    expectSameSet(await storedMessageIds(world, c), expected);
    expect(await db.selectFrom('sync_states').select(['run_lease_id', 'run_lease_until', 'run_lease_kind']).where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow()).toEqual({
      run_lease_id: null,
      run_lease_until: null,
      run_lease_kind: null,
    });

    // A holder that froze past its lease learns at its next check that another run has the grant, and its
    // release leaves the new holder's lease alone.
    const stalled = await tryAcquireRunLease(db, clock, c.grant.id, 'historical', 300);
    if (!isLease(stalled)) throw new Error('the grant should be free');
    await sql`UPDATE sync_states SET run_lease_id = gen_random_uuid() WHERE authorization_id = ${c.grant.id}::uuid`.execute(db);
    await sleep(250);
    expect(() => stalled.check()).toThrow(LeaseLostError);
    await stalled.release();
    const after = await db.selectFrom('sync_states').select('run_lease_id').where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
    expect(after.run_lease_id).not.toBeNull();
  });
});
