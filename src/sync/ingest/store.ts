/**
 * Writing what the ingest step decided: the decision log (R-40), stored messages (R-60, R-41) and deletions at
 * the source (R-37). Every write is idempotent (R-26): keyed by the provider's ids and deduplicated by RFC
 * Message-ID within the seat, so a retried batch, a duplicated notification or a restarted worker converges to
 * one row per message.
 */
import { sql, type Kysely } from 'kysely';
import { normalizeAddress } from '../../domain/addresses.ts';
import { formatInstant, parseAddressList, type AddressField } from '../../domain/ingestion/index.ts';
import { newId } from '../../ids.ts';
import { RetryLaterError } from '../../jobs/index.ts';
import type { DB } from '../../store/schema.ts';
import { ownerAddresses } from './candidates.ts';
import { referencedMessageIds } from './decide.ts';
import { canonicalMessageId, messageIdForms } from './message-ids.ts';
import { parseMime, type ParsedAddressEntry, type ParsedMessage } from './mime.ts';
import type { MessageDecision, MessageFacts, SeatMailbox } from './types.ts';

export { purgeInactiveThreads, type PurgeCounts } from './retention.ts';

type Db = Kysely<DB>;
type Ids = Pick<MessageFacts, 'providerMessageId' | 'providerThreadId'>;

// ---------------------------------------------------------------------------------------------------------
// R-40 decision log

export interface DecisionRecord {
  readonly seatId: string;
  readonly contractId: string;
  readonly facts: Ids & Partial<Pick<MessageFacts, 'date' | 'isSent'>>;
  readonly decision: MessageDecision;
  readonly decidedAt: Date;
  /** More header-level notes for the log (e.g. `parseProblems`). Never a body, a subject or a snippet. */
  readonly notes?: Readonly<Record<string, unknown>>;
}

const iso = (date: Date | undefined | null): string | null => (date instanceof Date && !Number.isNaN(date.getTime()) ? date.toISOString() : null);

/** The detail column: the decision's header facts and its plain-words reason, nothing of the content. */
export function decisionDetail(record: DecisionRecord): Record<string, unknown> {
  const { decision, facts } = record;
  return {
    summary: decision.summary,
    reason: decision.reason,
    facts: decision.facts,
    participants: decision.participants,
    candidateIds: decision.candidateIds,
    threadInitiatedThroughProduct: decision.threadInitiatedThroughProduct,
    messageDate: iso(facts.date),
    ...(facts.isSent === undefined ? {} : { direction: facts.isSent ? 'sent' : 'received' }),
    ...(record.notes ?? {}),
  };
}

function decisionRow(record: DecisionRecord) {
  return {
    contract_id: record.contractId,
    seat_id: record.seatId,
    provider_message_id: record.facts.providerMessageId,
    provider_thread_id: record.facts.providerThreadId,
    counterpart: record.decision.counterpart,
    decided_at: record.decidedAt,
    ingested: record.decision.ingested,
    rule: record.decision.rule,
    detail: JSON.stringify(decisionDetail(record)),
  };
}

/**
 * Upserts decisions by (seat, provider message id): the latest decision about a message replaces the earlier. Returns
 * how many were new rows (messages decided for the first time).
 */
export async function recordDecisions(db: Db, records: readonly DecisionRecord[]): Promise<number> {
  // One statement per 500; a message named twice in a batch keeps its last decision (ON CONFLICT may not touch a row twice).
  const byKey = new Map<string, DecisionRecord>();
  for (const r of records) byKey.set(`${r.seatId}\u0000${r.facts.providerMessageId}`, r);
  const rows = [...byKey.values()].map(decisionRow);
  let added = 0;
  for (let i = 0; i < rows.length; i += 500) {
    const written = await db
      .insertInto('ingestion_decisions')
      .values(rows.slice(i, i + 500))
      .onConflict((oc) =>
        oc.columns(['seat_id', 'provider_message_id']).doUpdateSet((eb) => ({
          provider_thread_id: eb.ref('excluded.provider_thread_id'),
          counterpart: eb.ref('excluded.counterpart'),
          decided_at: eb.ref('excluded.decided_at'),
          ingested: eb.ref('excluded.ingested'),
          rule: eb.ref('excluded.rule'),
          detail: eb.ref('excluded.detail'),
        })),
      )
      // A row the statement inserted (rather than updated) has no deleting transaction id.
      .returning(sql<boolean>`(xmax = 0)`.as('added'))
      .execute();
    for (const row of written) if (row.added) added++;
  }
  return added;
}

export async function recordDecision(db: Db, record: DecisionRecord): Promise<void> {
  await recordDecisions(db, [record]);
}

/**
 * The seat's sync counters (decisions logged, synced messages stored), kept by the writes that change them in their
 * own transaction, so progress shows during a sync without counting the seat's whole history.
 */
export async function addToSyncCounts(db: Db, seatId: string, examined: number, ingested: number): Promise<void> {
  if (examined === 0 && ingested === 0) return;
  await db
    .updateTable('sync_states')
    .set({ messages_examined: sql<number>`GREATEST(0, messages_examined + ${examined})`, messages_ingested: sql<number>`GREATEST(0, messages_ingested + ${ingested})` })
    .where('authorization_id', 'in', (eb) => eb.selectFrom('mailbox_authorizations').select('id').where('seat_id', '=', seatId).where('kind', '=', 'email'))
    .execute();
}

