import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { createLogger } from '../../src/logging.ts';
import { runHistoricalSync } from '../../src/sync/engine.ts';
import { registerSyncWorkers } from '../../src/sync/workers.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { mailboxCompany, startWorld, type World } from './helpers.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One worker process serves many mailboxes: a sync stuck on a slow provider answer (here a request the simulated
 * Gmail holds for 30 seconds) does not keep the other mailboxes' syncs waiting behind it.
 */
describe.each(backends.map((b) => [b.name, b] as const))('worker slots on %s', (_name, backend) => {
  let database: Database;
  let world: World;
  let jobs: Jobs;

  beforeEach(async () => {
    database = await backend.open();
    world = await startWorld(database);
    jobs = createJobs({ database, clock: world.api.clock, pollIntervalMs: 100 });
    await jobs.start({ role: 'worker' });
    await registerSyncWorkers(jobs, world.deps, createLogger('silent'));
  });
  afterEach(async () => {
    await jobs?.stop();
    await world?.close();
    await database?.close();
  });

  const phase = async (authorizationId: string) =>
    (await world.api.ctx.db.selectFrom('sync_states').select('phase').where('authorization_id', '=', authorizationId).executeTakeFirst())?.phase;

  async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  /** The next request of the simulated Gmail on `path` is held for 20 seconds (then it times out). */
  async function hangNext(path: string): Promise<void> {
    await world.control('PUT', '/_sim/limits', { provider: 'google', timeoutHangMs: 20_000 });
    await world.control('POST', '/_sim/faults', { provider: 'google', match: { path }, fault: 'timeout', count: 1 });
  }

  it('runs another mailbox\'s historical sync while one is stuck on the provider', async () => {
    const slow = await mailboxCompany(world, 'google', 'tiny', 'slots-slow');
    const other = await mailboxCompany(world, 'google', 'tiny', 'slots-other');
    await hangNext('/messages?');
    await jobs.send('sync.historical', { authorizationId: slow.grant.id }, { singletonKey: `sync.historical:${slow.grant.id}` });
    await until('the slow run to be stuck', async () => (await world.control('GET', '/_sim/faults')).length === 0, 10_000);

    await jobs.send('sync.historical', { authorizationId: other.grant.id }, { singletonKey: `sync.historical:${other.grant.id}` });
    await until("the other mailbox's historical sync", async () => (await phase(other.grant.id)) === 'incremental', 15_000);
    expect(await phase(slow.grant.id)).toBe('historical');
  }, 90_000);

  it("runs another mailbox's incremental sync while one is stuck on the provider", async () => {
    const slow = await mailboxCompany(world, 'google', 'tiny', 'slots-slow-inc');
    const other = await mailboxCompany(world, 'google', 'tiny', 'slots-other-inc');
    for (const c of [slow, other]) expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const synced = async (authorizationId: string) =>
      (await world.api.ctx.db.selectFrom('sync_states').select('last_synced_at').where('authorization_id', '=', authorizationId).executeTakeFirstOrThrow()).last_synced_at?.getTime() ?? 0;
    const otherBefore = await synced(other.grant.id);
    // Incremental rounds list Gmail's history: the slow mailbox's next one hangs.
    await hangNext('/history');
    await jobs.send('sync.mailbox', { authorizationId: slow.grant.id, trigger: 'notification' }, { singletonKey: `sync.mailbox:${slow.grant.id}` });
    await until('the slow round to be stuck', async () => (await world.control('GET', '/_sim/faults')).length === 0, 10_000);

    world.api.clock.set(new Date(world.api.clock.now().getTime() + 1000));
    await jobs.send('sync.mailbox', { authorizationId: other.grant.id, trigger: 'notification' }, { singletonKey: `sync.mailbox:${other.grant.id}` });
    await until("the other mailbox's incremental round", async () => (await synced(other.grant.id)) > otherBefore, 15_000);
  }, 90_000);
});
