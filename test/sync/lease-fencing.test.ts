import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MailClient, MailProviders } from '../../src/providers/mail.ts';
import { runHistoricalSync, runIncrementalSync, type SyncDeps } from '../../src/sync/engine.ts';
import { LeaseLostError } from '../../src/sync/lock.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectedAfterHistorical, expectSameSet, mailboxCompany, receivedCandidateMessage, startWorld, storedMessageIds, type MailboxCompany, type World } from './helpers.ts';

/**
 * R-26 across processes: a run whose lease lapsed while its process still lived (a long pause, a stalled process)
 * must not write anything once another run has taken the grant over — neither its saved position (cursor,
 * checkpoint, phase) nor the mail of the page it held. Here a run is held still right after the provider answered
 * its page; its lease is made to lapse, another run takes over and finishes, then the held run goes on.
 */
const enc = encodeURIComponent;

interface Gate {
  /** Resolves once the held call has its answer (and waits). */
  reached: Promise<void>;
  open(): void;
}

/** Mail providers whose first `method` call, once answered, waits until the gate opens. */
function heldAfter(mail: MailProviders, method: 'changesPage' | 'historicalPage'): { mail: MailProviders; gate: Gate } {
  let reach!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  let held = false;
  const wrap = (client: MailClient): MailClient =>
    new Proxy(client, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== method || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          const answer = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (!held) {
            held = true;
            reach();
            await opened;
          }
          return answer;
        };
      },
    });
  return { mail: { client: (provider) => wrap(mail.client(provider)) }, gate: { reached, open } };
}

describe.each(backends.map((b) => b.name))('lease fencing on %s', (backendName) => {
  describe.each(['google', 'microsoft'] as const)('%s', (provider) => {
    let database: Database;
    let world: World;

    beforeAll(async () => {
      database = await backends.find((b) => b.name === backendName)!.open();
      world = await startWorld(database);
    });
    afterEach(async () => {
      await world.control('DELETE', '/_sim/faults');
    });
    afterAll(async () => {
      await world?.close();
      await database?.close();
    });

    const deliverCandidateMail = (c: MailboxCompany, subject: string) => {
      const person = receivedCandidateMessage(c).people.find((p) => p.kind === 'candidate')!;
      return world.control('POST', `/_sim/mailboxes/${enc(c.address)}/messages`, { from: person.address, to: c.address, subject, text: `About ${subject}` }) as Promise<{ id: string; messageId: string }>;
    };
    /** The held run's process "stalls" past its lease: the lease lapses by the database's clock (no renewal came). */
    const lapse = (c: MailboxCompany) => sql`UPDATE sync_states SET run_lease_until = clock_timestamp() - interval '1 second' WHERE authorization_id = ${c.grant.id}::uuid`.execute(world.api.ctx.db);
    const state = (c: MailboxCompany) =>
      world.api.ctx.db.selectFrom('sync_states').select(['phase', 'cursor', 'checkpoint', 'run_lease_id']).where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
    // A long lease: no renewal beat falls inside the test, as none would in a stalled process.
    const heldDeps = (mail: MailProviders): SyncDeps => ({ ...world.deps, mail, runLeaseMs: 600_000 });

    it('an incremental run that lost its lease writes neither the page it held nor its cursor after the new holder finished', async () => {
      const c = await mailboxCompany(world, provider, 'tiny', `fence-inc-${provider}-${backendName}`);
      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
      const expected = await expectedAfterHistorical(world, c);
      const box = `/_sim/mailboxes/${enc(c.address)}/messages`;

      const x = await deliverCandidateMail(c, 'Seen by the stalled run');
      const { mail, gate } = heldAfter(world.deps.mail, 'changesPage');
      const stalled = runIncrementalSync(heldDeps(mail), c.grant.id);
      stalled.catch(() => undefined);
      await gate.reached;
      await lapse(c);

      // Meanwhile at the provider: the message goes to Trash, and more mail comes.
      await world.control('DELETE', `${box}/${enc(x.id)}?mode=trash`);
      const y = await deliverCandidateMail(c, 'After the takeover');
      // Another process's run takes the grant over and finishes.
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
      const taken = await state(c);
      expected.add(canonical(y.messageId));
      expectSameSet(await storedMessageIds(world, c), expected);

      // The stalled run wakes up with its old page: it stops, and writes nothing.
      gate.open();
      await expect(stalled).rejects.toBeInstanceOf(LeaseLostError);
      expect((await storedMessageIds(world, c)).has(canonical(x.messageId)), 'the trashed message is not stored back from the stale page').toBe(false);
      expect(await state(c)).toEqual(taken);
      expectSameSet(await storedMessageIds(world, c), expected);
    });

    it('a historical run that lost its lease writes neither its checkpoint nor its older cursor after the new holder completed the scan', async () => {
      const c = await mailboxCompany(world, provider, 'tiny', `fence-hist-${provider}-${backendName}`);
      const { mail, gate } = heldAfter(world.deps.mail, 'historicalPage');
      const stalled = runHistoricalSync(heldDeps(mail), c.grant.id);
      stalled.catch(() => undefined);
      await gate.reached;
      await lapse(c);

      const y = await deliverCandidateMail(c, 'During the takeover');
      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
      const taken = await state(c);
      expect(taken).toMatchObject({ phase: 'incremental', checkpoint: null, run_lease_id: null });
      const expected = await expectedAfterHistorical(world, c);
      expected.add(canonical(y.messageId));
      expectSameSet(await storedMessageIds(world, c), expected);

      gate.open();
      await expect(stalled).rejects.toBeInstanceOf(LeaseLostError);
      expect(await state(c)).toEqual(taken);
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
      expectSameSet(await storedMessageIds(world, c), expected);
    });
  });
});
