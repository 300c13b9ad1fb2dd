import type { ExpressionBuilder, Selectable, SqlBool } from 'kysely';
import { AppError, forbidden, notFound } from '../errors.ts';
import type { DB, MailMessagesTable, Visibility } from '../store/schema.ts';
import { messageVisibleTo, ownedByViewer, type Viewer } from '../store/visibility.ts';
import { assertContractVisible, type Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { ServiceContext } from './context.ts';
import { loadCandidate } from './candidates.ts';
import { loadContract } from './contracts.ts';

/** Reading stored mail and changing its visibility (R-60 … R-63), always through `messageVisibleTo`. */
export interface MessageView {
  id: string;
  threadId: string;
  candidateId: string | null;
  direction: 'inbound' | 'outbound';
  from: string;
  fromName: string | null;
  to: string[];
  cc: string[];
  subject: string;
  sentAt: Date;
  snippet: string;
  bodyHtml: string | null;
  bodyText: string | null;
  visibility: Visibility;
  origin: 'synced' | 'sent_from_product';
  ownerSeatId: string;
  isOwner: boolean;
}

export interface ThreadView {
  threadId: string;
  subject: string;
  lastActivityAt: Date;
  visibility: Visibility;
  messages: MessageView[];
}

/** Only a user can see mail (it is seat-owned); R-02: nothing is shown while the email level is off. */
async function viewerFor(ctx: ServiceContext, actor: Actor, contractId: string): Promise<Viewer> {
  assertContractVisible(actor, contractId);
  if (actor.kind !== 'user') throw forbidden('Messages belong to seats: act as a user (X-Act-As-User) to read them.');
  const contract = await loadContract(ctx.db, contractId);
  if (contract.email_access === 'off') throw new AppError('email_disabled', 'Email is turned off for your company, so synced messages are not shown.');
  return { userId: actor.userId, contractId };
}

const addressesOf = (value: unknown): string[] => (Array.isArray(value) ? value.map((v: { address: string }) => v.address) : []);

/** `isOwner` says whether the caller may change the visibility — the owner in the same tenure, not any former holder. */
const ownerColumn = (viewer: Viewer) => (eb: ExpressionBuilder<DB, 'mail_messages'>) => ownedByViewer(eb, viewer).as('is_owner');

function messageView(row: Selectable<MailMessagesTable> & { is_owner: SqlBool }): MessageView {
  return {
    id: row.id,
    threadId: row.thread_id,
    candidateId: row.candidate_id,
    direction: row.direction,
    from: row.from_address,
    fromName: row.from_name,
    to: addressesOf(row.to_addresses),
    cc: addressesOf(row.cc_addresses),
    subject: row.subject,
    sentAt: row.sent_at,
    snippet: row.snippet,
    bodyHtml: row.body_html,
    bodyText: row.body_text,
    visibility: row.visibility,
    origin: row.origin,
    ownerSeatId: row.owner_seat_id,
    isOwner: Boolean(row.is_owner),
  };
}

export async function listCandidateMessages(ctx: ServiceContext, actor: Actor, candidateId: string): Promise<ThreadView[]> {
  const candidate = await loadCandidate(ctx.db, actor, candidateId);
  const viewer = await viewerFor(ctx, actor, candidate.contract_id);
  const rows = await ctx.db
    .selectFrom('mail_messages')
    .selectAll('mail_messages')
    .select(ownerColumn(viewer))
    .where('mail_messages.candidate_id', '=', candidateId)
    .where(messageVisibleTo(viewer))
    .orderBy('mail_messages.sent_at')
    .orderBy('mail_messages.id')
    .execute();
  const threads = new Map<string, ThreadView>();
  for (const row of rows) {
    const view = messageView(row);
    const thread = threads.get(row.thread_id) ?? { threadId: row.thread_id, subject: row.subject, lastActivityAt: row.sent_at, visibility: 'contract' as Visibility, messages: [] };
    thread.messages.push(view);
    thread.lastActivityAt = row.sent_at;
    if (row.visibility === 'private') thread.visibility = 'private';
    threads.set(row.thread_id, thread);
  }
  return [...threads.values()].sort((a, b) => b.lastActivityAt.getTime() - a.lastActivityAt.getTime());
}

async function loadVisibleMessage(ctx: ServiceContext, actor: Actor, messageId: string) {
  const row = await ctx.db.selectFrom('mail_messages').select(['contract_id']).where('id', '=', messageId).executeTakeFirst();
  if (!row) throw notFound('message');
  const viewer = await viewerFor(ctx, actor, row.contract_id);
  const visible = await ctx.db.selectFrom('mail_messages').selectAll('mail_messages').select(ownerColumn(viewer)).where('mail_messages.id', '=', messageId).where(messageVisibleTo(viewer)).executeTakeFirst();
  // A message the caller may not see does not exist for them.
  if (!visible) throw notFound('message');
  return { row: visible, viewer };
}

export async function getMessage(ctx: ServiceContext, actor: Actor, messageId: string): Promise<MessageView> {
  const { row } = await loadVisibleMessage(ctx, actor, messageId);
  return messageView(row);
}

/** only the owner changes a message's visibility. */
export async function setMessageVisibility(ctx: ServiceContext, actor: Actor, messageId: string, visibility: Visibility): Promise<MessageView> {
  const { row, viewer } = await loadVisibleMessage(ctx, actor, messageId);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('mail_messages')
      .set({ visibility })
      .where('id', '=', messageId)
      .where((eb) => ownedByViewer(eb, viewer))
      .returningAll()
      .executeTakeFirst();
    if (!updated) throw forbidden('Only the owner of this email can change who sees it.');
    if (row.visibility !== visibility) {
      await recordAudit(trx, { contractId: row.contract_id, actor, action: 'message.visibility_changed', targetType: 'message', targetId: messageId, at: now, details: { from: row.visibility, to: visibility } });
    }
    return messageView({ ...updated, is_owner: true });
  });
}

