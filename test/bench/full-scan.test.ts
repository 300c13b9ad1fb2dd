import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullScan } from '../../bench/full-scan.ts';
import { companyMailbox, connectCompany, loadMailbox, oracleIngested, openBenchDatabase, startSim, startWorld, type World } from '../../bench/world.ts';
import type { Database } from '../../src/store/database.ts';

/**
 * The full scan the sync benchmark compares ours with must be the honest strategy it claims to be: every listed
 * message fetched in full and charged by the simulator's accounting, and the rules applied afterwards letting in
 * exactly what the generator's oracle expects.
 */
describe.each(['google', 'microsoft'] as const)('bench full scan on %s', (provider) => {
  let sim: Awaited<ReturnType<typeof startSim>>;
  let database: Database;
  let world: World;
  const now = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);

  beforeAll(async () => {
    sim = await startSim(now);
    database = await openBenchDatabase('pglite');
    world = await startWorld(database, sim.url, now);
  });
  afterAll(async () => {
    await world.close();
    await database.close();
    await sim.close();
  });

  it('fetches every listed message in full, is charged for each, and lets in what the oracle expects', async () => {
    const mailbox = companyMailbox(`scan-${provider}`, 'tiny', now);
    const ids = await loadMailbox(sim.state, provider, mailbox);
    const seat = await connectCompany(world, sim.control, provider, mailbox);
    sim.state.usage.reset();
    const noWait = async () => {
      throw new Error('the default quota is not reached by a tiny mailbox');
    };
    const result = await fullScan(world.deps, provider, seat.authorizationId, sim.url, noWait);

    const usage = (await sim.control('GET', '/_sim/usage'))[provider][seat.address.toLowerCase()];
    const spam = mailbox.generated.messages.filter((m) => m.folder === 'spam').length;
    // Gmail lists without spam and trash (its default); Graph lists every folder.
    const listed = provider === 'google' ? ids.size - spam : ids.size;
    expect(result.listed).toBe(listed);
    expect(usage.bodiesServed).toBe(listed);
    if (provider === 'google') {
      expect(usage.requests['messages.get']).toBe(listed);
      expect(usage.units).toBe(5 * listed + 5 * usage.requests['messages.list']);
    } else {
      expect(usage.requests['messages.getMime']).toBe(listed);
      expect(usage.units).toBe(listed + usage.requests['messages.list'] + usage.requests['mailFolders.get']);
    }

    const expected = await oracleIngested(world, seat, mailbox.generated);
    const expectedIds = new Set(mailbox.generated.messages.filter((m) => expected.has(m.key)).map((m) => m.messageId.replace(/^<|>$/g, '').toLowerCase()));
    expect(expectedIds.size).toBeGreaterThan(0);
    expect([...result.ingestedMessageIds].sort()).toEqual([...expectedIds].sort());
  });
});
