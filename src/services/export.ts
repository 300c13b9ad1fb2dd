import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { AppError, forbidden } from '../errors.ts';
import { messageVisibleTo } from '../store/visibility.ts';
import type { Actor } from './actors.ts';
import { recordAudit } from './audit.ts';
import type { ServiceContext } from './context.ts';
import { loadContract } from './contracts.ts';
import { loadSeat } from './seats.ts';

/**
 * a user exports the messages their seat owns — those of the seat they hold now that they may see
 * (the single visibility predicate, R-60 … R-62), so a new holder gets no private mail of the previous one
 * and nobody, admins included, exports another seat's mail.
 *
 * Format (JSON, one file): `{format, seat, exportedAt, messages: [{…fields, eml}]}`; `eml` is the message
 * as RFC 5322 (base64), rebuilt from the stored fields — save it as `<id>.eml` to open it in a mail client.
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
  eml: string;
}

export interface SeatExport {
  format: 'recruiter-sync-export/1';
  seat: { id: string; contractId: string; userId: string };
  exportedAt: Date;
  messages: ExportedMessage[];
}

type Address = { address: string; name?: string };
const addresses = (value: unknown): Address[] => (Array.isArray(value) ? (value as Address[]).filter((a) => typeof a?.address === 'string') : []);

export async function exportSeat(ctx: ServiceContext, actor: Actor, seatId: string): Promise<SeatExport> {
  const seat = await loadSeat(ctx.db, actor, seatId);
  // The holder only: an admin or an integration acting as itself has no seat's mail to take.
  if (actor.kind !== 'user' || seat.user_id !== actor.userId) throw forbidden('Only the user holding this seat can export its messages.');
  const contract = await loadContract(ctx.db, seat.contract_id);
  if (contract.email_access === 'off') throw new AppError('email_disabled', 'Email is turned off for your company, so synced messages cannot be exported.');
  const viewer = { userId: actor.userId, contractId: seat.contract_id };

  const rows = await ctx.db
    .selectFrom('mail_messages')
    .innerJoin('mail_threads', 'mail_threads.id', 'mail_messages.thread_id')
    .selectAll('mail_messages')
    .select('mail_threads.provider_thread_id')
    .where('mail_messages.owner_seat_id', '=', seat.id)
    .where(messageVisibleTo(viewer))
    .orderBy('mail_messages.sent_at')
    .orderBy('mail_messages.id')
    .execute();
  const attachments = rows.length
    ? await ctx.db
        .selectFrom('mail_attachments')
        .select(['message_id', 'filename', 'content_type', 'size_bytes'])
        .where('contract_id', '=', seat.contract_id)
        .where('message_id', 'in', rows.map((r) => r.id))
        .execute()
    : [];

  const messages: ExportedMessage[] = [];
  for (const row of rows) {
    const to = addresses(row.to_addresses);
    const cc = addresses(row.cc_addresses);
    const raw = await new MailComposer({
      from: row.from_name ? { name: row.from_name, address: row.from_address } : row.from_address,
      to,
      ...(cc.length ? { cc } : {}),
      subject: row.subject,
      date: row.sent_at,
      ...(row.rfc_message_id ? { messageId: row.rfc_message_id } : {}),
      ...(row.in_reply_to ? { inReplyTo: row.in_reply_to } : {}),
      ...(row.references_ids.length ? { references: row.references_ids } : {}),
      ...(row.body_text !== null ? { text: row.body_text } : {}),
      ...(row.body_html !== null ? { html: row.body_html } : {}),
    })
      .compile()
      .build();
    messages.push({
      id: row.id,
      threadId: row.thread_id,
      providerThreadId: row.provider_thread_id,
      candidateId: row.candidate_id,
      direction: row.direction,
      from: row.from_address,
      fromName: row.from_name,
      to: to.map((a) => a.address),
      cc: cc.map((a) => a.address),
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
      attachments: attachments.filter((a) => a.message_id === row.id).map((a) => ({ filename: a.filename, contentType: a.content_type, sizeBytes: a.size_bytes })),
      eml: raw.toString('base64'),
    });
  }

  const now = ctx.clock.now();
  // the entry names who performed the export — the holder signed in, or an integration token acting as
  // the holder (the entry's actor token) — never just "the user".
  await recordAudit(ctx.db, {
    contractId: seat.contract_id,
    actor,
    action: 'seat.exported',
    targetType: 'seat',
    targetId: seat.id,
    at: now,
    details: { messages: messages.length, via: actor.via, ...(actor.tokenId !== undefined ? { tokenId: actor.tokenId } : {}) },
  });
  return { format: 'recruiter-sync-export/1', seat: { id: seat.id, contractId: seat.contract_id, userId: actor.userId }, exportedAt: now, messages };
}
