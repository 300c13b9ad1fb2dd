import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { oracle } from '../../sim/generator/index.ts';
import { runHistoricalSync } from '../../src/sync/engine.ts';
import { POLL_SECONDS } from '../../src/sync/workers.ts';
import type { Database } from '../../src/store/database.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectSameSet, joinsLater, mailboxCompany, mailOf, startWorld, storedMessageIds, usageOf, type MailboxCompany, type Provider, type World } from './helpers.ts';
import { folderId } from '../../sim/microsoft/ids.ts';

/**
 * The sync's life through the API and the job queue, as test mode drives it: the clock moved with
 * `POST /_test/clock`, jobs run with the drain, results compared with the generator's oracle.
 */
const enc = encodeURIComponent;
const DAY = 86_400_000;

/** Message-IDs the oracle lets in for this seat, with the given changes to its candidates. */
async function oracleSet(world: World, c: MailboxCompany, overrides: Parameters<typeof oracle>[1]['candidateOverrides'] = {}): Promise<Set<string>> {
  const state = await world.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
  const expected = oracle(c.generated, { authorizedAt: c.grant.last_authorized_at, firstAuthorizedAt: c.grant.first_authorized_at, syncAt: state.historical_started_at!, candidateOverrides: overrides });
  return new Set(c.generated.messages.filter((m) => expected.get(m.key)?.ingested).map((m) => canonical(m.messageId)));
}

