import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectedAfterHistorical, expectSameSet, mailboxCompany, receivedCandidateMessage, startWorld, storedMessageIds, type MailboxCompany, type World } from './helpers.ts';

/**
 * A deletion made while a resync after an expired cursor is under way: between the reconcile and the
 * moment the scan takes its new position, a message deleted in the mailbox is seen by neither. Here the call that
 * reads the new position fails long enough for the run to end, the message is deleted, and the resync resumes.
 */
const enc = encodeURIComponent;

describe.each(backends.map((b) => b.name))('resync deletions on %s', (backendName) => {
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

    const changesPath = provider === 'google' ? '/history' : 'messages/delta';
    // Gmail's new history point is the profile's historyId; Graph's is the filtered delta round the scan begins.
    const positionPath = provider === 'google' ? '/profile' : '%24filter=receivedDateTime';

    async function deliverCandidateMail(c: MailboxCompany, subject: string) {
      const sample = receivedCandidateMessage(c);
      const person = sample.people.find((p) => p.kind === 'candidate')!;
      return world.control('POST', `/_sim/mailboxes/${enc(c.address)}/messages`, { from: person.address, to: c.address, subject, text: `About ${subject}` });
    }

    async function syncedSeat(seed: string) {
      const c = await mailboxCompany(world, provider, 'tiny', `${seed}-${provider}-${backendName}`);
      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
      const expected = await expectedAfterHistorical(world, c);
      expectSameSet(await storedMessageIds(world, c), expected);
      return { c, expected };
    }

    it('a message deleted after the reconcile would have run but before the new position is taken is removed', async () => {
      const { c, expected } = await syncedSeat('resync-gap');
      const victim = await world.api.ctx.db.selectFrom('mail_messages').select(['provider_message_id', 'rfc_message_id']).where('owner_seat_id', '=', c.seat.id).orderBy('sent_at').executeTakeFirstOrThrow();

      await world.control('POST', '/_sim/faults', { provider, match: { path: changesPath }, fault: 'cursor_expired', count: 1 });
      // As many failures as one run retries: the run ends before the scan has its position.
      await world.control('POST', '/_sim/faults', { provider, match: { path: positionPath }, fault: 'http_500', count: 4 });
      const fresh = await deliverCandidateMail(c, 'Any news?');
      await expect(runIncrementalSync(world.deps, c.grant.id)).rejects.toThrow();
      expect(await world.control('GET', '/_sim/faults')).toEqual([]);
      const state = await world.api.ctx.db.selectFrom('sync_states').select(['phase']).where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
      expect(state.phase).toBe('historical');

      // The faults are spent; the synced message is deleted for good before the resync goes on.
      await world.control('DELETE', `/_sim/mailboxes/${enc(c.address)}/messages/${enc(victim.provider_message_id)}?mode=permanent`);
      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('resynced');
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');

      expected.add(canonical(fresh.messageId));
      expected.delete(canonical(victim.rfc_message_id));
      expectSameSet(await storedMessageIds(world, c), expected);
    });

    it('a run stopped during the reconcile resumes it with the position already taken, and deletions on either side of it are removed', async () => {
      const { c, expected } = await syncedSeat('resync-stop');
      const stored = await world.api.ctx.db.selectFrom('mail_messages').select(['provider_message_id', 'rfc_message_id']).where('owner_seat_id', '=', c.seat.id).orderBy('sent_at').execute();
      const [first, second] = stored;

      await world.control('POST', '/_sim/faults', { provider, match: { path: changesPath }, fault: 'cursor_expired', count: 1 });
      await world.control('DELETE', `/_sim/mailboxes/${enc(c.address)}/messages/${enc(first!.provider_message_id)}?mode=permanent`);
      // The reconcile asks for the headers of the message the scan no longer lists: that fails, after the scan's last page.
      const headersPath = `/messages/${enc(first!.provider_message_id)}${provider === 'google' ? '' : '?'}`;
      await world.control('POST', '/_sim/faults', { provider, match: { path: headersPath }, fault: 'http_500', count: 4 });
      await expect(runIncrementalSync(world.deps, c.grant.id)).rejects.toThrow();
      const checkpoint = await world.api.ctx.db.selectFrom('sync_states').select(['checkpoint', 'phase']).where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
      expect(checkpoint.phase).toBe('historical');
      expect((checkpoint.checkpoint as { resync?: { final?: unknown } }).resync?.final).toBeDefined();

      // Deleted after the position was taken: the new cursor's changes carry it.
      await world.control('DELETE', `/_sim/mailboxes/${enc(c.address)}/messages/${enc(second!.provider_message_id)}?mode=trash`);
      await world.control('DELETE', '/_sim/faults');
      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('resynced');
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
      expected.delete(canonical(first!.rfc_message_id));
      expected.delete(canonical(second!.rfc_message_id));
      expectSameSet(await storedMessageIds(world, c), expected);
    });
  });
});
