import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RetryLaterError } from '../../src/jobs/index.ts';
import { createMailProviders } from '../../src/providers/mail.ts';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import { upkeepGrantPush } from '../../src/sync/push.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { freePort, TEST_PUBSUB_TOPIC } from '../helpers/product.ts';
import { mailboxCompany, startWorld, type World } from './helpers.ts';

/**
 * R-21 after R-26: the push channels asked for at the end of a historical sync may be started late — their first try
 * failed and is retried, or the job simply comes after — while a resync after an expired cursor has begun. The upkeep
 * then must not end with no channel (the mailbox would be kept in step by the poll alone until the next daily round):
 * it comes back, and starts the channels once the resync is done.
 */
describe.each(backends.map((b) => b.name))('push upkeep during a resync on %s', (backendName) => {
  describe.each(['google', 'microsoft'] as const)('%s', (provider) => {
    let database: Database;
    let world: World;
    let deps: World['deps'];

    beforeAll(async () => {
      database = await backends.find((b) => b.name === backendName)!.open();
      world = await startWorld(database);
      // Graph checks the webhook URL when a subscription is created: the product listens.
      const port = await freePort();
      const publicUrl = `http://127.0.0.1:${port}`;
      await world.api.app.listen({ port, host: '127.0.0.1' });
      const mail = createMailProviders({
        google: { baseUrl: `${world.sim.url}/google`, pubsubTopic: TEST_PUBSUB_TOPIC },
        microsoft: { baseUrl: `${world.sim.url}/microsoft`, publicUrl },
        now: () => world.api.clock.now(),
      });
      deps = { ...world.deps, publicUrl, providers: { ...world.deps.providers, push: (p: 'google' | 'microsoft') => mail.push(p) } };
    });
    afterEach(async () => {
      await world.control('DELETE', '/_sim/faults');
    });
    afterAll(async () => {
      await world?.close();
      await database?.close();
    });

    it('an upkeep that finds the grant resyncing comes back, and starts the channels once the resync is done', async () => {
      const c = await mailboxCompany(world, provider, 'tiny', `push-resync-${provider}-${backendName}`);
      expect(await runHistoricalSync(deps, c.grant.id)).toBe('completed');

      // Before the upkeep comes, the cursor expires and the resync stops half-way (its position cannot be read yet).
      await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/history' : 'messages/delta' }, fault: 'cursor_expired', count: 1 });
      await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/profile' : '%24filter=receivedDateTime' }, fault: 'http_500', count: 4 });
      await expect(runIncrementalSync(deps, c.grant.id)).rejects.toThrow();
      const phase = async () => (await world.api.ctx.db.selectFrom('sync_states').select('phase').where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow()).phase;
      expect(await phase()).toBe('historical');

      const early = upkeepGrantPush(deps, c.grant.id);
      await expect(early).rejects.toBeInstanceOf(RetryLaterError);
      const channels = () => world.api.ctx.db.selectFrom('push_subscriptions').select('resource').where('authorization_id', '=', c.grant.id).execute();
      expect(await channels()).toEqual([]);

      expect(await runHistoricalSync(deps, c.grant.id)).toBe('resynced');
      expect(await phase()).toBe('incremental');
      const wanted = deps.providers.push(provider).pushResources();
      expect(wanted.length).toBeGreaterThan(0);
      expect(await upkeepGrantPush(deps, c.grant.id)).toMatchObject({ started: wanted.length, failed: 0 });
      expect((await channels()).map((r) => r.resource).sort()).toEqual([...wanted].sort());
    });
  });
});
