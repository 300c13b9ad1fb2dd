import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, mailboxCompany, receivedCandidateMessage, startWorld, storedMessageIds, type World } from './helpers.ts';

/**
 * R-26 with R-37: the reconcile after an expired cursor must not lean on one process's clock. Every worker process
 * has its own product clock; one that has already moved on (by a clock step another has not yet taken) stores a
 * message "later" than the resync another worker then begins. Deleted before the resync's new position, that message
 * is in no change after it: only the reconcile can remove it.
 */
describe.each(backends.flatMap((b) => (['google', 'microsoft'] as const).map((p) => [b.name, p, b] as const)))('reconcile across worker clocks on %s with %s (R-26, R-37)', (_name, provider, backend) => {
  let database: Database;
  let world: World;

  beforeAll(async () => {
    database = await backend.open();
    world = await startWorld(database);
  });
  afterEach(async () => {
    await world.control('DELETE', '/_sim/faults');
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  it('a message stored by a worker whose clock runs ahead, deleted before the resync, is removed by it', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `reconcile-skew-${provider}-${_name}`);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const box = `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`;
    const person = receivedCandidateMessage(c).people.find((p) => p.kind === 'candidate')!;
    const x = (await world.control('POST', box, { from: person.address, to: c.address, subject: 'Stored by the worker ahead', text: 'Hello' })) as { id: string; messageId: string };

    // The worker ahead by a clock step (a minute) stores it.
    const ahead = { now: () => new Date(world.deps.clock.now().getTime() + 61_000) };
    expect(await runIncrementalSync({ ...world.deps, clock: ahead as typeof world.deps.clock }, c.grant.id)).toBe('completed');
    expect((await storedMessageIds(world, c)).has(canonical(x.messageId))).toBe(true);

    // Deleted, then the other worker finds the cursor expired and resyncs.
    await world.control('DELETE', `${box}/${encodeURIComponent(x.id)}?mode=permanent`);
    await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/history' : 'delta' }, fault: 'cursor_expired', count: 1 });
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('resynced');
    expect((await storedMessageIds(world, c)).has(canonical(x.messageId)), 'deleted before the resync: removed by its reconcile').toBe(false);
  });

  it('a message stored by a worker whose clock runs behind the one that began the scan is reconciled too', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `reconcile-behind-${provider}-${_name}`);
    // The scan is begun by a worker ten minutes ahead: when it began is not its clock's to say.
    const ahead = { now: () => new Date(world.deps.clock.now().getTime() + 10 * 60_000) };
    expect(await runHistoricalSync({ ...world.deps, clock: ahead as typeof world.deps.clock }, c.grant.id)).toBe('completed');
    const box = `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`;
    const person = receivedCandidateMessage(c).people.find((p) => p.kind === 'candidate')!;
    const x = (await world.control('POST', box, { from: person.address, to: c.address, subject: 'Stored by the worker behind', text: 'Hello' })) as { id: string; messageId: string };
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
    expect((await storedMessageIds(world, c)).has(canonical(x.messageId))).toBe(true);

    await world.control('DELETE', `${box}/${encodeURIComponent(x.id)}?mode=permanent`);
    await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/history' : 'delta' }, fault: 'cursor_expired', count: 1 });
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('resynced');
    expect((await storedMessageIds(world, c)).has(canonical(x.messageId)), 'deleted before the resync: removed by its reconcile').toBe(false);
  });
});
