import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetAccessToken, heldAccessToken } from '../../../src/services/access-tokens.ts';
import type { Database } from '../../../src/store/database.ts';
import { decideBatch } from '../../../src/sync/ingest/decide.ts';
import { deleteMessageAtSource, ingestBatch, purgeInactiveThreads, recordDecisions, storeMessage, type DecisionRecord, type IngestItem } from '../../../src/sync/ingest/store.ts';
import type { TestApi } from '../../helpers/app.ts';
import { startTestApi } from '../../helpers/app.ts';
import { backends } from '../../helpers/databases.ts';
import { decideContext, ingestCompany, mail, type IngestCompany, type MailSpec } from './setup.ts';

const NOW = new Date('2025-06-15T12:00:00.000Z');
const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000);

/**
 * A batch mixing what is written together (new threads and messages, several messages of one thread out of date
 * order, attachments) with what takes the per-message path (a Message-ID twin, a message named twice).
 */
const SPECS: MailSpec[] = [
  { id: 'b-3', thread: 'TB1', from: 'carla@mail.example', to: 'rita@acme.test', subject: 'Re: Role (third)', text: 'third', date: days(-1), inReplyTo: '<b-2@msg.example>' },
  { id: 'b-1', thread: 'TB1', from: 'carla@mail.example', to: 'rita@acme.test', subject: 'Role (first)', text: 'first', date: days(-5), attachments: [{ filename: 'cv.pdf', content: Buffer.alloc(700, 2), contentType: 'application/pdf' }] },
  { id: 'b-2', thread: 'TB1', from: 'rita@acme.test', to: 'carla@mail.example', subject: 'Re: Role (second)', text: 'second', date: days(-3), isSent: true, inReplyTo: '<b-1@msg.example>' },
  { id: 'b-4', thread: 'TB2', from: 'dana@mail.example', to: 'rita@acme.test', subject: 'Dana', html: '<p>Hi <b>Rita</b></p>', date: days(-2), attachments: [{ filename: 'a.txt', content: 'a', contentType: 'text/plain' }, { filename: 'b.txt', content: 'bb', contentType: 'text/plain' }] },
  { id: 'b-5', thread: 'TB3', from: 'max@other.example', to: 'rita@acme.test', subject: 'Max', text: 'max', date: days(-4), messageId: '<same@msg.example>' },
  { id: 'b-6', thread: 'TB4', from: 'max@other.example', to: 'rita@acme.test', subject: 'Max again', text: 'max copy', date: days(-4), messageId: '<same@msg.example>' },
  { id: 'b-7', from: 'colleague@acme.test', to: 'rita@acme.test', text: 'not ingested', date: days(-1) },
];

