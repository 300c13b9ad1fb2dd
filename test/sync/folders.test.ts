import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectedAfterHistorical, expectSameSet, mailboxCompany, startWorld, storedMessageIds, type MailboxCompany, type World } from './helpers.ts';

/**
 * Mail is filed away from the Inbox — into Archive, the user's folders and sub-folders (Outlook), archived or
 * labelled (Gmail) — by hand and by rules on arrival. All of it is the mailbox's mail: it syncs, a
 * move between folders is the same message (neither duplicated nor deleted), and a message moved on to Deleted
 * Items is removed. Junk and Drafts stay out.
 */
describe.each(backends.map((b) => b.name))('mail in every folder on %s', (backendName) => {
  describe.each(['microsoft', 'google'] as const)('%s', (provider) => {
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

    const path = (c: MailboxCompany, rest = '') => `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages${rest}`;

    /** The address of a candidate whose mail the rules let in (so only the folder decides). */
    function candidateAddress(c: MailboxCompany): string {
      const sample = c.generated.messages.find((m) => m.kind === 'candidate' && m.expected.ingested)!;
      return sample.people.find((p) => p.kind === 'candidate')!.address;
    }

    async function deliver(c: MailboxCompany, subject: string, folder: string): Promise<{ id: string; messageId: string }> {
      return world.control('POST', path(c), { from: candidateAddress(c), to: c.address, subject, text: `About ${subject}`, folder });
    }

    async function move(c: MailboxCompany, id: string, folder: string): Promise<void> {
      await world.control('POST', path(c, `/${encodeURIComponent(id)}/move`), { folder });
    }

    const storedIdOf = async (c: MailboxCompany, messageId: string) =>
      (await world.api.ctx.db.selectFrom('mail_messages').select('provider_message_id').where('owner_seat_id', '=', c.seat.id).where('rfc_message_id', '=', messageId).execute()).map((r) => r.provider_message_id);

    it('reads archived and filed mail, follows moves without duplicates or deletions, and removes what moves on to the trash', async () => {
      const c = await mailboxCompany(world, provider, 'tiny', `folders-${provider}`);
      // The generated mailbox files part of its received mail away from the Inbox; a few more, named, on top.
      expect(c.generated.messages.some((m) => m.folder === 'archive' || m.folder.startsWith('user:'))).toBe(true);
      const archived = await deliver(c, 'Archived before the sync', 'archive');
      const filed = await deliver(c, 'Filed into a sub-folder', 'Recruiting/Shortlist');
      const junk = await deliver(c, 'In junk', 'spam');

      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
      const expected = await expectedAfterHistorical(world, c);
      expected.add(canonical(archived.messageId));
      expected.add(canonical(filed.messageId));
      expectSameSet(await storedMessageIds(world, c), expected);
      expect((await storedMessageIds(world, c)).has(canonical(junk.messageId))).toBe(false);

      // A rule files new mail into a folder made after the sync began: the next incremental run finds the folder.
      const ruled = await deliver(c, 'Filed by a rule into a new folder', 'Clients/Acme');
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
      expected.add(canonical(ruled.messageId));
      expectSameSet(await storedMessageIds(world, c), expected);

      // Moves between folders: the same message, kept once under the same id.
      const before = await storedIdOf(c, archived.messageId);
      expect(before).toEqual([archived.id]);
      await move(c, archived.id, 'Recruiting/Shortlist');
      await move(c, filed.id, 'inbox');
      await move(c, ruled.id, 'archive');
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
      expectSameSet(await storedMessageIds(world, c), expected);
      expect(await storedIdOf(c, archived.messageId)).toEqual(before);

      // Moved from a filed folder to the trash, or to junk: gone from the product.
      await move(c, archived.id, 'trash');
      await move(c, ruled.id, 'spam');
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
      expected.delete(canonical(archived.messageId));
      expected.delete(canonical(ruled.messageId));
      expectSameSet(await storedMessageIds(world, c), expected);
    });
  });
});
