import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, mailboxCompany, receivedCandidateMessage, startWorld, storedMessageIds, type World } from './helpers.ts';

/**
 * R-37 with R-26 on Microsoft Graph: each folder has its own delta. A message filed from the Inbox into Archive is
 * `@removed` in the Inbox and found in Archive (a move); should it go on to Deleted Items before Archive's delta is
 * read, Archive never saw it arrive, so its delta says nothing of it either. The deletion must still be mirrored.
 */
describe.each(backends.map((b) => b.name))('a message moved and then trashed between two folder reads on %s (R-37)', (backendName) => {
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

  it('is removed once the round has read every folder', async () => {
    const c = await mailboxCompany(world, 'microsoft', 'tiny', `move-trash-${backendName}`);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const box = `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`;
    const sample = receivedCandidateMessage(c);
    const person = sample.people.find((p) => p.kind === 'candidate')!;
    const x = (await world.control('POST', box, { from: person.address, to: c.address, subject: 'Filed then deleted', text: 'Hello' })) as { id: string; messageId: string };
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
    expect((await storedMessageIds(world, c)).has(canonical(x.messageId))).toBe(true);

    // Filed into Archive; then, once the Inbox's delta has been read (the round's first folder), trashed.
    await world.control('POST', `${box}/${encodeURIComponent(x.id)}/move`, { folder: 'archive' });
    const base = world.deps.mail.client('microsoft');
    const spy = Object.create(base) as typeof base;
    let calls = 0;
    spy.changesPage = async (token, from) => {
      const page = await base.changesPage(token, from);
      if (++calls === 1) {
        expect(page.removed).not.toContain(x.id);
        await world.control('DELETE', `${box}/${encodeURIComponent(x.id)}?mode=trash`);
      }
      return page;
    };
    expect(await runIncrementalSync({ ...world.deps, mail: { client: () => spy } }, c.grant.id)).toBe('completed');
    expect(calls).toBeGreaterThan(1);
    // Drained (a later round may be the one that finds it).
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
    expect((await storedMessageIds(world, c)).has(canonical(x.messageId)), 'moved to Archive, then to Deleted Items: removed').toBe(false);
  });
});
