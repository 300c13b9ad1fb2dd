import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobs } from '../../src/jobs/index.ts';
import { registerWorkers } from '../../src/workers.ts';
import type { Database } from '../../src/store/database.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { mailboxCompany, startWorld, usageOf, type MailboxCompany, type World } from './helpers.ts';

const enc = encodeURIComponent;

/**
 * a grant the provider no longer accepts shows as needing reconnection, with the reason, within two minutes of
 * the product's clock — found by the product's own light probe, not by a failing send — and the seat's page and the
 * admin's sync health say the same word.
 */
describe.each(backends.flatMap((b) => (['google', 'microsoft'] as const).map((p) => [b.name, p, b] as const)))('grant health probe on %s with %s', (_name, provider, backend) => {
  let database: Database;
  let world: World;

  beforeAll(async () => {
    database = await backend.open();
    world = await startWorld(database, { jobs: true });
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  const later = async (ms: number) => {
    world.api.clock.set(new Date(world.api.clock.now().getTime() + ms));
    await world.drain();
  };
  const mailbox = async (c: MailboxCompany) => c.json('GET', `/api/v1/seats/${c.seat.id}/mailbox`);
  const health = async (c: MailboxCompany) => (await c.json('GET', `/api/v1/contracts/${c.contract.id}/sync-health`)).find((h: { seatId: string }) => h.seatId === c.seat.id);

  /** Revokes the seat's grant at the provider, as a user removing the app (Google) or an admin ending sessions (Microsoft) would. */
  async function revokeAtProvider(c: MailboxCompany, kind: 'email' | 'calendar') {
    if (provider === 'google') {
      const grant = await world.api.ctx.db.selectFrom('mailbox_authorizations').select(['id', 'refresh_token_ciphertext']).where('seat_id', '=', c.seat.id).where('kind', '=', kind).executeTakeFirstOrThrow();
      const token = world.api.cipher.open(grant.refresh_token_ciphertext!, `${grant.id}:refresh`);
      const res = await fetch(`${world.sim.url}/google/revoke?token=${enc(token)}`, { method: 'POST' });
      expect(res.status).toBe(200);
    } else {
      await world.control('POST', `/_sim/microsoft/users/${enc(c.address)}/revoke-sessions`);
    }
  }

  it('an email grant: "up to date" while mail is read, "reconnect needed" with the reason within two minutes of a revocation, no send attempted; "behind" when mail was not read for ten minutes', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `probe-${provider}`);
    await world.drain();
    const fine = await mailbox(c);
    expect(fine.email.sync).toMatchObject({ phase: 'incremental', status: 'up_to_date', lastError: null });
    expect((await health(c)).sync.status).toBe('up_to_date');

    await world.control('DELETE', '/_sim/usage');
    await revokeAtProvider(c, 'email');
    // Two product-clock minutes, the job queue drained at each.
    await later(60_000);
    await later(60_000);
    const view = await mailbox(c);
    expect(view.email.state).toBe('needs_reauthorization');
    expect(view.email.reason).toMatch(/refused/);
    expect(view.email.sync.status).toBe('reconnect_needed');
    const admin = await health(c);
    expect(admin.email).toMatchObject({ state: 'needs_reauthorization', reason: view.email.reason });
    expect(admin.sync.status).toBe('reconnect_needed');
    const requests = Object.keys((await usageOf(world, provider, c.address)).requests);
    expect(requests.filter((r) => /send/i.test(r))).toEqual([]);

    // A mailbox not read for more than ten minutes is not "up to date", on either page.
    const d = await mailboxCompany(world, provider, 'tiny', `probe-behind-${provider}`);
    await world.drain();
    await world.api.ctx.db.updateTable('sync_states').set({ last_synced_at: new Date(world.api.clock.now().getTime() - 11 * 60_000) }).where('authorization_id', '=', d.grant.id).execute();
    expect((await mailbox(d)).email.sync.status).toBe('behind');
    expect((await health(d)).sync.status).toBe('behind');
  });

  it('a calendar grant, which no sync polls, is found refused by the probe within two minutes', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `probe-cal-${provider}`);
    await world.drain();
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view', calendarEnabled: true });
    await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'calendar', address: c.address });
    expect((await mailbox(c)).calendar.state).toBe('authorized');
    // Nothing wrong: the probe leaves a grant the provider accepts as it is.
    await later(100_000);
    expect((await mailbox(c)).calendar.state).toBe('authorized');

    await revokeAtProvider(c, 'calendar');
    await later(60_000);
    await later(60_000);
    const view = await mailbox(c);
    expect(view.calendar.state).toBe('needs_reauthorization');
    expect(view.calendar.reason).toMatch(/refused/);
    expect((await health(c)).calendar.state).toBe('needs_reauthorization');
  });

  it('after a restart whose provider no longer knows the stored tokens (the demo’s new simulated mailboxes), the probe at start marks the grant before any minute has passed', async () => {
    const c = await mailboxCompany(world, provider, 'tiny', `probe-restart-${provider}`);
    await world.drain();
    expect((await mailbox(c)).email.sync.status).toBe('up_to_date');
    await revokeAtProvider(c, 'email');
    // The process starts again: its workers registered, its queue drained, the clock where it was.
    await world.api.ctx.db.updateTable('mailbox_authorizations').set({ last_authorized_at: new Date(world.api.clock.now().getTime() - 1000) }).where('id', '=', c.grant.id).execute();
    const restarted = createJobs({ database, clock: world.api.clock });
    await restarted.start({ role: 'web' });
    try {
      await registerWorkers(restarted, { ...world.api.ctx, providers: world.api.providers, cipher: world.api.cipher, publicUrl: world.api.publicUrl }, pino({ level: 'silent' }));
      await restarted.drain();
    } finally {
      await restarted.stop();
    }
    const view = await mailbox(c);
    expect(view.email.state).toBe('needs_reauthorization');
    expect(view.email.sync.status).toBe('reconnect_needed');
    expect((await health(c)).sync.status).toBe('reconnect_needed');
  });
});
