/**
 * The decision for one message from its header facts: SPEC §4 through the domain's `decideIngestion` (the
 * rules live there, not here), plus what only the store knows — whether the thread was started from the
 * product and whether it was purged.
 */
import type { Kysely } from 'kysely';
import { decideIngestion, describeDecision, formatInstant, participantsOf, type FactValue, type MessageHeaders } from '../../domain/ingestion/index.ts';
import type { DB } from '../../store/schema.ts';
import { canonicalMessageId, messageIdForms, messageIdList } from './message-ids.ts';
import type { DecideContext, MessageDecision, MessageFacts, ThreadFacts } from './types.ts';

const CHUNK = 500;

function headersOf(facts: MessageFacts): MessageHeaders {
  return {
    from: facts.from,
    to: facts.to,
    cc: facts.cc ?? [],
    bcc: facts.bcc ?? [],
    date: facts.date,
    isSpam: facts.isSpam,
    isDraft: facts.isDraft,
    isSent: facts.isSent,
    isTrashed: facts.isTrashed === true,
  };
}

const validTime = (d: Date | null | undefined): number | null => (d instanceof Date && !Number.isNaN(d.getTime()) ? d.getTime() : null);

function latest(...dates: Array<Date | null | undefined>): Date | null {
  const times = dates.map(validTime).filter((t): t is number => t !== null);
  return times.length === 0 ? null : new Date(Math.max(...times));
}

/**
 * Decides one message. R-25 is asked only of a message the rules of §4 would let in: a message the rules keep
 * out is explained by that rule, which holds whether or not its thread was ever purged. A message of a purged
 * thread dated before the purge (or with no valid date) stays out; one dated on or after it is new activity
 * and is ingested like any other (SPEC R-25).
 */
export function decideMessage(facts: MessageFacts, context: DecideContext): MessageDecision {
  const thread = context.thread ?? null;
  const initiated = thread?.initiatedThroughProduct === true;
  const headers = headersOf(facts);
  const participants = participantsOf(headers, context.owner);
  const counterpart = participants.counterparts.length === 1 ? (participants.counterparts[0] ?? null) : null;
  const decision = decideIngestion(headers, {
    owner: context.owner,
    candidatesByAddress: context.candidates,
    threadInitiatedThroughProduct: initiated,
    threadLastActivityAt: latest(facts.threadLastActivityAt, thread?.storedLastActivityAt),
    sync: context.sync,
  });
  const common = { counterpart, participants: participants.addresses, threadInitiatedThroughProduct: initiated };

  const purgedAt = thread?.purgedAt ?? null;
  const messageTime = validTime(facts.date);
  if (decision.ingested && purgedAt !== null && (messageTime === null || messageTime < purgedAt.getTime())) {
    const dated = messageTime === null ? 'It has no valid date' : `It is dated ${formatInstant(facts.date)}`;
    const reason = `${dated}, before its conversation was removed for six months of inactivity on ${formatInstant(purgedAt)}: only messages from the conversation's return to activity on are synced.`;
    return {
      ...common,
      ingested: false,
      rule: 'R-25',
      reason,
      summary: `Not synced (R-25, Purged conversation): ${reason}`,
      facts: { counterpart, messageDate: messageTime === null ? null : facts.date.toISOString(), purgedAt: purgedAt.toISOString() },
      candidateIds: [],
    };
  }
  const candidateIds = decision.ingested ? stringList(decision.facts.candidateIds) : [];
  return { ...common, ingested: decision.ingested, rule: decision.rule, reason: decision.reason, summary: describeDecision(decision), facts: decision.facts, candidateIds };
}

