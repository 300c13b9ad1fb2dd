import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import { startEmailSync } from '../../src/sync/workers.ts';
import type { Database } from '../../src/store/database.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectedAfterHistorical, expectSameSet, mailboxCompany, startWorld, storedMessageIds, type World } from './helpers.ts';

describe.each(['google', 'microsoft'] as const)('re-authorization with %s (R-22, R-23)', (provider) => {
  let database: Database;
  let world: World;

  beforeAll(async () => {
    database = await backends[0]!.open();
    world = await startWorld(database);
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  it('resumes from the cursor within six months: new mail comes in, deletions made while deauthorized stay unmirrored; after more than six months a new historical sync begins', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `reauth-${provider}`);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const expected = await expectedAfterHistorical(world, c);
    expectSameSet(await storedMessageIds(world, c), expected);

    const off = await world.api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(off.statusCode, off.body).toBeLessThan(300);
    // While deauthorized: one stored message deleted in the mailbox, one candidate email arrives.
    const victim = await world.api.ctx.db.selectFrom('mail_messages').select(['provider_message_id']).where('owner_seat_id', '=', c.seat.id).orderBy('sent_at').executeTakeFirstOrThrow();
    await world.control('DELETE', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages/${encodeURIComponent(victim.provider_message_id)}?mode=permanent`);
    const sample = c.generated.messages.find((m) => m.kind === 'candidate' && m.expected.ingested && m.folder === 'inbox')!;
    const candidate = sample.people.find((p) => p.kind === 'candidate')!.address;
    const fresh = await world.control('POST', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`, { from: candidate, to: c.address, subject: 'Back again', text: 'hello' });
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('skipped');

    await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
    const sent: Array<[string, unknown]> = [];
    const jobs = { send: async (queue: string, payload: unknown) => (sent.push([queue, payload]), 'job') };
    await startEmailSync(world.api.ctx, jobs as never, c.seat.id);
    // Resumed from the cursor, with its push channels kept up again.
    expect(sent).toEqual([['sync.mailbox', { authorizationId: c.grant.id, trigger: 'reauthorized' }], ['subscriptions.renew', { authorizationId: c.grant.id }]]);
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
    expected.add(canonical(fresh.messageId));
    expectSameSet(await storedMessageIds(world, c), expected);

    // After the catch-up, deletions are mirrored again.
    const next = await world.api.ctx.db.selectFrom('mail_messages').select(['provider_message_id', 'rfc_message_id']).where('owner_seat_id', '=', c.seat.id).orderBy('sent_at', 'desc').executeTakeFirstOrThrow();
    await world.control('DELETE', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages/${encodeURIComponent(next.provider_message_id)}?mode=trash`);
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
    expected.delete(canonical(next.rfc_message_id));
    expectSameSet(await storedMessageIds(world, c), expected);

    // Deauthorized more than six months before this re-authorization: a new historical sync.
    const off2 = await world.api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(off2.statusCode, off2.body).toBeLessThan(300);
    await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
    await world.api.ctx.db.updateTable('mailbox_authorizations').set({ deauthorized_at: new Date(world.api.clock.now().getTime() - 200 * 86_400_000) }).where('id', '=', c.grant.id).execute();
    sent.length = 0;
    await startEmailSync(world.api.ctx, jobs as never, c.seat.id);
    expect(sent).toEqual([['sync.historical', { authorizationId: c.grant.id }]]);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    // Nothing is stored twice; what was kept stays, and the window holds the same mail.
    expectSameSet(await storedMessageIds(world, c), expected);
  });
});