/** R-61 for a whole thread: every message of it that the caller owns. */
export async function setThreadVisibility(ctx: ServiceContext, actor: Actor, threadId: string, visibility: Visibility): Promise<{ threadId: string; visibility: Visibility; messagesChanged: number }> {
  const thread = await ctx.db.selectFrom('mail_threads').select(['id', 'contract_id']).where('id', '=', threadId).executeTakeFirst();
  if (!thread) throw notFound('thread');
  const viewer = await viewerFor(ctx, actor, thread.contract_id);
  const visibleCount = await ctx.db.selectFrom('mail_messages').select((eb) => eb.fn.countAll<number>().as('n')).where('thread_id', '=', threadId).where(messageVisibleTo(viewer)).executeTakeFirstOrThrow();
  if (Number(visibleCount.n) === 0) throw notFound('thread');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const changed = await trx
      .updateTable('mail_messages')
      .set({ visibility })
      .where('thread_id', '=', threadId)
      .where('visibility', '!=', visibility)
      .where((eb) => ownedByViewer(eb, viewer))
      .returning('id')
      .execute();
    const owned = await trx.selectFrom('mail_messages').select('id').where('thread_id', '=', threadId).where((eb) => ownedByViewer(eb, viewer)).executeTakeFirst();
    if (!owned) throw forbidden('Only the owner of this conversation can change who sees it.');
    if (changed.length > 0) {
      await recordAudit(trx, { contractId: thread.contract_id, actor, action: 'thread.visibility_changed', targetType: 'thread', targetId: threadId, at: now, details: { to: visibility, messages: changed.length } });
    }
    return { threadId, visibility, messagesChanged: changed.length };
  });
}

/** The pipeline and search hover: count and latest visible message per candidate. */
export async function messagePreviews(ctx: ServiceContext, actor: Actor, contractId: string, candidateIds: string[]) {
  const viewer = await viewerFor(ctx, actor, contractId);
  const result: Record<string, { count: number; latest: { subject: string; snippet: string; sentAt: Date } | null }> = {};
  if (candidateIds.length === 0) return result;
  const rows = await ctx.db
    .selectFrom('mail_messages')
    .select(['candidate_id', 'subject', 'snippet', 'sent_at'])
    .where('candidate_id', 'in', candidateIds)
    .where(messageVisibleTo(viewer))
    .orderBy('sent_at', 'desc')
    .execute();
  for (const id of candidateIds) result[id] = { count: 0, latest: null };
  for (const row of rows) {
    const entry = result[row.candidate_id!]!;
    if (entry.count === 0) entry.latest = { subject: row.subject, snippet: row.snippet, sentAt: row.sent_at };
    entry.count++;
  }
  return result;
}