describe.each(backends)('batched ingest on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let co: IngestCompany;

  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
    co = await ingestCompany(api);
    const grant = await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('seat_id', '=', co.seat.id).executeTakeFirstOrThrow();
    await api.ctx.db.insertInto('sync_states').values({ authorization_id: grant.id, contract_id: co.contract.id, seat_id: co.seat.id, phase: 'historical', updated_at: NOW }).execute();
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  const db = () => api.ctx.db;

  async function items(): Promise<IngestItem[]> {
    const mails = await Promise.all(SPECS.map(mail));
    const decisions = await decideBatch(db(), co.mailbox.seatId, mails.map((m) => m.facts), await decideContext(api, co.mailbox, NOW));
    // The message named twice in a page (two address groups list it) is decided and given once more.
    const all = mails.map((m, i) => ({ facts: m.facts, decision: decisions[i]!, ...(decisions[i]!.ingested ? { raw: m.raw } : {}) }));
    return [...all, all[0]!];
  }

  /** What the seat has stored, by provider ids (row ids are random). */
  async function snapshot() {
    const threads = await db().selectFrom('mail_threads').select(['id', 'provider_thread_id', 'candidate_id', 'counterpart', 'subject', 'last_activity_at', 'initiated_through_product']).where('owner_seat_id', '=', co.seat.id).orderBy('provider_thread_id').execute();
    const threadOf = new Map(threads.map((t) => [t.id, t.provider_thread_id]));
    const messages = await db().selectFrom('mail_messages').selectAll().where('owner_seat_id', '=', co.seat.id).orderBy('provider_message_id').execute();
    const messageOf = new Map(messages.map((m) => [m.id, m.provider_message_id]));
    const attachments = await db().selectFrom('mail_attachments').select(['message_id', 'filename', 'content_type', 'size_bytes']).where('contract_id', '=', co.contract.id).execute();
    const decisions = await db().selectFrom('ingestion_decisions').select(['provider_message_id', 'provider_thread_id', 'counterpart', 'ingested', 'rule', 'detail']).where('seat_id', '=', co.seat.id).orderBy('provider_message_id').execute();
    return {
      threads: threads.map(({ id: _id, ...t }) => t),
      messages: messages.map(({ id: _id, thread_id, recorded_at: _recorded, ...m }) => ({ ...m, thread: threadOf.get(thread_id) })),
      attachments: attachments.map(({ message_id, ...a }) => ({ ...a, message: messageOf.get(message_id) })).sort((a, b) => `${a.message}${a.filename}`.localeCompare(`${b.message}${b.filename}`)),
      decisions,
    };
  }

  async function clear() {
    await db().deleteFrom('mail_attachments').where('contract_id', '=', co.contract.id).execute();
    await db().deleteFrom('mail_messages').where('owner_seat_id', '=', co.seat.id).execute();
    await db().deleteFrom('mail_threads').where('owner_seat_id', '=', co.seat.id).execute();
    await db().deleteFrom('ingestion_decisions').where('seat_id', '=', co.seat.id).execute();
    await db().updateTable('sync_states').set({ messages_examined: 0, messages_ingested: 0 }).where('seat_id', '=', co.seat.id).execute();
  }

  const counts = () => db().selectFrom('sync_states').select(['messages_examined', 'messages_ingested']).where('seat_id', '=', co.seat.id).executeTakeFirstOrThrow();

  it('stores exactly what storing one message at a time stores', async () => {
    await clear();
    const batch = await items();
    const result = await ingestBatch(db(), co.mailbox, batch, NOW);
    expect(result.outcomes).toEqual({ inserted: 5, already_stored: 1, matched_sent: 0, duplicate_message_id: 1 });
    const together = await snapshot();
    expect(together.threads.find((t) => t.provider_thread_id === 'TB1')?.subject).toBe('Role (first)');
    expect(together.attachments).toHaveLength(3);

    // The same messages one at a time, each as `storeMessage` writes it, then the decisions.
    await clear();
    const records: DecisionRecord[] = [];
    for (const item of batch) {
      let notes: Record<string, unknown> | undefined;
      if (item.decision.ingested) {
        const stored = await db().transaction().execute((trx) => storeMessage(trx, { mailbox: co.mailbox, facts: item.facts, raw: item.raw!, decision: item.decision, storedAt: NOW }));
        if (stored.outcome === 'duplicate_message_id') notes = { storedAs: 'The same message (same Message-ID) is already stored from another copy in your mailbox.' };
      }
      records.push({ seatId: co.seat.id, contractId: co.contract.id, facts: item.facts, decision: item.decision, decidedAt: NOW, ...(notes ? { notes } : {}) });
    }
    await recordDecisions(db(), records);
    expect(await snapshot()).toEqual(together);
  });

  it('keeps the sync counters with its writes: stored, deleted at the source, purged', async () => {
    await clear();
    await ingestBatch(db(), co.mailbox, await items(), NOW);
    expect(await counts()).toEqual({ messages_examined: SPECS.length, messages_ingested: 5 });
    // The same batch again adds nothing.
    await ingestBatch(db(), co.mailbox, await items(), NOW);
    expect(await counts()).toEqual({ messages_examined: SPECS.length, messages_ingested: 5 });

    await db().transaction().execute((trx) => deleteMessageAtSource(trx, co.seat.id, 'b-4', NOW));
    expect(await counts()).toEqual({ messages_examined: SPECS.length, messages_ingested: 4 });

    // Thread TB1's last activity is the oldest of the rest only after a purge long after it.
    const purged = await purgeInactiveThreads(db(), new Date(NOW.getTime() + 200 * 86_400_000));
    expect(purged.messages).toBe(4);
    expect(await counts()).toEqual({ messages_examined: SPECS.length, messages_ingested: 0 });
  });
});

describe.each(backends)('the sync’s access token on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let co: IngestCompany;

  beforeAll(async () => {
    database = await backend.open();
    api = await startTestApi(database);
    co = await ingestCompany(api, 'Tokens', 'tokens.test');
  });
  afterAll(async () => {
    await api.close();
    await database.close();
  });

  it('is held in the process until shortly before it expires, and read again once dropped', async () => {
    const deps = { ...api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl };
    const grant = await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('seat_id', '=', co.seat.id).executeTakeFirstOrThrow();
    const setToken = (token: string, expiresAt: Date) =>
      api.ctx.db.updateTable('mailbox_authorizations').set({ access_token_ciphertext: api.cipher.seal(token, `${grant.id}:access`), access_token_expires_at: expiresAt }).where('id', '=', grant.id).execute();
    const authorizedAt = api.clock.now();
    const expiresAt = new Date(api.clock.now().getTime() + 60 * 60_000);
    await setToken('first', expiresAt);
    expect(await heldAccessToken(deps, grant.id, authorizedAt)).toBe('first');
    // Another process refreshed it: this one keeps using the token it holds, which is still valid.
    await setToken('second', expiresAt);
    expect(await heldAccessToken(deps, grant.id, authorizedAt)).toBe('first');
    // Refused by the provider (or the grant ended): dropped, read again.
    forgetAccessToken(grant.id);
    expect(await heldAccessToken(deps, grant.id, authorizedAt)).toBe('second');
    // Close to its expiry the token held is not used: the stored one is read (refreshed there when due).
    await setToken('third', new Date(expiresAt.getTime() + 60 * 60_000));
    api.clock.set(new Date(expiresAt.getTime() - 60_000));
    expect(await heldAccessToken(deps, grant.id, authorizedAt)).toBe('third');
    // Re-authorized (another mailbox, perhaps): the token of the new authorization is read.
    await setToken('fourth', new Date(expiresAt.getTime() + 60 * 60_000));
    expect(await heldAccessToken(deps, grant.id, authorizedAt)).toBe('third');
    expect(await heldAccessToken(deps, grant.id, new Date(authorizedAt.getTime() + 1000))).toBe('fourth');
  });
});
