import { sql, type ExpressionBuilder, type Kysely, type Selectable, type SqlBool } from 'kysely';
import PostalMime from 'postal-mime';
import { AppError, forbidden, notFound } from '../errors.ts';
import { ProviderError } from '../providers/errors.ts';
import type { DB, EmailAccess, MailMessagesTable, Visibility } from '../store/schema.ts';
import { compiledRead } from '../store/compiled.ts';
import { messageVisibleTo, ownedByViewer, type Viewer } from '../store/visibility.ts';
import { withMailboxBudget } from '../sync/quota-budget.ts';
import { assertContractVisible, type Actor } from './actors.ts';
import { accessTokenFor } from './access-tokens.ts';
import { recordAudit } from './audit.ts';
import type { ServiceContext } from './context.ts';
import { loadCandidate } from './candidates.ts';
import { loadContract } from './contracts.ts';
import type { MailboxDeps } from './mailbox-authorization.ts';

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
  /** Metadata of the attachments as synced; their content stays in the mailbox until someone downloads one. */
  attachments: AttachmentView[];
}

export interface AttachmentView {
  id: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
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
  const reader = seatReader(actor);
  return viewerOf(reader, contractId, (await loadContract(ctx.db, contractId)).email_access);
}

type UserActor = Extract<Actor, { kind: 'user' }>;

function seatReader(actor: Actor): UserActor {
  if (actor.kind !== 'user') throw forbidden('Messages belong to seats: act as a user (X-Act-As-User) to read them.');
  return actor;
}

function viewerOf(reader: UserActor, contractId: string, emailAccess: EmailAccess): Viewer {
  if (emailAccess === 'off') throw new AppError('email_disabled', 'Email is turned off for your company, so synced messages are not shown.');
  return { userId: reader.userId, contractId };
}

const addressesOf = (value: unknown): string[] => (Array.isArray(value) ? value.map((v: { address: string }) => v.address) : []);

/** `isOwner` says whether the caller may change the visibility — the owner in the same tenure, not any former holder. */
const ownerColumn = (viewer: Viewer) => (eb: ExpressionBuilder<DB, 'mail_messages'>) => ownedByViewer(eb, viewer).as('is_owner');

type MessageRow = Selectable<MailMessagesTable> & { is_owner: SqlBool; owner_name: string | null; attachment_list: AttachmentRow[] | string | null };

interface AttachmentRow {
  id: string;
  filename: string;
  content_type: string;
  size_bytes: number;
}

/**
 * A message sent from the product carries the bare mailbox address in From (the seat's grant knows no name);
 * the sender's display name is then the owner's name, as a mail client would show for synced mail. Only such
 * messages look the owner up.
 */
const ownerName = (eb: ExpressionBuilder<DB, 'mail_messages'>) =>
  eb
    .case()
    .when(eb.and([eb('mail_messages.from_name', 'is', null), eb('mail_messages.origin', '=', 'sent_from_product')]))
    .then(eb.selectFrom('users as owner').select('owner.name').whereRef('owner.id', '=', 'mail_messages.owner_user_id'))
    .else(null)
    .end()
    .as('owner_name');

/**
 * The attachment metadata of the message, as synced, ordered by file name: read in the same statement as the
 * message (the caller's visibility filter applies to both).
 */
const attachmentList = () =>
  sql<AttachmentRow[]>`(SELECT coalesce(json_agg(json_build_object('id', a.id, 'filename', a.filename, 'content_type', a.content_type, 'size_bytes', a.size_bytes) ORDER BY a.filename, a.id), '[]'::json)
    FROM mail_attachments a WHERE a.message_id = mail_messages.id)`.as('attachment_list');

/** Every read of a message selects these columns: the row, whether the viewer owns it, the sender's name, attachments. */
const messageColumns = (viewer: Viewer) => (eb: ExpressionBuilder<DB, 'mail_messages'>) => [ownerColumn(viewer)(eb), ownerName(eb), attachmentList()];

