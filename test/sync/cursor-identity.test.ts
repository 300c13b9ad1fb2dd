import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { windowStart } from '../../src/domain/ingestion/index.ts';
import { up } from '../../src/store/migrations/0013_sync_cursor_identity.ts';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import { startEmailSync } from '../../src/sync/workers.ts';
import type { Database } from '../../src/store/database.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectedAfterHistorical, expectSameSet, mailboxCompany, receivedCandidateMessage, startWorld, storedMessageIds, type MailboxCompany, type Provider, type World } from './helpers.ts';

/**
 * A sync state's cursor belongs to the provider and mailbox that issued it: a seat re-authorized at
 * another provider (a provider change) or with another mailbox starts a historical sync of its own, its window
 * relative to this authorization; the mail already stored stays.
 */
const enc = encodeURIComponent;
const other = (p: Provider): Provider => (p === 'google' ? 'microsoft' : 'google');

describe.each(backends.map((b) => b.name))('on %s', (backendName) => {
  describe.each(['google', 'microsoft'] as const)('cursor identity, starting with %s', (provider) => {
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

    const candidateAddress = (c: MailboxCompany) => receivedCandidateMessage(c).people.find((p) => p.kind === 'candidate')!.address;

    /** A seat synced at `provider`, and a second mailbox (`to`, at `address`) holding one candidate email. */
    async function seatAndNewMailbox(seed: string, to: Provider, address: (c: MailboxCompany) => string) {
      const c = await mailboxCompany(world, provider, 'tiny', `${seed}-${provider}-${backendName}`);
      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
      const expected = await expectedAfterHistorical(world, c);
      expectSameSet(await storedMessageIds(world, c), expected);
      const before = await world.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
      expect(before).toMatchObject({ phase: 'incremental', cursor_provider: provider, cursor_address: c.address });

      const next = address(c);
      // The company's domain moves to the other provider (a provider change), or stays (another mailbox).
      if (to !== provider) await world.control('POST', '/_sim/tenants', { provider: to, domain: c.domain });
      await world.control('POST', '/_sim/mailboxes', { provider: to, address: next });
      const fresh = await world.control('POST', `/_sim/mailboxes/${enc(next)}/messages`, { from: candidateAddress(c), to: next, subject: 'Over here now', text: 'hello' });
      // Mail in the old mailbox after the change is not this grant's any more.
      await world.control('POST', `/_sim/mailboxes/${enc(c.address)}/messages`, { from: candidateAddress(c), to: c.address, subject: 'Old mailbox', text: 'hello' });
      return { c, expected, next, fresh: canonical(fresh.messageId) };
    }

    async function reauthorize(c: MailboxCompany, to: Provider, address: string) {
      if (to !== provider) {
        const res = await world.api.call('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { token: c.contractToken, body: { emailProvider: to, emailAccess: 'view' } });
        expect(res.statusCode, res.body).toBeLessThan(300);
      }
      const done = await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
      expect(done.outcome?.authorization, done.location).toBe('connected');
      const grant = await world.api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('id', '=', c.grant.id).executeTakeFirstOrThrow();
      expect({ provider: grant.provider, address: grant.address }).toEqual({ provider: to, address });
      return grant;
    }

    async function expectFreshHistorical(c: MailboxCompany, to: Provider, address: string, lastAuthorizedAt: Date) {
      const state = await world.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
      expect(state).toMatchObject({ phase: 'incremental', cursor_provider: to, cursor_address: address });
      // R-35 relative to this authorization.
      expect(state.window_start).toEqual(windowStart({ authorizedAt: lastAuthorizedAt, firstAuthorizedAt: c.grant.first_authorized_at }));
      expect(state.historical_started_at!.getTime()).toBeGreaterThanOrEqual(lastAuthorizedAt.getTime());
    }

    it(`provider change (R-06): re-authorized at ${other(provider)}, the seat starts its own historical sync; the cursor of ${provider} is never handed on`, async () => {
      const to = other(provider);
      const { c, expected, next, fresh } = await seatAndNewMailbox('provider-change', to, (x) => `rita.moved@${x.domain}`);
      const grant = await reauthorize(c, to, next);

      const sent: Array<[string, unknown]> = [];
      const jobs = { send: async (queue: string, payload: unknown) => (sent.push([queue, payload]), 'job') };
      await startEmailSync(world.api.ctx, jobs as never, c.seat.id);
      expect(sent[0]).toEqual(['sync.historical', { authorizationId: c.grant.id }]);
      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
      await expectFreshHistorical(c, to, next, grant.last_authorized_at);
      // What was stored from the old provider stays; the new mailbox's candidate mail comes in.
      expected.add(fresh);
      expectSameSet(await storedMessageIds(world, c), expected);
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
      expectSameSet(await storedMessageIds(world, c), expected);

      // The new provider's cursor expires later: its reconcile takes back only what its own mailbox no longer has,
      // never the mail stored from the old provider (which the new one has never heard of).
      await world.control('POST', '/_sim/faults', { provider: to, match: { path: to === 'google' ? '/history' : 'messages/delta' }, fault: 'cursor_expired', count: 1 });
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('resynced');
      expectSameSet(await storedMessageIds(world, c), expected);
    });

    it('another mailbox at the same provider (re-authorized with another address): a new historical sync, also when a poll runs before the sync is restarted', async () => {
      const { c, expected, next, fresh } = await seatAndNewMailbox('address-change', provider, (x) => `rita.new@${x.domain}`);
      const grant = await reauthorize(c, provider, next);

      // The poll reaches the engine first: the old mailbox's cursor is not used for this one.
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
      await expectFreshHistorical(c, provider, next, grant.last_authorized_at);
      expected.add(fresh);
      expectSameSet(await storedMessageIds(world, c), expected);

      // And the sync started at the re-authorization resumes this mailbox's own cursor.
      const sent: Array<[string, unknown]> = [];
      const jobs = { send: async (queue: string, payload: unknown) => (sent.push([queue, payload]), 'job') };
      await startEmailSync(world.api.ctx, jobs as never, c.seat.id);
      expect(sent[0]).toEqual(['sync.mailbox', { authorizationId: c.grant.id, trigger: 'reauthorized' }]);
    });

    it('migration 0013 gives states with a cursor or a scan their grant\'s provider and address', async () => {
      const c = await mailboxCompany(world, provider, 'tiny', `migration-${provider}-${backendName}`);
      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
      // The table as it was before 0013, with this seat's state in it.
      await sql`ALTER TABLE sync_states DROP COLUMN cursor_provider, DROP COLUMN cursor_address, DROP COLUMN cursor_since`.execute(world.api.ctx.db);
      await up(world.api.ctx.db as never);
      const state = await world.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
      expect(state).toMatchObject({ phase: 'incremental', cursor_provider: provider, cursor_address: c.address.toLowerCase(), cursor_since: null });
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
    });
  });
});
