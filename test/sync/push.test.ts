import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { BOSS_SCHEMA } from '../../src/jobs/queue-clock.ts';
import { POLL_SECONDS, pollScheduleName } from '../../src/sync/workers.ts';
import type { TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestProduct, TEST_PUBSUB_TOPIC, type TestProduct } from '../helpers/product.ts';
import type { TestSimulators } from '../helpers/simulators.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * R-21 end to end, through the simulators and the product's API with the job queue: a grant's historical sync ends
 * with push channels at the provider; new candidate mail is announced, and the announcement alone (the poll removed,
 * the product clock untouched) brings it into the API; the poll still brings it when push is dropped; channels are
 * renewed, recreated and ended (R-22, R-70) as the provider expects.
 */

type Company = Awaited<ReturnType<typeof createCompany>>;

describe.each(['google', 'microsoft'] as const)('push notifications with %s (R-21)', (provider) => {
  let product: TestProduct;
  let api: TestApi;
  let sim: TestSimulators;
  let c: Company;
  let grantId: string;
  const domain = `push-${provider}.test`;
  const address = `rita@${domain}`;
  const box = `/_sim/mailboxes/${encodeURIComponent(address)}/messages`;

  const drain = async () => (await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' })).json().ran as number;
  const subjects = async (company: Company = c) => {
    const threads = (await api.call('GET', `/api/v1/candidates/${company.candidate.id}/messages`, { token: company.contractToken, actAs: company.recruiter.id })).json();
    return threads.flatMap((t: { messages: Array<{ subject: string }> }) => t.messages.map((m) => m.subject)) as string[];
  };
  const storedProviderId = async (subject: string) =>
    (await api.ctx.db.selectFrom('mail_messages').select('provider_message_id').where('subject', '=', subject).executeTakeFirst())?.provider_message_id;
  /** Sync jobs a notification has enqueued so far (waiting, running or done). */
  const notificationJobs = async () =>
    Number(
      (await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(`${BOSS_SCHEMA}.job`)} WHERE name = 'sync.mailbox' AND data->>'trigger' = 'notification' AND data->>'authorizationId' = ${grantId}`.execute(api.ctx.db)).rows[0]!.n,
    );
  /** The provider has had its answer from our webhook for every notification sent so far. */
  const delivered = async (): Promise<Array<{ status: number | string | null }>> => {
    if (provider === 'microsoft') {
      await sim.control('POST', '/_sim/microsoft/flush');
      return sim.control('GET', '/_sim/microsoft/deliveries');
    }
    return waitFor('Pub/Sub pushes answered', async () => {
      const pushes: Array<{ emailAddress: string; status: number | null; error?: string }> = await sim.control('GET', '/_sim/google/pushes');
      const mine = pushes.filter((p) => p.emailAddress.toLowerCase() === address);
      return mine.every((p) => p.status !== null || p.error) && mine;
    });
  };
  const channels = async (): Promise<Array<{ id: string; resource: string; expirationDateTime: string; clientState: string | null; notificationUrl: string; changeType: string }>> => {
    if (provider === 'google') {
      const watches: Array<{ address: string; topicName: string; expiration: string; labelIds: string[] }> = await sim.control('GET', '/_sim/google/watches');
      return watches
        .filter((w) => w.address.toLowerCase() === address)
        .map((w) => ({ id: w.address, resource: w.topicName, expirationDateTime: new Date(Number(w.expiration)).toISOString(), clientState: null, notificationUrl: '', changeType: w.labelIds.join(',') }));
    }
    const subs: Array<{ id: string; address: string; resource: string; expirationDateTime: string; clientState: string; notificationUrl: string; changeType: string }> = await sim.control('GET', '/_sim/microsoft/subscriptions');
    return subs.filter((s) => s.address.toLowerCase() === address);
  };

  beforeAll(async () => {
    product = await startTestProduct({ jobs: true, push: true });
    ({ api, sim } = product);
    c = await createCompany(api, 'Push Co', domain);
    await sim.control('POST', '/_sim/tenants', { provider, domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address });
    await sim.control('POST', box, { from: 'Carla <carla@mail.example>', to: address, subject: 'Before the sync', text: 'Hello Rita', date: new Date(api.clock.now().getTime() - 86_400_000).toISOString() });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
    await drain();
    grantId = (await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('seat_id', '=', c.seat.id).executeTakeFirstOrThrow()).id;
  });
  afterAll(() => product?.close());

  it('a grant whose historical sync completed has its channels at the provider', async () => {
    expect(await subjects()).toEqual(['Before the sync']);
    const live = await channels();
    const rows = await api.ctx.db.selectFrom('push_subscriptions').selectAll().where('authorization_id', '=', grantId).orderBy('resource').execute();
    if (provider === 'google') {
      expect(live).toEqual([expect.objectContaining({ resource: TEST_PUBSUB_TOPIC, changeType: 'INBOX,SENT' })]);
      expect(rows.map((r) => [r.external_id, r.resource, r.client_state_hash])).toEqual([[address, TEST_PUBSUB_TOPIC, null]]);
    } else {
      expect(live.map((s) => s.resource).sort()).toEqual(["me/mailFolders('inbox')/messages", "me/mailFolders('sentitems')/messages"]);
      for (const s of live) {
        expect(s).toMatchObject({ changeType: 'created,deleted', notificationUrl: `${api.publicUrl}/webhooks/microsoft/notifications` });
        expect(s.clientState).toMatch(/^[A-Za-z0-9_-]{43}$/);
      }
      expect(rows.map((r) => r.external_id).sort()).toEqual(live.map((s) => s.id).sort());
      // The clientState is kept only as a hash.
      for (const r of rows) expect(r.client_state_hash).not.toContain(live.find((s) => s.id === r.external_id)!.clientState);
    }
    for (const r of rows) expect(Math.abs(r.expires_at.getTime() - new Date(live.find((s) => s.id === r.external_id)!.expirationDateTime).getTime())).toBeLessThan(1000);
    // The seat's mailbox view and the admin's sync health say that push is on, and until when.
    const firstExpiry = new Date(Math.min(...rows.map((r) => r.expires_at.getTime()))).toISOString();
    const mailbox = (await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id })).json();
    expect(mailbox.email.sync.push).toEqual({ channels: rows.length, expiresAt: firstExpiry });
    const health = await c.json('GET', `/api/v1/contracts/${c.contract.id}/sync-health`);
    expect(health.find((h: { seatId: string }) => h.seatId === c.seat.id).sync.push).toEqual({ channels: rows.length, expiresAt: firstExpiry });
  });

  it('with push dropped by the provider, the poll still brings new mail once the product clock passes its interval', async () => {
    await sim.control('PUT', '/_sim/push', { provider, enabled: false });
    try {
      const before = await notificationJobs();
      const sent = await sim.control('POST', box, { from: 'Carla <carla@mail.example>', to: address, subject: 'Only the poll sees this', text: 'Dropped push' });
      await delivered();
      await drain();
      expect(await notificationJobs()).toBe(before);
      api.clock.set(new Date(api.clock.now().getTime() + (POLL_SECONDS + 1) * 1000));
      await drain();
      expect(await subjects()).toContain('Only the poll sees this');
      expect(await storedProviderId('Only the poll sees this')).toBe(sent.id);
      expect(await notificationJobs()).toBe(before);
    } finally {
      await sim.control('PUT', '/_sim/push', { provider, enabled: true });
    }
  });

  it('new candidate mail is announced and readable through the API without the poll or a clock move', async () => {
    await product.jobs!.unschedule(pollScheduleName(grantId));
    const clockBefore = api.clock.now().getTime();
    const before = await notificationJobs();
    const sent = await sim.control('POST', box, { from: 'Carla <carla@mail.example>', to: address, subject: 'Announced by push', text: 'New news' });
    await waitFor('a notification-triggered sync', async () => (await notificationJobs()) > before);
    await drain();
    expect(await subjects()).toContain('Announced by push');
    expect(await storedProviderId('Announced by push')).toBe(sent.id);
    expect(api.clock.now().getTime() - clockBefore).toBeLessThan(POLL_SECONDS * 1000);
  });

  // Lifecycle notifications are Graph's own (a Gmail watch has none).
  if (provider === 'microsoft') it('lifecycle: missed brings a sync, reauthorizationRequired a renewal, subscriptionRemoved a new subscription', async () => {
    const inbox = () => channels().then((all) => all.find((s) => s.resource.includes('inbox'))!);
    // missed: Graph dropped notifications, so only a sync can say what changed.
    await sim.control('PUT', '/_sim/push', { provider, enabled: false });
    await sim.control('POST', box, { from: 'Carla <carla@mail.example>', to: address, subject: 'Missed by push', text: 'Dropped' });
    await sim.control('PUT', '/_sim/push', { provider, enabled: true });
    const before = await notificationJobs();
    await sim.control('POST', `/_sim/microsoft/subscriptions/${(await inbox()).id}/lifecycle`, { event: 'missed' });
    expect(await notificationJobs()).toBe(before + 1);
    await drain();
    expect(await subjects()).toContain('Missed by push');

    // reauthorizationRequired: the subscription is renewed (PATCH), which also reauthorizes it.
    const old = await inbox();
    api.clock.set(new Date(api.clock.now().getTime() + 60_000));
    await sim.control('POST', `/_sim/microsoft/subscriptions/${old.id}/lifecycle`, { event: 'reauthorizationRequired' });
    await drain();
    const renewed = await inbox();
    expect(renewed.id).toBe(old.id);
    expect(new Date(renewed.expirationDateTime).getTime()).toBeGreaterThan(new Date(old.expirationDateTime).getTime());
    expect((await sim.control('GET', '/_sim/microsoft/subscriptions')).find((s: { id: string }) => s.id === old.id).needsReauthorization).toBe(false);
    const row = await api.ctx.db.selectFrom('push_subscriptions').selectAll().where('external_id', '=', old.id).executeTakeFirstOrThrow();
    expect(row.expires_at.toISOString()).toBe(new Date(renewed.expirationDateTime).toISOString());
    expect(row.renew_requested_at).toBeNull();

    // subscriptionRemoved: Microsoft dropped it; a new one takes its place, and mail flows through it.
    await sim.control('POST', `/_sim/microsoft/subscriptions/${old.id}/lifecycle`, { event: 'subscriptionRemoved' });
    await drain();
    const recreated = await inbox();
    expect(recreated.id).not.toBe(old.id);
    const rows = await api.ctx.db.selectFrom('push_subscriptions').select(['external_id']).where('authorization_id', '=', grantId).execute();
    expect(rows.map((r) => r.external_id).sort()).toEqual((await channels()).map((s) => s.id).sort());
    const count = await notificationJobs();
    await sim.control('POST', box, { from: 'Carla <carla@mail.example>', to: address, subject: 'Through the new subscription', text: 'Hi' });
    await waitFor('a notification-triggered sync', async () => (await notificationJobs()) > count);
    await drain();
    expect(await subjects()).toContain('Through the new subscription');
  });

  it('the recurring renewal renews channels before they expire', async () => {
    const before = await channels();
    const rows = await api.ctx.db.selectFrom('push_subscriptions').select(['external_id', 'expires_at']).where('authorization_id', '=', grantId).execute();
    const earliest = Math.min(...rows.map((r) => r.expires_at.getTime()));
    // Both clocks half a day before the first expiry: inside the renewal margin, outside Graph's reauthorization lead.
    const near = new Date(earliest - 12 * 3600_000);
    await sim.control('POST', '/_sim/clock', { now: near.toISOString() });
    api.clock.set(near);
    await drain();
    const after = await channels();
    expect(after.map((s) => s.id).sort()).toEqual(before.map((s) => s.id).sort());
    for (const s of after) {
      const was = before.find((b) => b.id === s.id)!;
      expect(new Date(s.expirationDateTime).getTime()).toBeGreaterThan(new Date(was.expirationDateTime).getTime() + 5 * 86_400_000);
    }
    const stored = await api.ctx.db.selectFrom('push_subscriptions').select(['external_id', 'expires_at', 'renewed_at']).where('authorization_id', '=', grantId).execute();
    for (const r of stored) {
      expect(r.expires_at.toISOString()).toBe(new Date(after.find((s) => s.id === r.external_id)!.expirationDateTime).toISOString());
      expect(r.renewed_at).not.toBeNull();
    }
    // And push still works afterwards.
    const count = await notificationJobs();
    await sim.control('POST', box, { from: 'Carla <carla@mail.example>', to: address, subject: 'After the renewal', text: 'Hi' });
    await waitFor('a notification-triggered sync', async () => (await notificationJobs()) > count);
    await drain();
    expect(await subjects()).toContain('After the renewal');
  });

  it('deauthorization ends the channels at the provider before the token is revoked, retrying a failed stop (R-22)', async () => {
    const live = await channels();
    expect(live.length).toBeGreaterThan(0);
    const revocationsOf = async (): Promise<Array<{ provider: string; kind: string; id: string }>> => (await sim.control('GET', '/_sim/revocations'))[address] ?? [];
    // The provider fails the first stop: it is tried again later, and the grant's token waits for it.
    await sim.control('POST', '/_sim/faults', { provider, match: provider === 'google' ? { path: 'users/me/stop' } : { method: 'DELETE', path: 'subscriptions/' }, fault: 'http_503', count: 1 });
    const res = await api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
    expect(res.statusCode, res.body).toBe(200);
    expect(await api.ctx.db.selectFrom('push_subscriptions').select('id').where('authorization_id', '=', grantId).execute()).toEqual([]);
    await drain();
    expect(await sim.control('GET', '/_sim/faults')).toEqual([]);
    expect(await channels()).toHaveLength(1);
    expect((await revocationsOf()).filter((r) => r.kind === 'token')).toEqual([]);
    expect(await api.ctx.db.selectFrom('push_stops').select('attempts').execute()).toEqual([{ attempts: 1 }]);
    // The next round of tokens.revoke (every five minutes) ends it, then revokes the token.
    api.clock.set(new Date(api.clock.now().getTime() + 5 * 60_000 + 1000));
    await drain();
    expect(await channels()).toEqual([]);
    const revocations = await revocationsOf();
    if (provider === 'google') {
      // The watch is stopped first, then the grant's tokens (refresh and access) are revoked.
      expect(revocations[0]?.kind).toBe('watch');
      expect(revocations.slice(1).length).toBeGreaterThan(0);
      expect(revocations.slice(1).every((r) => r.kind === 'token')).toBe(true);
    } else {
      expect(revocations.filter((r) => r.kind === 'subscription').map((r) => r.id).sort()).toEqual(live.map((s) => s.id).sort());
    }
    expect(await api.ctx.db.selectFrom('push_stops').select('id').execute()).toEqual([]);
    const mailbox = (await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id })).json();
    expect(mailbox.email.sync.push).toEqual({ channels: 0, expiresAt: null });
    // Mail after the deauthorization wakes nothing.
    const count = await notificationJobs();
    await sim.control('POST', box, { from: 'Carla <carla@mail.example>', to: address, subject: 'After deauthorization', text: 'Hi' });
    await delivered();
    expect(await notificationJobs()).toBe(count);
  });

  it('suspension ends the contract’s channels at the provider and deletes them with the rest (R-70)', async () => {
    const otherDomain = `push2-${provider}.test`;
    const other = await createCompany(api, 'Suspended Co', otherDomain);
    const otherAddress = `rita@${otherDomain}`;
    await sim.control('POST', '/_sim/tenants', { provider, domain: otherDomain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: otherAddress });
    await other.json('PUT', `/api/v1/contracts/${other.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
    await connectMailbox(api, { seatId: other.seat.id, userId: other.recruiter.id, token: other.contractToken, kind: 'email', address: otherAddress });
    await drain();
    const rows = await api.ctx.db.selectFrom('push_subscriptions').select(['external_id']).where('contract_id', '=', other.contract.id).execute();
    expect(rows).toHaveLength(provider === 'google' ? 1 : 2);
    const res = await api.call('PATCH', `/api/v1/contracts/${other.contract.id}`, { body: { status: 'suspended' } });
    expect(res.statusCode, res.body).toBe(200);
    // The deletion is a job (R-70): the answer carries its receipt, queued; the counts are there once it ran.
    expect(res.json().deletionReceipt.status).toBe('queued');
    await drain();
    const receipt = await api.call('GET', `/api/v1/contracts/${other.contract.id}/deletion-receipts/${res.json().deletionReceipt.id}`);
    expect(receipt.json()).toMatchObject({ status: 'done', counts: { pushSubscriptions: rows.length } });
    const revocations: Array<{ kind: string; id: string }> = (await sim.control('GET', '/_sim/revocations'))[otherAddress] ?? [];
    if (provider === 'google') {
      expect(revocations[0]?.kind).toBe('watch');
      expect(revocations.slice(1).length).toBeGreaterThan(0);
      expect(revocations.slice(1).every((r) => r.kind === 'token')).toBe(true);
      expect((await sim.control('GET', '/_sim/google/watches')).filter((w: { address: string }) => w.address === otherAddress)).toEqual([]);
    } else {
      expect(revocations.filter((r) => r.kind === 'subscription').map((r) => r.id).sort()).toEqual(rows.map((r) => r.external_id).sort());
      expect((await sim.control('GET', '/_sim/microsoft/subscriptions')).filter((s: { address: string }) => s.address === otherAddress)).toEqual([]);
    }
    expect(await api.ctx.db.selectFrom('push_subscriptions').select('id').where('contract_id', '=', other.contract.id).execute()).toEqual([]);
  });
});

describe('without push configured (no Pub/Sub topic, no public URL for Graph)', () => {
  let product: TestProduct;
  beforeAll(async () => {
    product = await startTestProduct({ jobs: true });
  });
  afterAll(() => product?.close());

  it('asks no provider for push: the poll alone keeps both mailboxes in step, and the mailbox view says so', async () => {
    const { api, sim } = product;
    for (const provider of ['google', 'microsoft'] as const) {
      const domain = `nopush-${provider}.test`;
      const address = `rita@${domain}`;
      const c = await createCompany(api, `No push ${provider}`, domain);
      await sim.control('POST', '/_sim/tenants', { provider, domain });
      await sim.control('POST', '/_sim/mailboxes', { provider, address });
      await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
      await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address });
      await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' });
      const mailbox = (await api.call('GET', `/api/v1/seats/${c.seat.id}/mailbox`, { token: c.contractToken, actAs: c.recruiter.id })).json();
      expect(mailbox.email.sync).toMatchObject({ phase: 'incremental', push: { channels: 0, expiresAt: null } });
      const requests = (await sim.control('GET', '/_sim/usage'))[provider][address].requests as Record<string, number>;
      expect(Object.keys(requests).filter((r) => /watch|subscription/i.test(r))).toEqual([]);
    }
    expect(await sim.control('GET', '/_sim/google/watches')).toEqual([]);
    expect(await sim.control('GET', '/_sim/microsoft/subscriptions')).toEqual([]);
    // The recurring upkeep finds nothing to start either.
    api.clock.set(new Date(api.clock.now().getTime() + 3601_000));
    await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' });
    expect(await api.ctx.db.selectFrom('push_subscriptions').select('id').execute()).toEqual([]);
  });
});