function attachmentsFrom(value: MessageRow['attachment_list']): AttachmentView[] {
  const list: AttachmentRow[] = typeof value === 'string' ? (JSON.parse(value) as AttachmentRow[]) : (value ?? []);
  return list.map((a) => ({ id: a.id, filename: a.filename, contentType: a.content_type, sizeBytes: Number(a.size_bytes) }));
}

function messageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    threadId: row.thread_id,
    candidateId: row.candidate_id,
    direction: row.direction,
    from: row.from_address,
    fromName: row.from_name ?? (row.origin === 'sent_from_product' ? (row.owner_name ?? null) : null),
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
    attachments: attachmentsFrom(row.attachment_list),
  };
}

/** The statement behind the Messages tab, compiled once: see `listCandidateMessages`. */
const candidateMessages = compiledRead(['userId', 'contractId', 'candidateId'], (db, { userId, contractId, candidateId }) => {
  const viewer: Viewer = { userId, contractId };
  return db
    .selectFrom('candidates')
    .innerJoin('contracts', 'contracts.id', 'candidates.contract_id')
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('mail_messages')
          .selectAll('mail_messages')
          .select(messageColumns(viewer))
          .where('candidates.contract_id', '=', viewer.contractId)
          .where('contracts.email_access', '!=', 'off')
          .where('mail_messages.candidate_id', '=', candidateId)
          .where(messageVisibleTo(viewer))
          .as('m'),
      (join) => join.onTrue(),
    )
    .select(['candidates.contract_id as candidate_contract_id', 'contracts.email_access as contract_email_access'])
    .selectAll('m')
    .where('candidates.id', '=', candidateId)
    .orderBy('m.sent_at')
    .orderBy('m.id');
});

/** The statement `listCandidateMessages` sends when a user reads a candidate's messages (benchmarks explain it). */
export const candidateMessagesStatement = (db: Kysely<DB>, viewer: Viewer, candidateId: string) => candidateMessages.statement(db, { ...viewer, candidateId });

/**
 * The Messages tab: one statement reads the candidate, its contract's email level and — only when the caller
 * may read that contract's mail — the candidate's messages visible to the caller (R-60 … R-63) with their
 * attachments, oldest first; the checks then run in the order of the other reads (unknown candidate, another
 * contract's candidate, not a user, email turned off).
 */
export async function listCandidateMessages(ctx: ServiceContext, actor: Actor, candidateId: string): Promise<ThreadView[]> {
  // Integrations hold no seat: they learn whether the candidate exists for them, then are refused.
  if (actor.kind !== 'user') await loadCandidate(ctx.db, actor, candidateId);
  const reader = seatReader(actor);
  const rows = await candidateMessages(ctx.db, { userId: reader.userId, contractId: reader.contractId, candidateId });
  const found = rows[0];
  if (!found) throw notFound('candidate');
  assertContractVisible(actor, found.candidate_contract_id, 'candidate');
  viewerOf(reader, found.candidate_contract_id, found.contract_email_access);
  const threads = new Map<string, ThreadView>();
  for (const row of rows) {
    if (row.id === null) continue;
    const message = messageView(row as MessageRow);
    const thread = threads.get(message.threadId) ?? { threadId: message.threadId, subject: message.subject, lastActivityAt: message.sentAt, visibility: 'contract' as Visibility, messages: [] };
    thread.messages.push(message);
    thread.lastActivityAt = message.sentAt;
    if (message.visibility === 'private') thread.visibility = 'private';
    threads.set(message.threadId, thread);
  }
  return [...threads.values()].sort((a, b) => b.lastActivityAt.getTime() - a.lastActivityAt.getTime());
}

async function loadVisibleMessage(ctx: ServiceContext, actor: Actor, messageId: string) {
  const row = await ctx.db.selectFrom('mail_messages').select(['contract_id']).where('id', '=', messageId).executeTakeFirst();
  if (!row) throw notFound('message');
  const viewer = await viewerFor(ctx, actor, row.contract_id);
  const visible = await ctx.db.selectFrom('mail_messages').selectAll('mail_messages').select(messageColumns(viewer)).where('mail_messages.id', '=', messageId).where(messageVisibleTo(viewer)).executeTakeFirst();
  // A message the caller may not see does not exist for them.
  if (!visible) throw notFound('message');
  return { row: visible, viewer };
}

