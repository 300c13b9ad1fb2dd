import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailProviders } from '../../src/providers/mail.ts';
import { runHistoricalSync } from '../../src/sync/engine.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { expectedAfterHistorical, expectSameSet, mailboxCompany, startWorld, storedMessageIds, usageOf, type World } from './helpers.ts';

/**
 * Graph returns at most 5,000 messages (the newest) from a delta round filtered by receivedDateTime. A folder with
 * more mail in the R-35 window must still be read whole: the rest comes from a plain list of the older
 * part. Here the cap is lowered (in the simulator and the client alike) so that a small mailbox exceeds it.
 */
describe('Microsoft historical sync over a folder larger than the filtered delta cap (R-20)', () => {
  const CAP = 2;
  let database: Database;
  let world: World;
  beforeAll(async () => {
    database = await backends[0]!.open();
    world = await startWorld(database);
    await world.control('PUT', '/_sim/microsoft/config', { deltaFilterCap: CAP });
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  const clientWithCap = (deltaFilterCap: number) => ({
    ...world.deps,
    mail: createMailProviders({ google: { baseUrl: `${world.sim.url}/google` }, microsoft: { baseUrl: `${world.sim.url}/microsoft`, pageSize: 2, deltaFilterCap }, now: () => world.api.clock.now() }),
  });

  it('lists the older part of the window after the capped round and stores exactly what the oracle expects', async () => {
    const c = await mailboxCompany(world, 'microsoft', 'tiny', 'graph-cap');
    expect(c.generated.messages.filter((m) => m.folder === 'inbox').length).toBeGreaterThan(3 * CAP);
    await world.control('DELETE', '/_sim/usage');
    expect(await runHistoricalSync(clientWithCap(CAP), c.grant.id)).toBe('completed');
    const expected = await expectedAfterHistorical(world, c);
    expectSameSet(await storedMessageIds(world, c), expected);
    // The older part came from the plain list, and every body fetched was one the rules let in.
    const usage = await usageOf(world, 'microsoft', c.address);
    expect(usage.requests['messages.list']).toBeGreaterThan(0);
    expect(usage.bodiesServed).toBe(expected.size);
  });

  it('a client that trusted the capped round alone would miss mail (what the list is for)', async () => {
    const c = await mailboxCompany(world, 'microsoft', 'tiny', 'graph-cap-naive');
    expect(await runHistoricalSync(clientWithCap(Number.MAX_SAFE_INTEGER), c.grant.id)).toBe('completed');
    const expected = await expectedAfterHistorical(world, c);
    const stored = await storedMessageIds(world, c);
    expect(stored.size).toBeLessThan(expected.size);
    for (const id of stored) expect(expected.has(id)).toBe(true);
  });
});