// ---------------------------------------------------------------------------------------------------------
// Stored messages

export type StoreOutcome =
  /** A new row. */
  | 'inserted'
  /** This provider message was stored before: nothing changed. */
  | 'already_stored'
  /** The product's own send (origin sent_from_product) seen again by sync: its provider ids were filled in. */
  | 'matched_sent'
  /** Another provider copy of a message already stored under its Message-ID: not stored twice. */
  | 'duplicate_message_id';

export interface StoreMessageInput {
  /** The owner is the seat's holder when the row is written (read in the insert), not a field of this. */
  readonly mailbox: Pick<SeatMailbox, 'seatId' | 'contractId' | 'provider' | 'owner'>;
  readonly facts: MessageFacts;
  /** The raw RFC 5322 message (Gmail `format=raw`, Graph `$value`); or `parsed` when already parsed. */
  readonly raw?: Uint8Array | string;
  readonly parsed?: ParsedMessage;
  readonly decision: MessageDecision;
  readonly storedAt: Date;
  /** `sent_from_product` for a message the product just sent (R-50): its new thread counts as initiated here. */
  readonly origin?: 'synced' | 'sent_from_product';
  /**
   * What a batch already established with one query for all its messages, so the per-message lookups can be
   * skipped: the provider id is not stored yet; no message of the seat carries this Message-ID yet. Both are
   * only hints — the unique key still guards the insert.
   */
  readonly known?: { readonly notStored?: boolean; readonly noMessageIdTwin?: boolean };
}

export interface StoreMessageResult {
  readonly outcome: StoreOutcome;
  readonly messageId: string;
  readonly threadId: string;
  /** What could not be read from the MIME, in plain words (recorded in the decision detail). */
  readonly problems: readonly string[];
}

function factsAddresses(field: AddressField | undefined): ParsedAddressEntry[] {
  if (field === undefined) return [];
  const out: ParsedAddressEntry[] = [];
  for (const item of typeof field === 'string' ? [field] : field) {
    if (typeof item === 'string') {
      for (const p of parseAddressList(item)) out.push(p.name === null ? { address: p.address } : { address: p.address, name: p.name });
    } else if (item.address.trim() !== '') {
      const name = item.name?.trim();
      out.push(name ? { address: item.address.trim(), name } : { address: item.address.trim() });
    }
  }
  return out;
}

const validDate = (d: Date | null | undefined): d is Date => d instanceof Date && !Number.isNaN(d.getTime());

/** The stored shape of a message, from the MIME where readable and from the header facts otherwise. */
function messageFields(input: StoreMessageInput, parsed: ParsedMessage) {
  const { facts, mailbox, decision } = input;
  const headersRead = parsed.from !== null || parsed.to.length > 0 || parsed.cc.length > 0;
  const from = parsed.from ?? factsAddresses(facts.from)[0] ?? null;
  const to = headersRead ? parsed.to : factsAddresses(facts.to);
  const cc = headersRead ? parsed.cc : factsAddresses(facts.cc);
  const owned = ownerAddresses(mailbox);
  // Dates: the Date header is what the sender's client shows; the mailbox's own date when it is missing.
  const sentAt = parsed.date ?? (validDate(facts.date) ? facts.date : input.storedAt);
  // Thread activity follows the mailbox's date (R-24, R-36): a forged Date header cannot keep a thread alive.
  const activityAt = validDate(facts.date) ? facts.date : sentAt;
  return {
    from,
    to,
    cc,
    direction: from !== null && owned.has(normalizeAddress(from.address)) ? ('outbound' as const) : ('inbound' as const),
    subject: (parsed.subject ?? facts.subject ?? '').slice(0, 1000),
    sentAt,
    activityAt,
    rfcMessageId: parsed.rfcMessageId ?? canonicalMessageId(facts.rfcMessageId),
    inReplyTo: parsed.inReplyTo ?? canonicalMessageId(facts.inReplyTo),
    references: parsed.references.length > 0 ? parsed.references : referencedMessageIds({ inReplyTo: null, references: facts.references ?? null }),
    counterpart: decision.counterpart ?? '',
    candidateId: decision.candidateIds[0] ?? null,
  };
}

/** The `mail_messages` row of a stored message: one shape for the per-message and the batched path. */
function messageRow(
  mailbox: StoreMessageInput['mailbox'],
  id: string,
  threadId: string,
  providerMessageId: string,
  fields: ReturnType<typeof messageFields>,
  parsed: ParsedMessage,
  origin: NonNullable<StoreMessageInput['origin']>,
  storedAt: Date,
) {
  return {
    id,
    contract_id: mailbox.contractId,
    owner_seat_id: mailbox.seatId,
    // R-60/R-61: the seat's holder at the moment of storing, read in the same statement (a transfer may
    // have happened since the sync run loaded the mailbox).
    owner_user_id: sql<string | null>`(SELECT user_id FROM seats WHERE id = ${mailbox.seatId})`,
    thread_id: threadId,
    candidate_id: fields.candidateId,
    provider_message_id: providerMessageId,
    rfc_message_id: fields.rfcMessageId,
    in_reply_to: fields.inReplyTo,
    references_ids: fields.references,
    direction: fields.direction,
    from_address: fields.from?.address ?? '',
    from_name: fields.from?.name ?? null,
    to_addresses: JSON.stringify(fields.to),
    cc_addresses: JSON.stringify(fields.cc),
    counterpart: fields.counterpart,
    subject: fields.subject,
    sent_at: fields.sentAt,
    snippet: parsed.snippet,
    body_html: parsed.bodyHtml,
    body_text: parsed.bodyText,
    visibility: 'private' as const,
    origin,
    stored_at: storedAt,
  };
}

