import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { countingDb } from '../helpers/statements.ts';
import { mailboxCompany, receivedCandidateMessage, startWorld, type World } from './helpers.ts';

/**
 * The work of an incremental run that brings one new message (what a push notification starts, R-21): the
 * statements it sends to the database, counted through Kysely.
 */
function counting(world: World) {
  const counted = countingDb(world.api.ctx.db, { log: true });
  return { deps: { ...world.deps, db: counted.db }, statements: counted.log };
}

describe.each(backends.map((b) => b.name))('incremental run statements on %s', (backendName) => {
  let database: Database;
  let world: World;
  beforeAll(async () => {
    database = await backends.find((b) => b.name === backendName)!.open();
    world = await startWorld(database);
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  it.each(['google', 'microsoft'] as const)('%s: a run that stores one new message', async (provider) => {
    const c = await mailboxCompany(world, provider, 'tiny', `statements-${provider}-${backendName}`);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const person = receivedCandidateMessage(c).people.find((p) => p.kind === 'candidate')!;
    await world.control('POST', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`, { from: person.address, to: c.address, subject: 'Counted', text: 'One new message' });
    const run = counting(world);
    // As the job's handler runs it: the grant and its sync state read in one statement, then the run.
    const grant = await run.deps.db
      .selectFrom('mailbox_authorizations as a')
      .leftJoin('sync_states as s', 's.authorization_id', 'a.id')
      .select(['a.seat_id', 'a.state', 'a.kind', 'a.provider', 'a.address', 's.phase'])
      .where('a.id', '=', c.grant.id)
      .executeTakeFirstOrThrow();
    expect(await runIncrementalSync(run.deps, c.grant.id, { grant, phase: grant.phase, hasCursor: true })).toBe('completed');
    // Grant, seat, lease with the sync state; one quota draw (4) and its return; the decision inputs and the store
    // (ingest); the cursor saved with the lease's end. Graph reads its folders' remaining delta pages, asking before
    // each whether the grant is still authorized.
    expect(run.statements.length, run.statements.join(' ')).toBeLessThanOrEqual(provider === 'google' ? 29 : 34);
    // The run's lease is over, and the quota reservation given back (no places in flight left).
    const state = await world.api.ctx.db.selectFrom('sync_states').select(['run_lease_id', 'last_synced_at']).where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
    expect(state.run_lease_id).toBeNull();
    const budget = await world.api.ctx.db.selectFrom('quota_budgets').select('leases').where('provider', '=', provider).where('address', '=', c.address.toLowerCase()).executeTakeFirstOrThrow();
    expect(budget.leases).toEqual([]);
    const stored = await world.api.ctx.db.selectFrom('mail_messages').select('id').where('owner_seat_id', '=', c.seat.id).where('subject', '=', 'Counted').execute();
    expect(stored).toHaveLength(1);
  });
});
