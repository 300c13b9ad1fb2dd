import { Readable } from 'node:stream';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import yazl from 'yazl';
import { AppError, forbidden } from '../errors.ts';
import { messageVisibleTo } from '../store/visibility.ts';
import type { Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { ServiceContext } from './context.ts';
import { loadContract } from './contracts.ts';
import { loadSeat } from './seats.ts';
import { withRemoteImageSources } from '../sync/ingest/sanitize.ts';

/**
 * a user exports the messages their seat owns — those of the seat they hold now that they may see
 * (the single visibility predicate, R-60 … R-62), so a new holder gets no private mail of the previous one
 * and nobody, admins included, exports another seat's mail.
 *
 * Format: a `.zip` holding `messages.json` (`{format, seat, exportedAt, messages: [{…fields, emlFile}]}`) and one
 * `messages/<id>.eml` per message. The original MIME is never stored (R-41 keeps only what is shown), so each `.eml`
 * is rebuilt from the stored fields: headers, Message-ID, threading and bodies; attachment contents are not
 * stored, so they are listed, not included. The archive is streamed: messages are read from the store a page at a
 * time, each `.eml` only when its turn in the archive comes, so a large mailbox never sits in memory.
 */
export interface ExportedMessage {
  id: string;
  threadId: string;
  providerThreadId: string;
  candidateId: string | null;
  direction: 'inbound' | 'outbound';
  from: string;
  fromName: string | null;
  to: string[];
  cc: string[];
  subject: string;
  sentAt: Date;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  snippet: string;
  bodyHtml: string | null;
  bodyText: string | null;
  visibility: 'private' | 'contract';
  origin: 'synced' | 'sent_from_product';
  attachments: Array<{ filename: string; contentType: string; sizeBytes: number }>;
  /** The path of its `.eml` inside the archive. */
  emlFile: string;
}

export const EXPORT_FORMAT = 'recruiter-sync-export/2';

export interface SeatExportArchive {
  seatId: string;
  messageCount: number;
  /** The ids of the messages in the archive, in its order. */
  messageIds: string[];
  /** The `.zip`, produced as it is read. */
  stream: Readable;
}

const PAGE = 200;

type Address = { address: string; name?: string };
const addresses = (value: unknown): Address[] => (Array.isArray(value) ? (value as Address[]).filter((a) => typeof a?.address === 'string') : []);

export async function exportSeat(ctx: ServiceContext, actor: Actor, seatId: string): Promise<SeatExportArchive> {
  const seat = await loadSeat(ctx.db, actor, seatId);
  // The holder only: an admin or an integration acting as itself has no seat's mail to take.
  if (actor.kind !== 'user' || seat.user_id !== actor.userId) throw forbidden('Only the user holding this seat can export its messages.');
  const contract = await loadContract(ctx.db, seat.contract_id);
  if (contract.email_access === 'off') throw new AppError('email_disabled', 'Email is turned off for your company, so synced messages cannot be exported.');
  const viewer = { userId: actor.userId, contractId: seat.contract_id };
  const userId = actor.userId;

  const rowsQuery = () =>
    ctx.db
      .selectFrom('mail_messages')
      .innerJoin('mail_threads', 'mail_threads.id', 'mail_messages.thread_id')
      .where('mail_messages.owner_seat_id', '=', seat.id)
      .where(messageVisibleTo(viewer));
  // Only the ids are held for the whole export; everything else is read a page at a time.
  const ids = (await rowsQuery().select('mail_messages.id').orderBy('mail_messages.sent_at').orderBy('mail_messages.id').execute()).map((r) => r.id);

  async function loadPage(pageIds: string[]) {
    if (pageIds.length === 0) return [];
    const rows = await rowsQuery().selectAll('mail_messages').select('mail_threads.provider_thread_id').where('mail_messages.id', 'in', pageIds).execute();
    const attachments = await ctx.db
      .selectFrom('mail_attachments')
      .select(['message_id', 'filename', 'content_type', 'size_bytes'])
      .where('contract_id', '=', seat.contract_id)
      .where('message_id', 'in', pageIds)
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    // Same order as `ids`; a message deleted meanwhile is left out.
    return pageIds.flatMap((id) => {
      const row = byId.get(id);
      return row ? [{ row, attachments: attachments.filter((a) => a.message_id === id) }] : [];
    });
  }
  type Loaded = Awaited<ReturnType<typeof loadPage>>[number];

  const now = ctx.clock.now();
  const zip = new yazl.ZipFile();
  let page: { start: number; items: Map<string, Loaded> } | null = null;
  const loaded = async (index: number): Promise<Loaded | undefined> => {
    const start = index - (index % PAGE);
    if (page?.start !== start) {
      const items = await loadPage(ids.slice(start, start + PAGE));
      page = { start, items: new Map(items.map((x) => [x.row.id, x])) };
    }
    return page.items.get(ids[index]!);
  };
  ids.forEach((id, index) => {
    // Built when the archive reaches it (yazl asks for one entry's stream at a time).
    zip.addReadStreamLazy(`messages/${id}.eml`, { mtime: now }, (cb) => {
      loaded(index).then(
        async (item) => cb(null, Readable.from([item ? await emlOf(item.row) : Buffer.alloc(0)])),
        (error: unknown) => cb(error as Error, undefined as never),
      );
    });
  });
  zip.addReadStreamLazy('messages.json', { mtime: now }, (cb) => {
    cb(null, Readable.from(messagesJson()));
  });
  zip.end();

  async function* messagesJson(): AsyncGenerator<string> {
    const head = { format: EXPORT_FORMAT, seat: { id: seat.id, contractId: seat.contract_id, userId }, exportedAt: now.toISOString() };
    yield `${JSON.stringify(head).slice(0, -1)},"messages":[`;
    for (let start = 0; start < ids.length; start += PAGE) {
      const items = await loadPage(ids.slice(start, start + PAGE));
      yield items.map((item, i) => `${start + i === 0 ? '' : ','}\n${JSON.stringify(exported(item.row, item.attachments))}`).join('');
    }
    yield '\n]}\n';
  }

  // the entry names who performed the export — the holder signed in, or an integration token acting as
  // the holder (the entry's actor token) — never just "the user".
  await recordAudit(ctx.db, {
    contractId: seat.contract_id,
    actor,
    action: 'seat.exported',
    targetType: 'seat',
    targetId: seat.id,
    at: now,
    details: { messages: ids.length, via: actor.via, ...(actor.tokenId !== undefined ? { tokenId: actor.tokenId } : {}) },
  });
  return { seatId: seat.id, messageCount: ids.length, messageIds: ids, stream: zip.outputStream as Readable };
}

type MessageRow = {
  id: string;
  thread_id: string;
  provider_thread_id: string;
  candidate_id: string | null;
  direction: 'inbound' | 'outbound';
  from_address: string;
  from_name: string | null;
  to_addresses: unknown;
  cc_addresses: unknown;
  subject: string;
  sent_at: Date;
  rfc_message_id: string | null;
  in_reply_to: string | null;
  references_ids: string[];
  snippet: string;
  body_html: string | null;
  body_text: string | null;
  visibility: 'private' | 'contract';
  origin: 'synced' | 'sent_from_product';
};

function exported(row: MessageRow, attachments: Array<{ filename: string; content_type: string; size_bytes: number }>): ExportedMessage {
  return {
    id: row.id,
    threadId: row.thread_id,
    providerThreadId: row.provider_thread_id,
    candidateId: row.candidate_id,
    direction: row.direction,
    from: row.from_address,
    fromName: row.from_name,
    to: addresses(row.to_addresses).map((a) => a.address),
    cc: addresses(row.cc_addresses).map((a) => a.address),
    subject: row.subject,
    sentAt: row.sent_at,
    messageId: row.rfc_message_id,
    inReplyTo: row.in_reply_to,
    references: row.references_ids,
    snippet: row.snippet,
    bodyHtml: row.body_html,
    bodyText: row.body_text,
    visibility: row.visibility,
    origin: row.origin,
    attachments: attachments.map((a) => ({ filename: a.filename, contentType: a.content_type, sizeBytes: a.size_bytes })),
    emlFile: `messages/${row.id}.eml`,
  };
}

/** The message as RFC 5322, rebuilt from the stored fields (the original MIME is not kept). */
function emlOf(row: MessageRow): Promise<Buffer> {
  const to = addresses(row.to_addresses);
  const cc = addresses(row.cc_addresses);
  return new MailComposer({
    from: row.from_name ? { name: row.from_name, address: row.from_address } : row.from_address,
    to,
    ...(cc.length ? { cc } : {}),
    subject: row.subject,
    date: row.sent_at,
    ...(row.rfc_message_id ? { messageId: row.rfc_message_id } : {}),
    ...(row.in_reply_to ? { inReplyTo: row.in_reply_to } : {}),
    ...(row.references_ids.length ? { references: row.references_ids } : {}),
    ...(row.body_text !== null ? { text: row.body_text } : {}),
    // Remote images get their address back in `src`: the exported copy is read by the user's own mail client.
    ...(row.body_html !== null ? { html: withRemoteImageSources(row.body_html) } : {}),
  })
    .compile()
    .build();
}