function stringList(value: FactValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The Message-IDs a message names: its own, its In-Reply-To and its References. */
export function referencedMessageIds(facts: Pick<MessageFacts, 'rfcMessageId' | 'inReplyTo' | 'references'>): string[] {
  const own = canonicalMessageId(facts.rfcMessageId);
  const ids = [...(own === null ? [] : [own]), ...messageIdList(facts.inReplyTo), ...messageIdList(facts.references)];
  return [...new Set(ids)];
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/**
 * What the store knows about the threads of a batch of messages, keyed by provider thread id: three queries
 * per 500 threads whatever the batch size.
 *
 * A thread counts as initiated through the product when its stored row says so, or when the message itself,
 * its In-Reply-To or its References name a stored message of such a thread: a reply can arrive before sync has
 * matched the product's own send to the provider's thread id (Graph's sendMail returns no ids).
 */
export async function loadThreadFacts(
  db: Kysely<DB>,
  seatId: string,
  messages: ReadonlyArray<Pick<MessageFacts, 'providerThreadId' | 'rfcMessageId' | 'inReplyTo' | 'references'>>,
): Promise<Map<string, ThreadFacts>> {
  const threadIds = [...new Set(messages.map((m) => m.providerThreadId))];
  const stored = new Map<string, { initiated: boolean; lastActivityAt: Date }>();
  const purged = new Map<string, { at: Date; initiated: boolean }>();
  for (const ids of chunks(threadIds)) {
    const [threads, markers] = await Promise.all([
      db.selectFrom('mail_threads').select(['provider_thread_id', 'initiated_through_product', 'last_activity_at']).where('owner_seat_id', '=', seatId).where('provider_thread_id', 'in', ids).execute(),
      db.selectFrom('purged_threads').select(['provider_thread_id', 'purged_at', 'initiated_through_product']).where('owner_seat_id', '=', seatId).where('provider_thread_id', 'in', ids).execute(),
    ]);
    for (const t of threads) stored.set(t.provider_thread_id, { initiated: t.initiated_through_product, lastActivityAt: t.last_activity_at });
    for (const p of markers) purged.set(p.provider_thread_id, { at: p.purged_at, initiated: p.initiated_through_product });
  }

  const rfcIds = [...new Set(messages.flatMap(referencedMessageIds))];
  const initiatedRfc = new Set<string>();
  for (const ids of chunks(rfcIds)) {
    const forms = ids.flatMap((id) => messageIdForms(id));
    const rows = await db
      .selectFrom('mail_messages as m')
      .innerJoin('mail_threads as t', 't.id', 'm.thread_id')
      .select('m.rfc_message_id')
      .where('m.owner_seat_id', '=', seatId)
      .where('m.rfc_message_id', 'in', forms)
      .where('t.initiated_through_product', '=', true)
      .execute();
    for (const r of rows) {
      const id = canonicalMessageId(r.rfc_message_id);
      if (id !== null) initiatedRfc.add(id);
    }
  }

  const result = new Map<string, ThreadFacts>();
  for (const message of messages) {
    const previous = result.get(message.providerThreadId);
    const row = stored.get(message.providerThreadId);
    const byReference = referencedMessageIds(message).some((id) => initiatedRfc.has(id));
    result.set(message.providerThreadId, {
      // A purged thread started from the product stays so: its messages are gone, the marker remembers.
      initiatedThroughProduct: (previous?.initiatedThroughProduct ?? false) || (row?.initiated ?? false) || byReference || (purged.get(message.providerThreadId)?.initiated ?? false),
      purgedAt: purged.get(message.providerThreadId)?.at ?? null,
      storedLastActivityAt: row?.lastActivityAt ?? null,
    });
  }
  return result;
}

/** Decides a batch: loads the thread facts once, then decides each message (no query per message). */
export async function decideBatch(
  db: Kysely<DB>,
  seatId: string,
  messages: readonly MessageFacts[],
  context: Omit<DecideContext, 'thread'>,
): Promise<MessageDecision[]> {
  const threads = await loadThreadFacts(db, seatId, messages);
  return messages.map((facts) => decideMessage(facts, { ...context, thread: threads.get(facts.providerThreadId) ?? null }));
}
