import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowStart } from '../../src/domain/ingestion/index.ts';
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

/**
 * R-23 for a scan stopped half-way and for a grant the provider refused: the six months count from when
 * syncing stopped, and a grant away longer starts a new historical sync relative to the new authorization.
 */
describe.each(backends.flatMap((b) => (['google', 'microsoft'] as const).map((p) => [b.name, p, b] as const)))('re-authorization after a stop on %s with %s (R-12, R-23)', (_name, provider, backend) => {
  let database: Database;
  let world: World;
  const DAY = 86_400_000;

  beforeAll(async () => {
    database = await backend.open();
    world = await startWorld(database);
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  const recorder = () => {
    const sent: Array<[string, unknown]> = [];
    return { sent, jobs: { send: async (queue: string, payload: unknown) => (sent.push([queue, payload]), 'job') } };
  };
  const state = (id: string) => world.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', id).executeTakeFirstOrThrow();
  const grant = (id: string) => world.api.ctx.db.selectFrom('mailbox_authorizations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('a grant deauthorized during its historical scan and re-authorized more than six months later begins a new historical sync with the new window', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `reauth-scan-${provider}`);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    // The scan as it stood when the grant was deauthorized, half-way, with the old authorization's window.
    const oldWindow = new Date(world.api.clock.now().getTime() - 600 * DAY);
    await world.api.ctx.db
      .updateTable('sync_states')
      .set({ phase: 'historical', window_start: oldWindow, cursor: null, checkpoint: JSON.stringify({ scan: null, threads: {}, addresses: [] }), historical_completed_at: null })
      .where('authorization_id', '=', c.grant.id)
      .execute();
    const off = await world.api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(off.statusCode, off.body).toBeLessThan(300);
    await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
    await world.api.ctx.db.updateTable('mailbox_authorizations').set({ deauthorized_at: new Date(world.api.clock.now().getTime() - 200 * DAY) }).where('id', '=', c.grant.id).execute();
    const { sent, jobs } = recorder();
    await startEmailSync(world.api.ctx, jobs as never, c.seat.id);
    expect(sent[0]).toEqual(['sync.historical', { authorizationId: c.grant.id }]);
    expect(await state(c.grant.id)).toMatchObject({ phase: 'idle', checkpoint: null, window_start: null });
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const g = await grant(c.grant.id);
    expect((await state(c.grant.id)).window_start).toEqual(windowStart({ authorizedAt: g.last_authorized_at, firstAuthorizedAt: g.first_authorized_at }));
  });

  it('a catch-up whose cursor the provider expired lists mail from the last sync time, not the whole window, and stores nothing twice', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `reauth-expired-${provider}`);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const expected = await expectedAfterHistorical(world, c);
    const lastSync = (await state(c.grant.id)).last_synced_at!;
    const off = await world.api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(off.statusCode, off.body).toBeLessThan(300);
    const sample = c.generated.messages.find((m) => m.kind === 'candidate' && m.expected.ingested && m.folder === 'inbox')!;
    const candidate = sample.people.find((p) => p.kind === 'candidate')!.address;
    const fresh = await world.control('POST', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`, { from: candidate, to: c.address, subject: 'While away', text: 'hello' });
    await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
    await startEmailSync(world.api.ctx, recorder().jobs as never, c.seat.id);
    await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/history' : 'delta' }, fault: 'cursor_expired', count: 1 });
    // What the scan is asked for: its listings' start.
    const base = world.deps.mail.client(provider);
    const listedSince: Date[] = [];
    const spy = Object.create(base) as typeof base;
    spy.historicalPage = (token, input) => (listedSince.push(input.since), base.historicalPage(token, input));
    expect(await runIncrementalSync({ ...world.deps, mail: { client: () => spy } }, c.grant.id)).toBe('resynced');
    expect(listedSince.length).toBeGreaterThan(0);
    for (const since of listedSince) expect(since.getTime()).toBeGreaterThanOrEqual(lastSync.getTime() - DAY);
    expected.add(canonical(fresh.messageId));
    expectSameSet(await storedMessageIds(world, c), expected);
    expect(await state(c.grant.id)).toMatchObject({ phase: 'incremental', checkpoint: null });
  });

  it('a grant the provider refused records when syncing stopped: reconnected within six months it resumes from its cursor, after more than six months a new historical sync begins', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `reauth-refused-${provider}`);
    expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    const revoke = async () => {
      if (provider === 'google') {
        const row = await grant(c.grant.id);
        const token = world.api.cipher.open(row.refresh_token_ciphertext!, `${row.id}:refresh`);
        expect((await fetch(`${world.sim.url}/google/revoke?token=${encodeURIComponent(token)}`, { method: 'POST' })).status).toBe(200);
      } else await world.control('POST', `/_sim/microsoft/users/${encodeURIComponent(c.address)}/revoke-sessions`);
    };
    /** The next sync meets the refusal: the grant records when syncing stopped (the product clock runs meanwhile). */
    const refusedBetween = async () => {
      const before = world.api.clock.now().getTime();
      expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('stopped');
      const row = await grant(c.grant.id);
      expect(row.state).toBe('needs_reauthorization');
      expect(row.deauthorized_at!.getTime()).toBeGreaterThanOrEqual(before);
      expect(row.deauthorized_at!.getTime()).toBeLessThanOrEqual(world.api.clock.now().getTime());
      return row.deauthorized_at!;
    };
    await revoke();
    const stoppedAt = await refusedBetween();

    // A month later: resumed from the cursor.
    world.api.clock.set(new Date(stoppedAt.getTime() + 30 * DAY));
    await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
    let r = recorder();
    await startEmailSync(world.api.ctx, r.jobs as never, c.seat.id);
    expect(r.sent[0]).toEqual(['sync.mailbox', { authorizationId: c.grant.id, trigger: 'reauthorized' }]);
    expect(await runIncrementalSync(world.deps, c.grant.id)).toBe('completed');

    // Refused again, and reconnected seven months after that: a new historical sync.
    await revoke();
    const stoppedAgain = await refusedBetween();
    world.api.clock.set(new Date(stoppedAgain.getTime() + 210 * DAY));
    await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
    r = recorder();
    await startEmailSync(world.api.ctx, r.jobs as never, c.seat.id);
    expect(r.sent).toEqual([['sync.historical', { authorizationId: c.grant.id }]]);
    expect(await state(c.grant.id)).toMatchObject({ phase: 'idle', cursor: null });
  });
});