// The embedded database only: the lease's SQL runs on both backends in `lock.test.ts`, and two processes on
// Postgres in `test/integration/sync-worker-crash.test.ts`.
describe('sync lifecycle', () => {
  describe.each(['google', 'microsoft'] as const)('%s', (provider: Provider) => {
    let database: Database;
    let world: World;

    // Each test moves the product clock its own way: a world of its own.
    beforeEach(async () => {
      database = await backends[0]!.open();
      world = await startWorld(database, { jobs: true });
    });
    afterEach(async () => {
      await world?.close();
      await database?.close();
    });

    const setClock = async (at: Date) => {
      const res = await world.api.call('POST', '/_test/clock', { token: null, body: { now: at.toISOString() } });
      expect(res.statusCode, res.body).toBe(200);
    };
    const later = (ms: number) => setClock(new Date(world.api.clock.now().getTime() + ms));

    it('six months without activity: the purge removes each thread with everything derived from it; a reply brings back only what comes from then on (R-24, R-25)', async () => {
      const c = await mailboxCompany(world, provider, 'tiny', `purge-${provider}`);
      await world.drain();
      const expected = await oracleSet(world, c);
      expectSameSet(await storedMessageIds(world, c), expected);
      const db = world.api.ctx.db;
      const stored = await db.selectFrom('mail_messages').select(['provider_message_id', 'rfc_message_id', 'candidate_id']).where('owner_seat_id', '=', c.seat.id).execute();
      const threads = await db.selectFrom('mail_threads').select(['provider_thread_id', 'last_activity_at']).where('owner_seat_id', '=', c.seat.id).execute();
      const attachments = await db.selectFrom('mail_attachments').select('id').where('contract_id', '=', c.contract.id).execute();
      expect(attachments.length, 'the tiny mailbox stores a message with an attachment').toBeGreaterThan(0);
      const candidateId = stored.find((m) => m.candidate_id !== null)!.candidate_id!;
      const messagesOf = async (id: string) =>
        (await world.api.call('GET', `/api/v1/candidates/${id}/messages`, { token: c.contractToken, actAs: c.recruiter.id })).json() as Array<{ messages: unknown[] }>;
      expect((await messagesOf(candidateId)).length).toBeGreaterThan(0);

      // More than six calendar months after the last activity of every thread (six months are at most 184 days).
      const lastActivity = Math.max(...threads.map((t) => t.last_activity_at.getTime()));
      const purgeAt = new Date(Math.max(lastActivity, world.api.clock.now().getTime()) + 190 * DAY);
      await setClock(purgeAt);
      const drained = await world.api.app.inject({ method: 'POST', url: '/_test/jobs/drain' });
      expect(drained.statusCode).toBe(200);

      // Gone: threads, messages, attachments; the log keeps rule R-24 and a reason, without the header facts.
      expect(await storedMessageIds(world, c)).toEqual(new Set());
      expect(await db.selectFrom('mail_threads').select('id').where('owner_seat_id', '=', c.seat.id).execute()).toEqual([]);
      expect(await db.selectFrom('mail_attachments').select('id').where('contract_id', '=', c.contract.id).execute()).toEqual([]);
      expect(await messagesOf(candidateId)).toEqual([]);
      const markers = await db.selectFrom('purged_threads').select('provider_thread_id').where('owner_seat_id', '=', c.seat.id).execute();
      expect(new Set(markers.map((m) => m.provider_thread_id))).toEqual(new Set(threads.map((t) => t.provider_thread_id)));
      const log = await db.selectFrom('ingestion_decisions').selectAll().where('seat_id', '=', c.seat.id).where('provider_message_id', 'in', stored.map((m) => m.provider_message_id)).execute();
      expect(log).toHaveLength(stored.length);
      for (const row of log) {
        expect(row).toMatchObject({ ingested: false, rule: 'R-24' });
        expect(Object.keys(row.detail as object).sort()).toEqual(['messageDate', 'purgedAt', 'reason', 'summary']);
      }
      const view = await world.api.call('GET', `/api/v1/seats/${c.seat.id}/sync/decisions?providerMessageId=${enc(stored[0]!.provider_message_id)}`, { token: c.contractToken, actAs: c.recruiter.id });
      expect(view.json()).toEqual([expect.objectContaining({ ingested: false, rule: 'R-24', threadId: null })]);
      const audit = await db.selectFrom('audit_log').selectAll().where('contract_id', '=', c.contract.id).where('action', '=', 'mail.inactive_threads_purged').execute();
      expect(audit).toHaveLength(1);
      expect(audit[0]!.details).toMatchObject({ rule: 'R-24', threads: threads.length, messages: stored.length, attachments: attachments.length });

      // the candidate answers in one of the purged conversations.
      const earlier = c.generated.messages.filter((m) => m.kind === 'candidate' && m.expected.ingested).at(-1)!;
      const candidate = earlier.people.find((p) => p.kind === 'candidate')!.address;
      const reply = await world.control('POST', `/_sim/mailboxes/${enc(c.address)}/messages`, {
        from: candidate,
        to: c.address,
        subject: `Re: ${earlier.subject}`,
        text: 'Back after a while',
        date: new Date(purgeAt.getTime() + 60_000).toISOString(),
        threadKey: earlier.threadKey,
        inReplyTo: earlier.messageId,
        references: [earlier.messageId],
      });
      await later((POLL_SECONDS + 1) * 1000);
      await world.drain();
      expectSameSet(await storedMessageIds(world, c), new Set([canonical(reply.messageId)]));
      const revived = await db.selectFrom('mail_threads').select('provider_thread_id').where('owner_seat_id', '=', c.seat.id).execute();
      const earlierThread = c.ids.get(earlier.key)!.threadId;
      expect(revived.map((t) => t.provider_thread_id)).toEqual([earlierThread]);

      // Even a full rescan (the cursor expired) leaves the purged history out: R-25 decides those messages.
      await world.control('POST', '/_sim/faults', { provider, match: { path: provider === 'google' ? '/history' : 'messages/delta' }, fault: 'cursor_expired', count: 1 });
      await later((POLL_SECONDS + 1) * 1000);
      await world.drain();
      expect(await world.control('GET', '/_sim/faults')).toEqual([]);
      expectSameSet(await storedMessageIds(world, c), new Set([canonical(reply.messageId)]));
      const older = await db.selectFrom('ingestion_decisions').select(['rule', 'ingested']).where('seat_id', '=', c.seat.id).where('provider_message_id', '=', c.ids.get(earlier.key)!.id).executeTakeFirstOrThrow();
      expect(older).toEqual({ rule: 'R-25', ingested: false });
    });

    it('a candidate who joins the pipeline later gets exactly their past conversations, at the cost of their own mail (R-39, R-41, R-27)', async () => {
      const { joiner: j, beforeConnect } = joinsLater(world);
      const c = await mailboxCompany(world, provider, 'tiny', `backfill-${provider}`, { beforeConnect });
      const joiner = j.key;
      await world.control('DELETE', '/_sim/usage');
      await world.drain();
      const historical = await usageOf(world, provider, c.address);
      const before = await oracleSet(world, c, { [joiner]: { membership: 'talent_pool' } });
      expectSameSet(await storedMessageIds(world, c), before);

      await world.control('DELETE', '/_sim/usage');
      const decidedFrom = world.api.clock.now();
      const project = await c.json('POST', `/api/v1/contracts/${c.contract.id}/projects`, { name: 'Joined later' });
      await c.json('POST', `/api/v1/projects/${project.id}/candidates`, { candidateId: c.candidateIds.get(joiner) });
      await world.drain();

      const after = await oracleSet(world, c);
      const gained = [...after].filter((id) => !before.has(id));
      expect(gained.length).toBeGreaterThan(2);
      expectSameSet(await storedMessageIds(world, c), after);

      // Quota: the candidate's mail only. Their messages are listed (header facts) and only the new ones' bodies fetched.
      const usage = await usageOf(world, provider, c.address);
      expect(usage.bodiesServed).toBe(gained.length);
      const state = await world.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
      const since = provider === 'google' ? state.window_start!.getTime() : Math.floor(state.window_start!.getTime() / DAY) * DAY;
      // Gmail lists Inbox, Sent and drafts by the search; the Graph search is kept to Inbox and Sent Items.
      const listable = mailOf(c.generated, joiner).filter((m) => Date.parse(m.date) >= since && m.folder !== 'spam' && (provider === 'google' || m.folder !== 'drafts'));
      const examined = await world.api.ctx.db.selectFrom('ingestion_decisions').select('provider_message_id').where('seat_id', '=', c.seat.id).where('decided_at', '>=', decidedFrom).execute();
      expect(new Set(examined.map((d) => d.provider_message_id))).toEqual(new Set(listable.map((m) => c.ids.get(m.key)!.id)));
      if (provider === 'google') {
        // One search, the header facts of what it listed, the MIME of what is new; no history, no profile.
        expect(Object.keys(usage.requests).filter((k) => k !== 'batch').sort()).toEqual(['messages.get', 'messages.list']);
        expect(usage.requests['messages.list']).toBe(1);
        expect(usage.requests['messages.get']).toBe(listable.length + gained.length);
        expect(usage.units).toBeLessThan(historical.units);
      } else {
        expect(usage.requests['messages.list']).toBe(1);
        expect(usage.requests['messages.delta']).toBeUndefined();
        expect(usage.requests['messages.getMime']).toBe(gained.length);
      }
      const total = (u: { requests: Record<string, number> }) => Object.values(u.requests).reduce((a, b) => a + b, 0);
      expect(total(usage)).toBeLessThan(total(historical));

      // The log now says why each of the candidate's messages is in (or still out).
      const decisions = await world.api.call('GET', `/api/v1/seats/${c.seat.id}/sync/decisions?address=${enc(listable[0]!.people.find((p) => p.kind === 'candidate')!.address)}`, { token: c.contractToken, actAs: c.recruiter.id });
      expect(decisions.json().some((d: { ingested: boolean }) => d.ingested)).toBe(true);

      // Nothing changes on a second run (a repeated job), and nothing is fetched again.
      await world.control('DELETE', '/_sim/usage');
      await c.json('PATCH', `/api/v1/projects/${project.id}`, { status: 'closed' });
      await c.json('PATCH', `/api/v1/projects/${project.id}`, { status: 'active' });
      await world.drain();
      expectSameSet(await storedMessageIds(world, c), after);
      expect((await usageOf(world, provider, c.address)).bodiesServed).toBe(0);
    });

    it('a candidate who joins while the mailbox is disconnected is backfilled when it reconnects and resumes from its cursor (R-39, R-23)', async () => {
      const { joiner, beforeConnect } = joinsLater(world);
      const c = await mailboxCompany(world, provider, 'tiny', `gap-${provider}`, { beforeConnect });
      await world.drain();
      expectSameSet(await storedMessageIds(world, c), await oracleSet(world, c, { [joiner.key]: { membership: 'talent_pool' } }));
      const off = await world.api.call('DELETE', `/api/v1/seats/${c.seat.id}/authorizations/email`, { token: c.contractToken, actAs: c.recruiter.id });
      expect(off.statusCode, off.body).toBeLessThan(300);
      // Joins while no seat is authorized: there is nobody to backfill for yet.
      const project = await c.json('POST', `/api/v1/contracts/${c.contract.id}/projects`, { name: 'Joined while away' });
      await c.json('POST', `/api/v1/projects/${project.id}/candidates`, { candidateId: joiner.id });
      await world.drain();
      expectSameSet(await storedMessageIds(world, c), await oracleSet(world, c, { [joiner.key]: { membership: 'talent_pool' } }));
      await connectMailbox(world.api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: c.address });
      await world.drain();
      const state = await world.api.ctx.db.selectFrom('sync_states').select(['phase', 'cursor']).where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
      expect(state.phase).toBe('incremental');
      expectSameSet(await storedMessageIds(world, c), await oracleSet(world, c));
    });
  });
});