/**
 * A thread started by a send from the product may carry a provisional provider thread id (Graph's sendMail
 * returns none). When sync meets its real id — the product's own message seen in Sent, or a reply naming it —
 * the stored thread takes that id, merging into a thread already stored under it if there is one.
 */
async function adoptProvisionalThread(trx: Db, seatId: string, provisionalThreadId: string, realProviderThreadId: string): Promise<string> {
  const real = await trx.selectFrom('mail_threads').select(['id']).where('owner_seat_id', '=', seatId).where('provider_thread_id', '=', realProviderThreadId).executeTakeFirst();
  if (!real) {
    await trx.updateTable('mail_threads').set({ provider_thread_id: realProviderThreadId }).where('id', '=', provisionalThreadId).execute();
    return provisionalThreadId;
  }
  if (real.id === provisionalThreadId) return real.id;
  const provisional = await trx.selectFrom('mail_threads').select(['last_activity_at', 'initiated_through_product']).where('id', '=', provisionalThreadId).executeTakeFirstOrThrow();
  await trx.updateTable('mail_messages').set({ thread_id: real.id }).where('thread_id', '=', provisionalThreadId).execute();
  await trx
    .updateTable('mail_threads')
    .set((eb) => ({
      initiated_through_product: provisional.initiated_through_product ? true : eb.ref('initiated_through_product'),
      last_activity_at: sql<Date>`GREATEST(last_activity_at, ${provisional.last_activity_at})`,
    }))
    .where('id', '=', real.id)
    .execute();
  await trx.deleteFrom('mail_threads').where('id', '=', provisionalThreadId).execute();
  return real.id;
}

/** Sets the thread's subject when this message is its earliest (SPEC: a thread reads as its first message). */
async function refreshThreadSubject(trx: Db, threadId: string, messageId: string, subject: string, sentAt: Date): Promise<void> {
  await trx
    .updateTable('mail_threads')
    .set({ subject })
    .where('id', '=', threadId)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('mail_messages as earlier')
            .select(sql.lit(1).as('one'))
            .where('earlier.thread_id', '=', threadId)
            .where('earlier.id', '!=', messageId)
            .where((e) => e.or([e('earlier.sent_at', '<', sentAt), e.and([e('earlier.sent_at', '=', sentAt), e('earlier.id', '<', messageId)])])),
        ),
      ),
    )
    .execute();
}

/**
 * Stores one ingested message in `trx`. The caller has decided it (`decideMessage`) and fetched its raw MIME
 * only because it is ingested (R-41). Owner seat and holder as of now, visibility `private` (R-60), origin
 * `synced`.
 */
