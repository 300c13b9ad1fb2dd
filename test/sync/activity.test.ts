import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.ts';
import { decideBatch, loadThreadFacts } from '../../src/sync/ingest/decide.ts';
import { ingestBatch, purgeInactiveThreads, type IngestItem } from '../../src/sync/ingest/store.ts';
import type { TestApi } from '../helpers/app.ts';
import { startTestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { decideContext, ingestCompany, mail, type IngestCompany, type MailSpec } from './ingest/setup.ts';

/**
 * a thread's activity is any message sent or received in it at the provider, ingested or not; and a purged
 * thread started from the product stays exempt, so the candidate's later reply still qualifies.
 */
describe.each(backends)('thread activity on $name (R-24, R-25)', (backend) => {
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
  async function ingest(specs: MailSpec[], now: Date) {
    const mails = await Promise.all(specs.map(mail));
    const decisions = await decideBatch(db(), co.mailbox.seatId, mails.map((m) => m.facts), await decideContext(api, co.mailbox, now));
    const items: IngestItem[] = mails.map((m, i) => ({ facts: m.facts, decision: decisions[i]!, ...(decisions[i]!.ingested ? { raw: m.raw } : {}) }));
    await ingestBatch(db(), co.mailbox, items, now);
    return decisions;
  }
  const thread = (id: string) => db().selectFrom('mail_threads').selectAll().where('owner_seat_id', '=', co.seat.id).where('provider_thread_id', '=', id).executeTakeFirst();

  it('a reply that cc’d a colleague (not ingested, R-30) keeps the thread active: no purge six months after the first message', async () => {
    const [first] = await ingest([{ id: 'act-1', thread: 'T-ACT', from: 'max.multi@mail.example', to: 'rita@acme.test', date: new Date('2025-01-10T10:00:00Z') }], new Date('2025-01-11T00:00:00Z'));
    expect(first!.ingested).toBe(true);
    const [reply] = await ingest([{ id: 'act-2', thread: 'T-ACT', from: 'rita@acme.test', to: 'max.multi@mail.example', cc: 'sam@acme.test', date: new Date('2025-05-20T10:00:00Z'), isSent: true }], new Date('2025-05-21T00:00:00Z'));
    expect(reply).toMatchObject({ ingested: false, rule: 'R-30' });
    expect((await thread('T-ACT'))!.last_activity_at.toISOString()).toBe('2025-05-20T10:00:00.000Z');

    // Seven months after the first message, four after the reply: still active.
    await purgeInactiveThreads(db(), new Date('2025-08-31T09:00:00Z'));
    expect(await thread('T-ACT')).toBeDefined();
  });

  it('a purged thread started from the product keeps that fact: the candidate’s later reply qualifies though they are not in the pipeline', async () => {
    // Olga is no pipeline candidate: only a thread started from the product lets her mail in.
    await ingest([{ id: 'init-1', thread: 'T-INIT', from: 'max.multi@mail.example', to: 'rita@acme.test', date: new Date('2025-01-10T10:00:00Z') }], new Date('2025-01-11T00:00:00Z'));
    await db().updateTable('mail_threads').set({ initiated_through_product: true }).where('owner_seat_id', '=', co.seat.id).where('provider_thread_id', '=', 'T-INIT').execute();
    await purgeInactiveThreads(db(), new Date('2025-08-31T09:00:00Z'));
    expect(await thread('T-INIT')).toBeUndefined();

    const facts = await loadThreadFacts(db(), co.seat.id, [{ providerThreadId: 'T-INIT' }]);
    expect(facts.get('T-INIT')).toMatchObject({ initiatedThroughProduct: true, purgedAt: new Date('2025-08-31T09:00:00Z') });
    const [reply] = await ingest([{ id: 'init-2', thread: 'T-INIT', from: 'olga@mail.example', to: 'rita@acme.test', date: new Date('2025-09-02T10:00:00Z') }], new Date('2025-09-02T11:00:00Z'));
    expect(reply!.ingested).toBe(true);
    expect(await thread('T-INIT')).toBeDefined();
  });
});