describe('a candidate who joins the pipeline while the historical scan is interrupted (microsoft)', () => {
  let database: Database;
  let world: World;

  beforeAll(async () => {
    database = await backends[0]!.open();
    world = await startWorld(database, { jobs: true });
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  it('the resumed scan and the candidate\'s backfill together converge on the oracle (R-39, R-26)', async () => {
    const { joiner: j, beforeConnect } = joinsLater(world);
    const c = await mailboxCompany(world, 'microsoft', 'tiny', 'backfill-midscan', { beforeConnect });
    const joiner = j.key;
    // The Inbox is scanned, then Sent Items keeps failing: the scan stops after its Inbox.
    // The client reads folders by id: Sent Items' delta, whether its id is written with or without its padding escaped.
    const sentItems = folderId(c.address, 'sent').replace(/=+$/, '');
    await world.control('POST', '/_sim/faults', { provider: 'microsoft', match: { path: `re:/${sentItems}(=|%3D)*\\/messages\\/delta/` }, fault: 'http_500', count: 10 });
    await expect(runHistoricalSync(world.deps, c.grant.id)).rejects.toThrow();
    expect((await world.api.ctx.db.selectFrom('sync_states').select('phase').where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow()).phase).toBe('historical');
    await world.control('DELETE', '/_sim/faults');
    // Some of the candidate's mail was examined before they joined (and left out, R-32): only a backfill brings it.
    const joinerMail = mailOf(c.generated, joiner).map((m) => c.ids.get(m.key)!.id);
    const early = await world.api.ctx.db.selectFrom('ingestion_decisions').select(['rule']).where('seat_id', '=', c.seat.id).where('provider_message_id', 'in', joinerMail).execute();
    expect(early.map((d) => d.rule)).toContain('R-32');

    const project = await c.json('POST', `/api/v1/contracts/${c.contract.id}/projects`, { name: 'Joined mid-scan' });
    await c.json('POST', `/api/v1/projects/${project.id}/candidates`, { candidateId: c.candidateIds.get(joiner) });
    // The queued historical job and the backfill run; the scan resumes from its checkpoint.
    await world.drain();
    expect((await world.api.ctx.db.selectFrom('sync_states').select('phase').where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow()).phase).toBe('incremental');
    expectSameSet(await storedMessageIds(world, c), await oracleSet(world, c));
  });
});