export async function getMessage(ctx: ServiceContext, actor: Actor, messageId: string): Promise<MessageView> {
  const { row } = await loadVisibleMessage(ctx, actor, messageId);
  return messageView(row);
}

export interface AttachmentDownload {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

/**
 * One attachment of a message the caller may see (R-60 … R-63 through the same `loadVisibleMessage`): a message
 * hidden from the caller hides its attachments too. Contents are not stored, so the file is read from the
 * mailbox the message was synced from, through the owning seat's grant, and only when someone asks for it.
 */
export async function downloadAttachment(deps: MailboxDeps, actor: Actor, messageId: string, attachmentId: string): Promise<AttachmentDownload> {
  const { row } = await loadVisibleMessage(deps, actor, messageId);
  const attachment = await deps.db.selectFrom('mail_attachments').selectAll().where('id', '=', attachmentId).where('message_id', '=', row.id).executeTakeFirst();
  if (!attachment) throw notFound('attachment');
  const grant = await deps.db.selectFrom('mailbox_authorizations').select(['id', 'provider', 'state', 'address']).where('seat_id', '=', row.owner_seat_id).where('kind', '=', 'email').executeTakeFirst();
  const gone = new AppError('not_authorized', 'The mailbox this email was synced from is no longer connected, so its attachment cannot be downloaded.');
  if (!grant || grant.state === 'deauthorized') throw gone;
  let raw: Uint8Array | undefined;
  try {
    const token = await accessTokenFor(deps, grant.id);
    // on the mailbox's quota budget, like sync.
    raw = (await withMailboxBudget(deps, grant.provider, grant.address, grant.id, () => deps.providers.mail.client(grant.provider).raw(token, [row.provider_message_id]))).get(row.provider_message_id);
  } catch (error) {
    throw attachmentError(error);
  }
  const missing = new AppError('not_found', 'This email is no longer in the mailbox it was synced from, so its attachment cannot be downloaded.');
  if (!raw) throw missing;
  const email = await PostalMime.parse(raw);
  // The seat may have a new holder with another mailbox: the file must come from this very message.
  if (row.rfc_message_id && email.messageId && email.messageId.replace(/[<>\s]/g, '') !== row.rfc_message_id.replace(/[<>\s]/g, '')) throw missing;
  // The stored metadata was derived from these same parts (src/sync/ingest/mime.ts): the same name, type and size.
  const parts = email.attachments.map((a, i) => {
    const content = typeof a.content === 'string' ? new TextEncoder().encode(a.content) : new Uint8Array(a.content);
    return { filename: (a.filename ?? '').trim() || `attachment-${i + 1}${a.mimeType === 'message/rfc822' ? '.eml' : ''}`, contentType: a.mimeType || 'application/octet-stream', content };
  });
  const part =
    parts.find((p) => p.filename === attachment.filename && p.contentType === attachment.content_type && p.content.byteLength === Number(attachment.size_bytes)) ??
    parts.find((p) => p.filename === attachment.filename);
  if (!part) throw missing;
  return { filename: attachment.filename, contentType: attachment.content_type, content: part.content };
}

function attachmentError(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  switch (error.kind) {
    case 'throttled':
      return new AppError('rate_limited', 'The mailbox provider is limiting requests right now. Try the download again later.', { retryAfterSeconds: error.details.retryAfterSeconds ?? 60 });
    case 'auth':
      return new AppError('needs_reauthorization', 'The mailbox provider no longer accepts the connection of the mailbox this email came from.');
    default:
      return new AppError('provider_unavailable', 'The mailbox provider did not deliver the attachment. Try again later.', { retryAfterSeconds: 60 });
  }
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
    return messageView({ ...updated, is_owner: true, owner_name: row.owner_name, attachment_list: row.attachment_list });
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
