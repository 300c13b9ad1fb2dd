import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/store/database.ts';
import { CandidateCache, loadCandidateLookup } from '../../../src/sync/ingest/candidates.ts';
import { decideBatch, decideMessage, loadThreadFacts } from '../../../src/sync/ingest/decide.ts';
import { deleteMessageAtSource, ingestBatch, purgeInactiveThreads, recordDecision, storeMessage, type IngestItem } from '../../../src/sync/ingest/store.ts';
import type { TestApi } from '../../helpers/app.ts';
import { backends } from '../../helpers/databases.ts';
import { startTestApi } from '../../helpers/app.ts';
import { decideContext, ingestCompany, mail, type IngestCompany, type MailSpec } from './setup.ts';

const NOW = new Date('2025-06-15T12:00:00.000Z');
const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000);

describe.each(backends)('ingest step on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let co: IngestCompany;

  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
    co = await ingestCompany(api);
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  const db = () => api.ctx.db;

  /** Decides the given messages against the store as it is, then ingests them in one batch. */
  async function ingest(specs: MailSpec[], now = NOW, sync?: 'historical') {
    const mails = await Promise.all(specs.map(mail));
    const context = await decideContext(api, co.mailbox, now);
    const ctx = sync === 'historical' ? { ...context, sync: { kind: 'historical' as const, now, windowStart: new Date(now.getTime() - 365 * 86_400_000) } } : context;
    const decisions = await decideBatch(db(), co.mailbox.seatId, mails.map((m) => m.facts), ctx);
    // Only ingested messages carry their raw MIME.
    const items: IngestItem[] = mails.map((m, i) => ({ facts: m.facts, decision: decisions[i]!, ...(decisions[i]!.ingested ? { raw: m.raw } : {}) }));
    const result = await ingestBatch(db(), co.mailbox, items, now);
    return { decisions, result, mails };
  }

  const messageRow = (providerMessageId: string) => db().selectFrom('mail_messages').selectAll().where('owner_seat_id', '=', co.seat.id).where('provider_message_id', '=', providerMessageId).executeTakeFirst();
  const decisionRow = (providerMessageId: string) => db().selectFrom('ingestion_decisions').selectAll().where('seat_id', '=', co.seat.id).where('provider_message_id', '=', providerMessageId).executeTakeFirst();
  const threadRow = (providerThreadId: string) => db().selectFrom('mail_threads').selectAll().where('owner_seat_id', '=', co.seat.id).where('provider_thread_id', '=', providerThreadId).executeTakeFirst();

  it('loads the candidate lookup and the owner addresses of a seat', async () => {
    expect(co.mailbox.owner).toEqual({ address: 'rita@acme.test', aliases: ['rita.recruiter@acme.test'] });
    expect(co.mailbox.holderUserId).toBe(co.recruiter.id);
    const lookup = await loadCandidateLookup(db(), co.contract.id, co.recruiter.id);
    expect(lookup.get('carla@mail.example')).toEqual([{ candidateId: co.candidate.id, inPipeline: true, emailDiscovery: 'anyone', ownerDegree: null }]);
    expect(lookup.get('olga@mail.example')).toEqual([{ candidateId: co.olga.id, inPipeline: false, emailDiscovery: 'anyone', ownerDegree: null }]);
    expect(lookup.get('fred@mail.example')?.[0]).toMatchObject({ emailDiscovery: 'first_degree', ownerDegree: 2, inPipeline: true });
    expect(lookup.get('dana@mail.example')?.[0]).toMatchObject({ ownerDegree: 1 });
    // Every email of a candidate, normalized (case, +tags).
    expect(lookup.get('max.multi@mail.example')?.[0]?.candidateId).toBe(co.max.id);
    expect(lookup.get('max@other.example')?.[0]?.candidateId).toBe(co.max.id);
    // Another user's view has no degrees.
    expect((await loadCandidateLookup(db(), co.contract.id, co.admin.id)).get('dana@mail.example')?.[0]?.ownerDegree).toBeNull();

    const cache = new CandidateCache(db());
    const first = cache.lookupFor(co.contract.id, co.recruiter.id);
    expect(cache.lookupFor(co.contract.id, co.recruiter.id)).toBe(first);
    expect(await first).toEqual(lookup);
    cache.invalidate(co.contract.id);
    expect(cache.lookupFor(co.contract.id, co.recruiter.id)).not.toBe(first);
  });

  it('stores an ingested message with every field, and logs excluded ones without any body', async () => {
    const secret = 'CONFIDENTIAL-BODY-TEXT';
    const { decisions, result } = await ingest([
      { id: 'in-1', thread: 'T1', from: '"Carla C." <Carla@Mail.Example>', to: 'Rita <rita@acme.test>', subject: 'Backend role', text: `Hello Rita, ${secret}`, date: days(-3), attachments: [{ filename: 'cv.pdf', content: Buffer.alloc(321, 1), contentType: 'application/pdf' }] },
      { id: 'in-2', thread: 'T1', from: 'rita.recruiter@acme.test', to: 'carla+jobs@mail.example', subject: 'Re: Backend role', html: `<p>Thanks <script>x()</script>${secret}</p>`, date: days(-2), isSent: true, inReplyTo: '<in-1@msg.example>' },
      { id: 'ex-30', from: 'carla@mail.example', to: 'rita@acme.test', cc: 'boss@acme.test', subject: 'Secret subject', text: secret, date: days(-1) },
      { id: 'ex-31', from: 'colleague@acme.test', to: 'rita@acme.test', text: secret, date: days(-1) },
      { id: 'ex-33', from: 'news@letters.example', to: 'rita@acme.test', text: secret, date: days(-1) },
      { id: 'ex-32', from: 'olga@mail.example', to: 'rita@acme.test', text: secret, date: days(-1) },
      { id: 'ex-34', from: 'fred@mail.example', to: 'rita@acme.test', text: secret, date: days(-1) },
      { id: 'ex-38', from: 'carla@mail.example', to: 'rita@acme.test', text: secret, date: days(-1), isSpam: true },
      { id: 'in-3', from: 'dana@mail.example', to: 'rita@acme.test', text: 'Dana here', date: days(-1) },
    ]);
    expect(decisions.map((d) => d.rule)).toEqual([null, null, 'R-30', 'R-31', 'R-33', 'R-32', 'R-34', 'R-38', null]);
    expect(result).toMatchObject({ examined: 9, ingested: 3, outcomes: { inserted: 3, already_stored: 0, matched_sent: 0, duplicate_message_id: 0 } });

    const inbound = (await messageRow('in-1'))!;
    expect(inbound).toMatchObject({
      contract_id: co.contract.id,
      owner_user_id: co.recruiter.id,
      candidate_id: co.candidate.id,
      direction: 'inbound',
      from_address: 'Carla@mail.example',
      from_name: 'Carla C.',
      to_addresses: [{ address: 'rita@acme.test', name: 'Rita' }],
      cc_addresses: [],
      counterpart: 'carla@mail.example',
      subject: 'Backend role',
      snippet: `Hello Rita, ${secret}`,
      body_html: null,
      visibility: 'private',
      origin: 'synced',
      rfc_message_id: '<in-1@msg.example>',
    });
    expect(inbound.sent_at.toISOString()).toBe(days(-3).toISOString());
    const outbound = (await messageRow('in-2'))!;
    expect(outbound).toMatchObject({ direction: 'outbound', in_reply_to: '<in-1@msg.example>', references_ids: ['<in-1@msg.example>'], body_html: `<p>Thanks ${secret}</p>`, body_text: `Thanks ${secret}`, thread_id: inbound.thread_id });
    const attachments = await db().selectFrom('mail_attachments').select(['filename', 'content_type', 'size_bytes', 'contract_id']).where('message_id', '=', inbound.id).execute();
    expect(attachments).toEqual([{ filename: 'cv.pdf', content_type: 'application/pdf', size_bytes: 321, contract_id: co.contract.id }]);

    const thread = (await threadRow('T1'))!;
    expect(thread).toMatchObject({ id: inbound.thread_id, subject: 'Backend role', candidate_id: co.candidate.id, counterpart: 'carla@mail.example', provider: 'google', initiated_through_product: false });
    expect(thread.last_activity_at.toISOString()).toBe(days(-2).toISOString());
    for (const id of ['ex-30', 'ex-31', 'ex-33', 'ex-32', 'ex-34', 'ex-38']) expect(await messageRow(id)).toBeUndefined();

    // a log row for every message with its rule, and never a body, a subject or a snippet.
    const log = await db().selectFrom('ingestion_decisions').selectAll().where('seat_id', '=', co.seat.id).where('provider_message_id', 'in', ['in-1', 'in-2', 'in-3', 'ex-30', 'ex-31', 'ex-33', 'ex-32', 'ex-34', 'ex-38']).execute();
    expect(Object.fromEntries(log.map((r) => [r.provider_message_id, [r.ingested, r.rule, r.counterpart]]))).toEqual({
      'in-1': [true, null, 'carla@mail.example'],
      'in-2': [true, null, 'carla@mail.example'],
      'in-3': [true, null, 'dana@mail.example'],
      'ex-30': [false, 'R-30', null],
      'ex-31': [false, 'R-31', 'colleague@acme.test'],
      'ex-33': [false, 'R-33', 'news@letters.example'],
      'ex-32': [false, 'R-32', 'olga@mail.example'],
      'ex-34': [false, 'R-34', 'fred@mail.example'],
      'ex-38': [false, 'R-38', 'carla@mail.example'],
    });
    const text = JSON.stringify(log);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('Secret subject');
    expect(text).not.toContain('Backend role');
    const r34 = log.find((r) => r.provider_message_id === 'ex-34')!;
    expect(r34.detail).toMatchObject({ summary: expect.stringMatching(/^Not synced \(R-34, Discovery setting\): fred@mail\.example/), facts: { emailDiscovery: ['first_degree'], ownerDegree: [2] }, participants: ['fred@mail.example', 'rita@acme.test'], direction: 'received' });
    expect(log.find((r) => r.provider_message_id === 'ex-30')!.detail).toMatchObject({ participants: ['boss@acme.test', 'carla@mail.example', 'rita@acme.test'] });
  });

  it('is idempotent: the same batch twice leaves one row per message and per decision', async () => {
    const specs: MailSpec[] = [
      { id: 'idem-1', thread: 'TI', from: 'carla@mail.example', to: 'rita@acme.test', date: days(-5), attachments: [{ filename: 'a.txt', content: 'abc', contentType: 'text/plain' }] },
      { id: 'idem-x', thread: 'TI', from: 'someone@else.example', to: 'rita@acme.test', date: days(-5) },
    ];
    const first = await ingest(specs);
    const second = await ingest(specs);
    expect(first.result.outcomes.inserted).toBe(1);
    expect(second.result.outcomes).toMatchObject({ inserted: 0, already_stored: 1 });
    const count = async (table: 'mail_messages' | 'ingestion_decisions', column: 'provider_message_id', ids: string[]) =>
      Number((await db().selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where(column, 'in', ids).executeTakeFirstOrThrow()).n);
    expect(await count('mail_messages', 'provider_message_id', ['idem-1'])).toBe(1);
    expect(await count('ingestion_decisions', 'provider_message_id', ['idem-1', 'idem-x'])).toBe(2);
    const message = (await messageRow('idem-1'))!;
    expect((await db().selectFrom('mail_attachments').select('id').where('message_id', '=', message.id).execute()).length).toBe(1);
    expect((await db().selectFrom('mail_threads').select('id').where('provider_thread_id', '=', 'TI').execute()).length).toBe(1);

    // The same message twice within one batch (a page boundary seen twice) is stored once too.
    const twice = await ingest([{ ...specs[0]!, id: 'idem-2', thread: 'TI2' }, { ...specs[0]!, id: 'idem-2', thread: 'TI2' }]);
    expect(twice.result.outcomes).toMatchObject({ inserted: 1, already_stored: 1, duplicate_message_id: 0 });
    expect(await count('mail_messages', 'provider_message_id', ['idem-2'])).toBe(1);

    // A second provider copy under the same Message-ID (e.g. a Graph copy in another folder) is not stored twice.
    const copy = await ingest([{ ...specs[0]!, id: 'idem-1-copy', messageId: '<idem-1@msg.example>' }]);
    expect(copy.result.outcomes.duplicate_message_id).toBe(1);
    expect(await messageRow('idem-1-copy')).toBeUndefined();
    expect((await decisionRow('idem-1-copy'))!.detail).toMatchObject({ storedAs: expect.stringMatching(/already stored/) });
  });

  it("matches the product's own send by Message-ID instead of storing it twice (R-26)", async () => {
    // What the send path stores: origin sent_from_product, a provisional provider id and thread.
    const threadId = crypto.randomUUID();
    const sentId = crypto.randomUUID();
    await db().insertInto('mail_threads').values({ id: threadId, contract_id: co.contract.id, owner_seat_id: co.seat.id, provider: 'google', provider_thread_id: 'pending-thread-1', candidate_id: co.olga.id, counterpart: 'olga@mail.example', subject: 'Hello Olga', last_activity_at: days(-4), initiated_through_product: true, created_at: days(-4) }).execute();
    await db()
      .insertInto('mail_messages')
      .values({ id: sentId, contract_id: co.contract.id, owner_seat_id: co.seat.id, owner_user_id: co.recruiter.id, thread_id: threadId, candidate_id: co.olga.id, provider_message_id: 'pending-msg-1', rfc_message_id: '<sent-1@acme.test>', in_reply_to: null, references_ids: [], direction: 'outbound', from_address: 'rita@acme.test', from_name: null, to_addresses: JSON.stringify([{ address: 'olga@mail.example' }]), cc_addresses: '[]', counterpart: 'olga@mail.example', subject: 'Hello Olga', sent_at: days(-4), snippet: 'Hi Olga', body_html: null, body_text: 'Hi Olga', visibility: 'private', origin: 'sent_from_product', stored_at: days(-4) })
      .execute();

    // Olga is outside the pipeline, so only the exemption of R-32 (thread initiated through the product) lets her in.
    // Her reply arrives first, in the provider's real thread, naming the product's message.
    const reply = await ingest([{ id: 'olga-reply', thread: 'REAL-T', from: 'olga@mail.example', to: 'rita@acme.test', subject: 'Re: Hello Olga', date: days(-3), inReplyTo: '<sent-1@acme.test>' }]);
    expect(reply.decisions[0]).toMatchObject({ ingested: true, threadInitiatedThroughProduct: true, candidateIds: [co.olga.id] });
    const thread = (await threadRow('REAL-T'))!;
    expect(thread.id).toBe(threadId);
    expect(thread.initiated_through_product).toBe(true);
    expect(await threadRow('pending-thread-1')).toBeUndefined();

    // Then sync sees the sent message itself in Sent: matched, not duplicated.
    const sent = await ingest([{ id: 'real-sent-1', thread: 'REAL-T', from: 'rita@acme.test', to: 'olga@mail.example', subject: 'Hello Olga', text: 'Hi Olga (provider copy)', date: days(-4), messageId: '<sent-1@acme.test>', isSent: true }]);
    expect(sent.decisions[0]?.ingested).toBe(true);
    expect(sent.result.outcomes.matched_sent).toBe(1);
    const rows = await db().selectFrom('mail_messages').selectAll().where('rfc_message_id', '=', '<sent-1@acme.test>').execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: sentId, provider_message_id: 'real-sent-1', origin: 'sent_from_product', body_text: 'Hi Olga', thread_id: threadId });
    // And seeing it once more changes nothing.
    expect((await ingest([{ id: 'real-sent-1', thread: 'REAL-T', from: 'rita@acme.test', to: 'olga@mail.example', date: days(-4), messageId: '<sent-1@acme.test>', isSent: true }])).result.outcomes.already_stored).toBe(1);
    expect((await db().selectFrom('mail_messages').select('id').where('thread_id', '=', threadId).execute()).length).toBe(2);
  });

  it('keeps malformed MIME with what could be read and says so in the decision detail', async () => {
    const { facts } = await mail({ id: 'broken-1', from: 'carla@mail.example', to: 'rita@acme.test', date: days(-1) });
    let nested = 'Content-Type: text/plain\r\n\r\nbody';
    for (let i = 0; i < 60; i++) nested = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${nested}\r\n--b${i}--`;
    const raw = Buffer.from(`From: carla@mail.example\r\nTo: rita@acme.test\r\nSubject: Nested\r\n${nested}`);
    const context = await decideContext(api, co.mailbox, NOW);
    const decision = decideMessage(facts, context);
    expect(decision.ingested).toBe(true);
    await ingestBatch(db(), co.mailbox, [{ facts, decision, raw }], NOW);
    expect(await messageRow('broken-1')).toMatchObject({ subject: 'Nested', from_address: 'carla@mail.example', body_text: null, body_html: null, snippet: '' });
    const logged = (await decisionRow('broken-1'))!;
    expect(logged.ingested).toBe(true);
    expect(logged.detail.parseProblems).toEqual([expect.stringMatching(/^The message body could not be parsed/)]);
  });

  it('removes a message deleted at the source, then its emptied thread, and marks the log (R-37)', async () => {
    await ingest([
      { id: 'del-1', thread: 'TD', from: 'carla@mail.example', to: 'rita@acme.test', date: days(-6), attachments: [{ filename: 'x.txt', content: 'x', contentType: 'text/plain' }] },
      { id: 'del-2', thread: 'TD', from: 'rita@acme.test', to: 'carla@mail.example', date: days(-5), isSent: true },
    ]);
    const first = (await messageRow('del-1'))!;
    const atFirst = await db().transaction().execute((trx) => deleteMessageAtSource(trx, co.seat.id, 'del-1', NOW));
    expect(atFirst).toEqual({ messageDeleted: true, threadDeleted: false, attachmentsDeleted: 1 });
    expect(await messageRow('del-1')).toBeUndefined();
    expect(await db().selectFrom('mail_attachments').select('id').where('message_id', '=', first.id).execute()).toEqual([]);
    expect(await threadRow('TD')).toBeDefined();
    const atSecond = await db().transaction().execute((trx) => deleteMessageAtSource(trx, co.seat.id, 'del-2', NOW));
    expect(atSecond).toEqual({ messageDeleted: true, threadDeleted: true, attachmentsDeleted: 0 });
    expect(await threadRow('TD')).toBeUndefined();

    const log = (await decisionRow('del-1'))!;
    expect(log).toMatchObject({ ingested: false, rule: 'R-37', counterpart: 'carla@mail.example' });
    expect(log.detail).toMatchObject({ deletedAtSource: { at: NOW.toISOString(), previouslyIngested: true, previousRule: null }, summary: expect.stringMatching(/^Not synced \(R-37, Deleted at the source\)/) });
    // the row keeps that the message was here and why it is gone, not its header facts (as the purge does).
    expect(Object.keys(log.detail).sort()).toEqual(['deletedAtSource', 'messageDate', 'reason', 'summary']);
    expect(JSON.stringify(log.detail)).not.toContain('participants');
    // Unknown ids and repeated deletions are harmless.
    expect(await db().transaction().execute((trx) => deleteMessageAtSource(trx, co.seat.id, 'del-1', NOW))).toEqual({ messageDeleted: false, threadDeleted: false, attachmentsDeleted: 0 });
  });

  it('purges threads inactive for six calendar months with a marker and an audit entry (R-24), and R-25 afterwards', async () => {
    const purgeAt = new Date('2025-08-31T09:00:00.000Z');
    // Six calendar months before 31 Aug 09:00 is 28 Feb 09:00 (clamped): activity then still counts.
    await ingest([
      { id: 'old-1', thread: 'T-OLD', from: 'carla@mail.example', to: 'rita@acme.test', date: new Date('2025-01-10T10:00:00Z'), attachments: [{ filename: 'o.txt', content: 'o', contentType: 'text/plain' }] },
      { id: 'old-2', thread: 'T-OLD', from: 'rita@acme.test', to: 'carla@mail.example', date: new Date('2025-02-28T08:59:59Z'), isSent: true },
      { id: 'edge-1', thread: 'T-EDGE', from: 'carla@mail.example', to: 'rita@acme.test', date: new Date('2025-02-28T09:00:00Z') },
    ], new Date('2025-03-01T00:00:00Z'));
    const audit = async () => db().selectFrom('audit_log').selectAll().where('contract_id', '=', co.contract.id).where('action', '=', 'mail.inactive_threads_purged').execute();
    const before = await audit();

    const counts = await purgeInactiveThreads(db(), purgeAt);
    // Threads from earlier tests in this file (June 2025) are active; only T-OLD is due.
    expect(counts).toEqual({ contracts: 1, threads: 1, messages: 2, attachments: 1 });
    expect(await threadRow('T-OLD')).toBeUndefined();
    expect(await messageRow('old-1')).toBeUndefined();
    expect(await threadRow('T-EDGE')).toBeDefined();
    const marker = await db().selectFrom('purged_threads').selectAll().where('owner_seat_id', '=', co.seat.id).where('provider_thread_id', '=', 'T-OLD').executeTakeFirstOrThrow();
    expect(marker.purged_at.toISOString()).toBe(purgeAt.toISOString());
    const entries = await audit();
    expect(entries.length).toBe(before.length + 1);
    expect(entries.at(-1)).toMatchObject({ actor_kind: 'system', details: { rule: 'R-24', threads: 1, messages: 2, attachments: 1 } });
    expect(await decisionRow('old-1')).toMatchObject({ ingested: false, rule: 'R-24' });
    expect(JSON.stringify((await decisionRow('old-1'))!.detail)).not.toContain('participants');
    // Nothing more is due: a second run purges nothing and writes no audit entry.
    expect(await purgeInactiveThreads(db(), purgeAt)).toEqual({ contracts: 0, threads: 0, messages: 0, attachments: 0 });
    expect((await audit()).length).toBe(before.length + 1);

    // the purged history is not brought back; new activity is synced from then on.
    const threads = await loadThreadFacts(db(), co.seat.id, [{ providerThreadId: 'T-OLD' }]);
    expect(threads.get('T-OLD')?.purgedAt?.toISOString()).toBe(purgeAt.toISOString());
    const later = new Date('2025-09-05T00:00:00Z');
    const back = await ingest([
      { id: 'old-1', thread: 'T-OLD', from: 'carla@mail.example', to: 'rita@acme.test', date: new Date('2025-01-10T10:00:00Z') },
      { id: 'new-1', thread: 'T-OLD', from: 'carla@mail.example', to: 'rita@acme.test', subject: 'Back again', date: new Date('2025-09-04T10:00:00Z') },
    ], later);
    expect(back.decisions.map((d) => [d.ingested, d.rule])).toEqual([[false, 'R-25'], [true, null]]);
    expect(back.decisions[0]?.summary).toMatch(/^Not synced \(R-25, Purged conversation\)/);
    expect(await messageRow('old-1')).toBeUndefined();
    const revived = (await threadRow('T-OLD'))!;
    expect(revived.subject).toBe('Back again');
    expect((await db().selectFrom('mail_messages').select('provider_message_id').where('thread_id', '=', revived.id).execute()).map((r) => r.provider_message_id)).toEqual(['new-1']);
    expect(await decisionRow('old-1')).toMatchObject({ ingested: false, rule: 'R-25' });
  });

  it('refuses to store a message that was not ingested (R-41), and upserts a changed decision', async () => {
    const { facts, raw } = await mail({ id: 'never', from: 'news@letters.example', to: 'rita@acme.test', date: days(-1) });
    const context = await decideContext(api, co.mailbox, NOW);
    const decision = decideMessage(facts, context);
    expect(decision.rule).toBe('R-33');
    await expect(storeMessage(db(), { mailbox: co.mailbox, facts, raw, decision, storedAt: NOW })).rejects.toThrow(/not ingested/);
    await expect(ingestBatch(db(), co.mailbox, [{ facts, decision: { ...decision, ingested: true, rule: null } }], NOW)).rejects.toThrow(/raw MIME/);
    await recordDecision(db(), { seatId: co.seat.id, contractId: co.contract.id, facts, decision, decidedAt: NOW });
    await recordDecision(db(), { seatId: co.seat.id, contractId: co.contract.id, facts, decision: { ...decision, rule: 'R-38' }, decidedAt: days(1) });
    const rows = await db().selectFrom('ingestion_decisions').selectAll().where('provider_message_id', '=', 'never').execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ rule: 'R-38' });
  });

  it('applies the window and active-thread rules during a historical sync', async () => {
    const { decisions } = await ingest([
      { id: 'hist-old', from: 'carla@mail.example', to: 'rita@acme.test', date: days(-400) },
      { id: 'hist-inactive', from: 'carla@mail.example', to: 'rita@acme.test', date: days(-200) },
      { id: 'hist-ok', from: 'carla@mail.example', to: 'rita@acme.test', date: days(-20) },
    ], NOW, 'historical');
    expect(decisions.map((d) => d.rule)).toEqual(['R-35', 'R-36', null]);
    expect(await messageRow('hist-ok')).toBeDefined();
  });
});
