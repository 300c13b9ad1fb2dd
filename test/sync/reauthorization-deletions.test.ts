import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHistoricalSync, runIncrementalSync } from '../../src/sync/engine.ts';
import { startEmailSync } from '../../src/sync/workers.ts';
import type { Database } from '../../src/store/database.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, mailboxCompany, startWorld, storedMessageIds, type World } from './helpers.ts';

/**
 * R-22 with: after a re-authorization, a message deleted in the mailbox while the grant was away stays in
 * the product, and one deleted after the re-authorization is removed — also while the catch-up is still running,
 * whether the stored cursor still holds (its changes replay the gap's deletions) or the provider expired it.
 */
describe.each(backends.flatMap((b) => (['google', 'microsoft'] as const).map((p) => [b.name, p, b] as const)))('deletions around a re-authorization on %s with %s (R-22, R-23, R-37)', (_name, provider, backend) => {
  let database: Database;
  let world: World;

  beforeAll(async () => {
    database = await backend.open();
    world = await startWorld(database);
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  const jobs = { send: async () => 'job' };

  it.each(['valid', 'expired'] as const)('cursor %s: the gap deletion stays unmirrored, a deletion during the catch-up is mirrored', async (cursor) => {
    const c = await mailboxCompany(world, provider, 'tiny', `reauth-del-${cursor}-${provider}`);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const db = world.api.ctx.db;
    const rows = await db.selectFrom('mail_messages').select(['provider_message_id', 'rfc_message_id']).where('owner_seat_id', '=', c.seat.id).where('origin', '=', 'synced').orderBy('sent_at').limit(2).execute();
    expect(rows).toHaveLength(2);
    const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
    const remove = (id: string) => world.control('DELETE', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages/${encodeURIComponent(id)}?mode=permanent`);

    const off = await world.api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(off.statusCode, off.body).toBeLessThan(300);
    // Deleted while deauthorized: not propagated.
    await remove(a.provider_message_id);

    await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
    await startEmailSync(world.api.ctx, jobs as never, c.seat.id);
    if (cursor === 'expired') await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/history' : 'delta' }, fault: 'cursor_expired', count: 1 });

    // Deleted after the re-authorization, while the catch-up runs (as it starts reading changes): mirrored.
    const base = world.deps.mail.client(provider);
    const spy = Object.create(base) as typeof base;
    let deletedB = false;
    spy.changesPage = async (token, from) => {
      if (!deletedB) {
        deletedB = true;
        await remove(b.provider_message_id);
      }
      return base.changesPage(token, from);
    };
    expect(await runIncrementalSync({ ...world.deps, mail: { client: () => spy } }, c.grant.id)).toBe(cursor === 'valid' ? 'completed' : 'resynced');
    expect(deletedB).toBe(true);
    // Drained.
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');
    let stored = await storedMessageIds(world, c);
    expect(stored.has(canonical(b.rfc_message_id)), 'deleted after the re-authorization: removed').toBe(false);
    expect(stored.has(canonical(a.rfc_message_id)), 'deleted while deauthorized: still listed').toBe(true);

    // A later reconcile (after another expired cursor) leaves the gap's deletion alone too.
    await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/history' : 'delta' }, fault: 'cursor_expired', count: 1 });
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('resynced');
    stored = await storedMessageIds(world, c);
    expect(stored.has(canonical(a.rfc_message_id)), 'deleted while deauthorized: still listed after a reconcile').toBe(true);
    expect(stored.has(canonical(b.rfc_message_id))).toBe(false);
    const kept = await db.selectFrom('mail_messages').select('source_deleted_while_deauthorized_at').where('owner_seat_id', '=', c.seat.id).where('provider_message_id', '=', a.provider_message_id).executeTakeFirstOrThrow();
    expect(kept.source_deleted_while_deauthorized_at).not.toBeNull();
    const state = await db.selectFrom('sync_states').select(['phase', 'checkpoint']).where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
    expect(state).toMatchObject({ phase: 'incremental', checkpoint: null });
  });
});