export async function storeMessage(trx: Db, input: StoreMessageInput): Promise<StoreMessageResult> {
  const { mailbox, facts } = input;
  if (!input.decision.ingested) throw new Error('storeMessage: the message was not ingested; record the decision only (R-41)');

  const existing =
    input.known?.notStored === true
      ? undefined
      : await trx.selectFrom('mail_messages').select(['id', 'thread_id']).where('owner_seat_id', '=', mailbox.seatId).where('provider_message_id', '=', facts.providerMessageId).executeTakeFirst();
  if (existing) return { outcome: 'already_stored', messageId: existing.id, threadId: existing.thread_id, problems: [] };

  const parsed = input.parsed ?? (input.raw !== undefined ? await parseMime(input.raw) : null);
  if (parsed === null) throw new Error('storeMessage: raw MIME (or its parse) is required');
  const fields = messageFields(input, parsed);

  // R-26: the same message under another provider id (the product's own send, or a second provider copy).
  if (fields.rfcMessageId !== null && input.known?.noMessageIdTwin !== true) {
    const twin = await trx
      .selectFrom('mail_messages as m')
      .innerJoin('mail_threads as t', 't.id', 'm.thread_id')
      .select(['m.id', 'm.thread_id', 'm.origin', 't.provider_thread_id'])
      .where('m.owner_seat_id', '=', mailbox.seatId)
      .where('m.rfc_message_id', 'in', messageIdForms(fields.rfcMessageId))
      .orderBy(sql`CASE WHEN m.origin = 'sent_from_product' THEN 0 ELSE 1 END`)
      .orderBy('m.stored_at')
      .executeTakeFirst();
    if (twin) {
      if (twin.origin !== 'sent_from_product') return { outcome: 'duplicate_message_id', messageId: twin.id, threadId: twin.thread_id, problems: parsed.problems };
      await trx.updateTable('mail_messages').set({ provider_message_id: facts.providerMessageId }).where('id', '=', twin.id).execute();
      const threadId = twin.provider_thread_id === facts.providerThreadId ? twin.thread_id : await adoptProvisionalThread(trx, mailbox.seatId, twin.thread_id, facts.providerThreadId);
      await trx.updateTable('mail_threads').set({ last_activity_at: sql<Date>`GREATEST(last_activity_at, ${fields.activityAt})` }).where('id', '=', threadId).execute();
      return { outcome: 'matched_sent', messageId: twin.id, threadId, problems: parsed.problems };
    }
  }

  // A reply to the product's own send, arriving before that send was matched: its thread takes the real id.
  const references = [...(fields.inReplyTo === null ? [] : [fields.inReplyTo]), ...fields.references];
  if (references.length > 0) {
    const known = await trx.selectFrom('mail_threads').select('id').where('owner_seat_id', '=', mailbox.seatId).where('provider_thread_id', '=', facts.providerThreadId).executeTakeFirst();
    if (!known) {
      const provisional = await trx
        .selectFrom('mail_messages as m')
        .innerJoin('mail_threads as t', 't.id', 'm.thread_id')
        .select('t.id')
        .where('m.owner_seat_id', '=', mailbox.seatId)
        .where('m.rfc_message_id', 'in', [...new Set(references.flatMap((id) => messageIdForms(id)))])
        .where('t.initiated_through_product', '=', true)
        .executeTakeFirst();
      if (provisional) await adoptProvisionalThread(trx, mailbox.seatId, provisional.id, facts.providerThreadId);
    }
  }

  const thread = await trx
    .insertInto('mail_threads')
    .values({
      id: newId(),
      contract_id: mailbox.contractId,
      owner_seat_id: mailbox.seatId,
      provider: mailbox.provider,
      provider_thread_id: facts.providerThreadId,
      candidate_id: fields.candidateId,
      counterpart: fields.counterpart,
      subject: fields.subject,
      last_activity_at: fields.activityAt,
      initiated_through_product: input.origin === 'sent_from_product',
      created_at: input.storedAt,
    })
    .onConflict((oc) =>
      oc.columns(['owner_seat_id', 'provider_thread_id']).doUpdateSet({
        last_activity_at: sql<Date>`GREATEST(mail_threads.last_activity_at, excluded.last_activity_at)`,
        candidate_id: sql<string | null>`COALESCE(mail_threads.candidate_id, excluded.candidate_id)`,
      }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();

  const messageId = newId();
  const inserted = await trx
    .insertInto('mail_messages')
    .values(messageRow(mailbox, messageId, thread.id, facts.providerMessageId, fields, parsed, input.origin ?? 'synced', input.storedAt))
    .onConflict((oc) => oc.columns(['owner_seat_id', 'provider_message_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    // Stored meanwhile by another worker: that row stands.
    const row = await trx.selectFrom('mail_messages').select(['id', 'thread_id']).where('owner_seat_id', '=', mailbox.seatId).where('provider_message_id', '=', facts.providerMessageId).executeTakeFirstOrThrow();
    return { outcome: 'already_stored', messageId: row.id, threadId: row.thread_id, problems: parsed.problems };
  }
  if (parsed.attachments.length > 0) {
    await trx
      .insertInto('mail_attachments')
      .values(parsed.attachments.map((a) => ({ id: newId(), contract_id: mailbox.contractId, message_id: messageId, filename: a.filename.slice(0, 500), content_type: a.contentType.slice(0, 200), size_bytes: Math.min(a.sizeBytes, 2_147_483_647) })))
      .execute();
  }
  await refreshThreadSubject(trx, thread.id, messageId, fields.subject, fields.sentAt);
  return { outcome: 'inserted', messageId, threadId: thread.id, problems: parsed.problems };
}

// ---------------------------------------------------------------------------------------------------------
// Batches

export interface IngestItem {
  readonly facts: MessageFacts;
  readonly decision: MessageDecision;
  /** Required for an ingested message, absent for one that is not (its body is never fetched, R-41). */
  readonly raw?: Uint8Array | string;
}

export interface IngestBatchResult {
  readonly examined: number;
  readonly ingested: number;
  readonly outcomes: Readonly<Record<StoreOutcome, number>>;
  readonly stored: ReadonlyArray<{ providerMessageId: string } & StoreMessageResult>;
}

/**
 * R-22, R-62: the mailbox's grant ended (disconnected, downgraded, seat transferred or parked) while a run was
 * fetching. Nothing of the batch is written; the job goes back to the queue, where its next try finds the grant
 * ended and stops, its checkpoint left before this batch for a re-authorization to resume from (R-23).
 */
export class GrantEndedError extends RetryLaterError {
  constructor(at: Date) {
    super(at, 'the mailbox authorization ended during the sync run; nothing of the batch was written');
    this.name = 'GrantEndedError';
  }
}

/**
 * R-70: the contract was suspended while a run was fetching. Nothing of the batch is written; the job goes back to
 * the queue, and by its next try the suspension's deletion has ended the grant.
 */
export class ContractSuspendedError extends RetryLaterError {
  constructor(at: Date) {
    super(at, 'the company was suspended during the sync run; nothing of the batch was written');
    this.name = 'ContractSuspendedError';
  }
}

/**
 * `fence`: runs inside the batch's transaction, after its checks and before its writes; throwing there writes nothing
 * (the sync run's lease, `RunLease.hold`). Test-only: `insideTransaction` runs at the same point (a test holds a batch
 * open there).
 */
export interface IngestBatchHooks {
  readonly fence?: (trx: Db) => Promise<void>;
  readonly insideTransaction?: () => Promise<void>;
}

/**
 * Stores a batch in one transaction: the ingested messages and every decision of the batch, so a crash leaves
 * either all of it or none (R-26). MIME is parsed before the transaction opens, to keep it short. The seat's
 * email grant is read with a share lock first: a deauthorization (which locks it for update) either waits for the
 * batch or is seen by it, and a batch of a mailbox no longer authorized for the seat throws `GrantEndedError`.
 * The contract row is read the same way first (R-70, `ContractSuspendedError`).
 */
export async function ingestBatch(db: Db, mailbox: StoreMessageInput['mailbox'], items: readonly IngestItem[], now: Date, hooks?: IngestBatchHooks): Promise<IngestBatchResult> {
  // Messages stored before (a retried batch, a duplicated notification) need no parse: one query for the batch.
  const ingestedIds = items.filter((i) => i.decision.ingested).map((i) => i.facts.providerMessageId);
  const known = new Set<string>();
  for (let i = 0; i < ingestedIds.length; i += 500) {
    const rows = await db.selectFrom('mail_messages').select('provider_message_id').where('owner_seat_id', '=', mailbox.seatId).where('provider_message_id', 'in', ingestedIds.slice(i, i + 500)).execute();
    for (const r of rows) known.add(r.provider_message_id);
  }
  const parsed: Array<ParsedMessage | 'known' | null> = [];
  for (const item of items) {
    if (!item.decision.ingested) {
      parsed.push(null);
      continue;
    }
    if (item.raw === undefined) throw new Error(`ingestBatch: message ${item.facts.providerMessageId} is ingested but its raw MIME was not given`);
    parsed.push(known.has(item.facts.providerMessageId) ? 'known' : await parseMime(item.raw));
  }
  // Message-IDs already stored for the seat, and those named twice in this batch: only the others skip the twin lookup.
  const rfcIds = parsed.map((p) => (p !== null && p !== 'known' ? p.rfcMessageId : null));
  const seen = new Map<string, number>();
  for (const id of rfcIds) if (id !== null) seen.set(id, (seen.get(id) ?? 0) + 1);
  const storedRfc = new Set<string>();
  const distinctRfc = [...seen.keys()];
  for (let i = 0; i < distinctRfc.length; i += 250) {
    const forms = distinctRfc.slice(i, i + 250).flatMap((id) => messageIdForms(id));
    const rows = await db.selectFrom('mail_messages').select('rfc_message_id').where('owner_seat_id', '=', mailbox.seatId).where('rfc_message_id', 'in', forms).execute();
    for (const r of rows) {
      const id = canonicalMessageId(r.rfc_message_id);
      if (id !== null) storedRfc.add(id);
    }
  }
  return db.transaction().execute(async (trx) => {
    // R-70: suspending locks the contract row FOR UPDATE when it flips the status, so it waits for this batch to
    // commit (the suspension job then deletes what it wrote), or this batch sees `suspended` and writes nothing.
    const contract = await trx.selectFrom('contracts').select('status').where('id', '=', mailbox.contractId).forShare().executeTakeFirst();
    if (contract?.status !== 'active') throw new ContractSuspendedError(new Date(now.getTime() + 60_000));
    const grant = await trx
      .selectFrom('mailbox_authorizations')
      .select(['state', 'address'])
      .where('seat_id', '=', mailbox.seatId)
      .where('kind', '=', 'email')
      .forShare()
      .executeTakeFirst();
    if (grant?.state !== 'authorized' || grant.address?.toLowerCase() !== mailbox.owner.address.toLowerCase()) throw new GrantEndedError(new Date(now.getTime() + 1000));
    await hooks?.fence?.(trx);
    await hooks?.insideTransaction?.();
    // Threads of the batch already stored, and stored messages in threads started from the product that the batch's
    // messages refer to: a message that may meet either (a Message-ID twin, a provisional thread to adopt) takes the
    // careful path, one message at a time; the others are written together, a few statements for the whole batch.
    const parsedOf = (i: number): ParsedMessage | null => {
      const p = parsed[i];
      return p === null || p === 'known' || p === undefined ? null : p;
    };
    const threadIds = [...new Set(items.filter((_, i) => parsedOf(i) !== null).map((item) => item.facts.providerThreadId))];
    const threadKnown = new Set<string>();
    for (let i = 0; i < threadIds.length; i += 500) {
      const rows = await trx.selectFrom('mail_threads').select('provider_thread_id').where('owner_seat_id', '=', mailbox.seatId).where('provider_thread_id', 'in', threadIds.slice(i, i + 500)).execute();
      for (const r of rows) threadKnown.add(r.provider_thread_id);
    }
    const fieldsOf = new Map<number, ReturnType<typeof messageFields>>();
    const referenced = new Set<string>();
    for (const [i, item] of items.entries()) {
      const p = parsedOf(i);
      if (p === null) continue;
      const fields = messageFields({ mailbox, facts: item.facts, decision: item.decision, storedAt: now }, p);
      fieldsOf.set(i, fields);
      if (threadKnown.has(item.facts.providerThreadId)) continue;
      for (const id of referencesOf(fields)) for (const form of messageIdForms(id)) referenced.add(form);
    }
    const initiatedForms = new Set<string>();
    const referencedForms = [...referenced];
    for (let i = 0; i < referencedForms.length; i += 500) {
      const rows = await trx
        .selectFrom('mail_messages as m')
        .innerJoin('mail_threads as t', 't.id', 'm.thread_id')
        .select('m.rfc_message_id')
        .where('m.owner_seat_id', '=', mailbox.seatId)
        .where('m.rfc_message_id', 'in', referencedForms.slice(i, i + 500))
        .where('t.initiated_through_product', '=', true)
        .execute();
      for (const r of rows) if (r.rfc_message_id !== null) initiatedForms.add(r.rfc_message_id);
    }

    const results: Array<StoreMessageResult | undefined> = [];
    const batchIds = new Set<string>();
    const batchRfc = new Set<string>();
    let pending: BulkRow[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      const written = await storeMessagesTogether(trx, mailbox, pending, now);
      for (const [j, row] of pending.entries()) results[row.index] = written[j];
      pending = [];
    };
    for (const [i, item] of items.entries()) {
      const parse = parsed[i] ?? null;
      if (parse === null) continue;
      const { providerMessageId, providerThreadId } = item.facts;
      const first = !batchIds.has(providerMessageId);
      batchIds.add(providerMessageId);
      const fields = fieldsOf.get(i);
      if (parse !== 'known' && first && fields !== undefined) {
        const rfc = rfcIds[i] ?? null;
        const noTwin = fields.rfcMessageId === null || (rfc === fields.rfcMessageId && seen.get(rfc) === 1 && !storedRfc.has(rfc));
        const references = referencesOf(fields);
        const mayAdopt =
          references.length > 0 && !threadKnown.has(providerThreadId) && references.some((id) => batchRfc.has(id) || messageIdForms(id).some((form) => initiatedForms.has(form)));
        if (fields.rfcMessageId !== null) batchRfc.add(fields.rfcMessageId);
        if (noTwin && !mayAdopt) {
          pending.push({ index: i, facts: item.facts, parsed: parse, fields });
          threadKnown.add(providerThreadId);
          continue;
        }
      } else if (fields?.rfcMessageId) batchRfc.add(fields.rfcMessageId);
      // The careful path sees every write before it in the batch.
      await flush();
      const source = parse === 'known' ? (item.raw === undefined ? {} : { raw: item.raw }) : { parsed: parse };
      const rfc = rfcIds[i] ?? null;
      const known = parse === 'known' || !first ? {} : { notStored: true, noMessageIdTwin: rfc !== null && seen.get(rfc) === 1 && !storedRfc.has(rfc) };
      const result = await storeMessage(trx, { mailbox, facts: item.facts, ...source, decision: item.decision, storedAt: now, known });
      if (result.outcome === 'inserted' || result.outcome === 'matched_sent') threadKnown.add(providerThreadId);
      results[i] = result;
    }
    await flush();

    const outcomes: Record<StoreOutcome, number> = { inserted: 0, already_stored: 0, matched_sent: 0, duplicate_message_id: 0 };
    const stored: Array<{ providerMessageId: string } & StoreMessageResult> = [];
    const records: DecisionRecord[] = [];
    for (const [i, item] of items.entries()) {
      const result = results[i];
      let notes: Record<string, unknown> | undefined;
      if (result !== undefined) {
        outcomes[result.outcome]++;
        stored.push({ providerMessageId: item.facts.providerMessageId, ...result });
        if (result.problems.length > 0) notes = { parseProblems: result.problems };
        if (result.outcome === 'duplicate_message_id') notes = { ...notes, storedAs: 'The same message (same Message-ID) is already stored from another copy in your mailbox.' };
      }
      records.push({ seatId: mailbox.seatId, contractId: mailbox.contractId, facts: item.facts, decision: item.decision, decidedAt: now, ...(notes ? { notes } : {}) });
    }
    const decided = await recordDecisions(trx, records);
    await recordThreadActivity(trx, mailbox.seatId, items.filter((item) => !item.decision.ingested).map((item) => item.facts));
    await addToSyncCounts(trx, mailbox.seatId, decided, outcomes.inserted);
    return { examined: items.length, ingested: parsed.filter((p) => p !== null).length, outcomes, stored };
  });
}

type Fields = ReturnType<typeof messageFields>;

/** The Message-IDs a message refers to: In-Reply-To first, then References. */
const referencesOf = (fields: Fields): string[] => [...(fields.inReplyTo === null ? [] : [fields.inReplyTo]), ...fields.references];

/** A message of a batch known to need none of `storeMessage`'s per-message checks: not stored, no twin, no provisional thread. */
interface BulkRow {
  readonly index: number;
  readonly facts: MessageFacts;
  readonly parsed: ParsedMessage;
  readonly fields: Fields;
}

/**
 * Writes messages the way `storeMessage` writes each of them, with one statement per table for all of them: threads
 * upserted (a thread named by several takes the first one's subject, counterpart and candidate, and the latest
 * activity), messages inserted, attachments, and each thread's subject from its earliest message.
 */
async function storeMessagesTogether(trx: Db, mailbox: StoreMessageInput['mailbox'], rows: readonly BulkRow[], now: Date): Promise<StoreMessageResult[]> {
  type ThreadRow = { id: string; provider_thread_id: string; candidate_id: string | null; counterpart: string; subject: string; last_activity_at: Date };
  const threads = new Map<string, ThreadRow>();
  for (const { facts, fields } of rows) {
    const t = threads.get(facts.providerThreadId);
    if (t === undefined) {
      threads.set(facts.providerThreadId, { id: newId(), provider_thread_id: facts.providerThreadId, candidate_id: fields.candidateId, counterpart: fields.counterpart, subject: fields.subject, last_activity_at: fields.activityAt });
      continue;
    }
    t.candidate_id ??= fields.candidateId;
    if (fields.activityAt.getTime() > t.last_activity_at.getTime()) t.last_activity_at = fields.activityAt;
  }
  const threadIdOf = new Map<string, string>();
  const threadRows = [...threads.values()];
  for (let i = 0; i < threadRows.length; i += 500) {
    const written = await trx
      .insertInto('mail_threads')
      .values(
        threadRows.slice(i, i + 500).map((t) => ({
          ...t,
          contract_id: mailbox.contractId,
          owner_seat_id: mailbox.seatId,
          provider: mailbox.provider,
          initiated_through_product: false,
          created_at: now,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['owner_seat_id', 'provider_thread_id']).doUpdateSet({
          last_activity_at: sql<Date>`GREATEST(mail_threads.last_activity_at, excluded.last_activity_at)`,
          candidate_id: sql<string | null>`COALESCE(mail_threads.candidate_id, excluded.candidate_id)`,
        }),
      )
      .returning(['id', 'provider_thread_id'])
      .execute();
    for (const t of written) threadIdOf.set(t.provider_thread_id, t.id);
  }

  const messageIds = rows.map(() => newId());
  const inserted = new Set<string>();
  for (let i = 0; i < rows.length; i += 500) {
    const written = await trx
      .insertInto('mail_messages')
      .values(
        rows.slice(i, i + 500).map(({ facts, parsed, fields }, j) =>
          messageRow(mailbox, messageIds[i + j]!, threadIdOf.get(facts.providerThreadId)!, facts.providerMessageId, fields, parsed, 'synced', now),
        ),
      )
      .onConflict((oc) => oc.columns(['owner_seat_id', 'provider_message_id']).doNothing())
      .returning('id')
      .execute();
    for (const m of written) inserted.add(m.id);
  }
  // Stored meanwhile by another worker: those rows stand.
  const lost = rows.filter((_, j) => !inserted.has(messageIds[j]!)).map((r) => r.facts.providerMessageId);
  const standing = new Map<string, { id: string; thread_id: string }>();
  for (let i = 0; i < lost.length; i += 500) {
    const found = await trx.selectFrom('mail_messages').select(['id', 'thread_id', 'provider_message_id']).where('owner_seat_id', '=', mailbox.seatId).where('provider_message_id', 'in', lost.slice(i, i + 500)).execute();
    for (const m of found) standing.set(m.provider_message_id, m);
  }

  const attachments = rows.flatMap(({ parsed }, j) =>
    inserted.has(messageIds[j]!)
      ? parsed.attachments.map((a) => ({ id: newId(), contract_id: mailbox.contractId, message_id: messageIds[j]!, filename: a.filename.slice(0, 500), content_type: a.contentType.slice(0, 200), size_bytes: Math.min(a.sizeBytes, 2_147_483_647) }))
      : [],
  );
  for (let i = 0; i < attachments.length; i += 1000) await trx.insertInto('mail_attachments').values(attachments.slice(i, i + 1000)).execute();

  // A thread reads as its earliest message: only the earliest of those written here can be earlier than the others.
  const earliest = new Map<string, { messageId: string; subject: string; sentAt: Date }>();
  for (const [j, { facts, fields }] of rows.entries()) {
    if (!inserted.has(messageIds[j]!)) continue;
    const threadId = threadIdOf.get(facts.providerThreadId)!;
    const e = earliest.get(threadId);
    const t = fields.sentAt.getTime();
    if (e === undefined || t < e.sentAt.getTime() || (t === e.sentAt.getTime() && messageIds[j]! < e.messageId)) earliest.set(threadId, { messageId: messageIds[j]!, subject: fields.subject, sentAt: fields.sentAt });
  }
  const subjects = [...earliest];
  for (let i = 0; i < subjects.length; i += 500) {
    const values = sql.join(subjects.slice(i, i + 500).map(([threadId, e]) => sql`(${threadId}::uuid, ${e.messageId}::uuid, ${e.subject}::text, ${e.sentAt}::timestamptz)`));
    await sql`
      UPDATE mail_threads t SET subject = v.subject
      FROM (VALUES ${values}) AS v(thread_id, message_id, subject, sent_at)
      WHERE t.id = v.thread_id
        AND NOT EXISTS (
          SELECT 1 FROM mail_messages earlier
          WHERE earlier.thread_id = v.thread_id AND earlier.id <> v.message_id
            AND (earlier.sent_at < v.sent_at OR (earlier.sent_at = v.sent_at AND earlier.id < v.message_id)))`.execute(trx);
  }

  return rows.map(({ facts, parsed }, j) => {
    if (inserted.has(messageIds[j]!)) return { outcome: 'inserted', messageId: messageIds[j]!, threadId: threadIdOf.get(facts.providerThreadId)!, problems: parsed.problems };
    const row = standing.get(facts.providerMessageId);
    if (row === undefined) throw new Error(`ingestBatch: message ${facts.providerMessageId} was neither stored nor found`);
    return { outcome: 'already_stored', messageId: row.id, threadId: row.thread_id, problems: parsed.problems };
  });
}

/**
 * R-24: a thread's activity is any message sent or received in it at the provider, not only the ingested ones (a reply
 * that cc'd a colleague keeps the conversation alive though R-30 keeps it out). Drafts, spam and trash are no activity.
 */
async function recordThreadActivity(trx: Db, seatId: string, facts: readonly MessageFacts[]): Promise<void> {
  const latest = new Map<string, Date>();
  for (const f of facts) {
    if (f.isDraft || f.isSpam || f.isTrashed === true || Number.isNaN(f.date.getTime())) continue;
    const known = latest.get(f.providerThreadId);
    if (known === undefined || known.getTime() < f.date.getTime()) latest.set(f.providerThreadId, f.date);
  }
  const entries = [...latest];
  for (let i = 0; i < entries.length; i += 500) {
    const values = sql.join(entries.slice(i, i + 500).map(([providerThreadId, at]) => sql`(${providerThreadId}::text, ${at}::timestamptz)`));
    await sql`
      UPDATE mail_threads t SET last_activity_at = v.at
      FROM (VALUES ${values}) AS v(provider_thread_id, at)
      WHERE t.owner_seat_id = ${seatId}::uuid AND t.provider_thread_id = v.provider_thread_id AND t.last_activity_at < v.at`.execute(trx);
  }
}

// ---------------------------------------------------------------------------------------------------------
// R-37 deleted at the source

export interface DeletionResult {
  readonly messageDeleted: boolean;
  readonly threadDeleted: boolean;
  readonly attachmentsDeleted: number;
}

/**
 * R-37: removes a message deleted in the mailbox, its attachments, and its thread when that leaves it empty.
 * The caller has already asked `r37DeletedAtSource` whether the deletion is to be mirrored (R-22). The decision
 * log keeps the message's row, marked as deleted at the source, so "why is this email gone?" has an answer.
 */
export async function deleteMessageAtSource(trx: Db, seatId: string, providerMessageId: string, at: Date): Promise<DeletionResult> {
  const message = await trx.selectFrom('mail_messages').select(['id', 'thread_id', 'contract_id', 'counterpart', 'origin']).where('owner_seat_id', '=', seatId).where('provider_message_id', '=', providerMessageId).executeTakeFirst();
  let attachmentsDeleted = 0;
  let threadDeleted = false;
  if (message) {
    const attachments = await trx.deleteFrom('mail_attachments').where('message_id', '=', message.id).executeTakeFirst();
    attachmentsDeleted = Number(attachments.numDeletedRows);
    await trx.deleteFrom('mail_messages').where('id', '=', message.id).execute();
    const thread = await trx
      .deleteFrom('mail_threads')
      .where('id', '=', message.thread_id)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('mail_messages').select(sql.lit(1).as('one')).where('thread_id', '=', message.thread_id))))
      .executeTakeFirst();
    threadDeleted = Number(thread.numDeletedRows) > 0;
  }

  const decision = await trx.selectFrom('ingestion_decisions').select(['id', 'ingested', 'rule', 'detail']).where('seat_id', '=', seatId).where('provider_message_id', '=', providerMessageId).executeTakeFirst();
  if (decision) {
    const wasIngested = decision.ingested || message !== undefined;
    const reason = wasIngested
      ? `It was deleted in your mailbox (seen ${formatInstant(at)}) while it was authorized, so it was removed from the product too.`
      : `It was not synced, and was deleted in your mailbox since (seen ${formatInstant(at)}).`;
    const before = (decision.detail ?? {}) as Record<string, unknown>;
    // R-37 with R-41: the row says the message was here and why it is gone; its header facts (participants and the
    // rest) go with the mail, as in the inactivity purge.
    const detail: Record<string, unknown> = {
      summary: wasIngested ? `Not synced (R-37, Deleted at the source): ${reason}` : `Not synced${decision.rule ? ` (${decision.rule})` : ''}: ${reason}`,
      reason,
      messageDate: before.messageDate ?? null,
      deletedAtSource: { at: at.toISOString(), previouslyIngested: wasIngested, previousRule: decision.rule },
    };
    await trx
      .updateTable('ingestion_decisions')
      .set({ ingested: false, rule: wasIngested ? 'R-37' : decision.rule, decided_at: at, detail: JSON.stringify(detail) })
      .where('id', '=', decision.id)
      .execute();
  } else if (message) {
    // A stored message with no log row (the product's own send, never seen by sync): log the removal.
    const reason = `It was deleted in your mailbox (seen ${formatInstant(at)}) while it was authorized, so it was removed from the product too.`;
    await trx
      .insertInto('ingestion_decisions')
      .values({
        contract_id: message.contract_id,
        seat_id: seatId,
        provider_message_id: providerMessageId,
        provider_thread_id: null,
        counterpart: message.counterpart === '' ? null : message.counterpart,
        decided_at: at,
        ingested: false,
        rule: 'R-37',
        detail: JSON.stringify({ summary: `Not synced (R-37, Deleted at the source): ${reason}`, reason, deletedAtSource: { at: at.toISOString(), previouslyIngested: true, previousRule: null } }),
      })
      .execute();
  }
  await addToSyncCounts(trx, seatId, !decision && message ? 1 : 0, message?.origin === 'synced' ? -1 : 0);
  return { messageDeleted: message !== undefined, threadDeleted, attachmentsDeleted };
}
