import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import PostalMime from 'postal-mime';
import { GraphError } from './errors.ts';
import { htmlToText } from './messages.ts';
import type { Recipient } from './state.ts';

/** Outgoing mail as Exchange Online writes it: RFC 5322 bytes with an Outlook-style Message-ID. */

export interface Outgoing {
  from: { name: string; address: string };
  to: Recipient[];
  cc: Recipient[];
  bcc: Recipient[];
  replyTo: Recipient[];
  subject: string;
  body: { contentType: 'text' | 'html'; content: string };
  inReplyTo: string | null;
  references: string[];
  extraHeaders: Array<{ name: string; value: string }>;
  date: Date;
  messageId?: string;
}

export function outlookMessageId(): string {
  const host = `${['BN', 'CH', 'DM', 'SA', 'MW'][randomBytes(1)[0]! % 5]}${String(1 + (randomBytes(1)[0]! % 8))}PR${String(10 + (randomBytes(1)[0]! % 90))}MB${String(1000 + (randomBytes(2).readUInt16BE(0) % 9000))}`;
  return `<${host}${randomBytes(10).toString('hex').toUpperCase()}@${host}.namprd${String(10 + (randomBytes(1)[0]! % 12))}.prod.outlook.com>`;
}

const fmt = (r: Recipient) => ({ name: r.emailAddress.name ?? '', address: r.emailAddress.address });

export async function composeOutgoing(o: Outgoing): Promise<{ raw: Buffer; messageId: string }> {
  const messageId = o.messageId ?? outlookMessageId();
  const html = o.body.contentType === 'html' ? o.body.content : undefined;
  const text = o.body.contentType === 'html' ? htmlToText(o.body.content) : o.body.content;
  const headers: Record<string, string> = {};
  for (const h of o.extraHeaders) headers[h.name] = h.value;
  const composer = new MailComposer({
    from: o.from,
    to: o.to.map(fmt),
    cc: o.cc.map(fmt),
    bcc: o.bcc.map(fmt),
    ...(o.replyTo.length ? { replyTo: o.replyTo.map(fmt) } : {}),
    subject: o.subject,
    text,
    ...(html !== undefined ? { html } : {}),
    date: o.date,
    messageId,
    ...(o.inReplyTo ? { inReplyTo: o.inReplyTo } : {}),
    ...(o.references.length ? { references: o.references } : {}),
    headers,
  });
  const node = composer.compile();
  // The sender's own copy keeps Bcc, as Sent Items does.
  node.keepBcc = true;
  const raw = await node.build();
  return { raw, messageId };
}

/** `sendMail` with `Content-Type: text/plain`: the body is base64 MIME, sent as is (Date and Message-ID added if absent). */
export async function parseMimeSubmission(base64: string, now: Date): Promise<{ raw: Buffer; messageId: string; email: Awaited<ReturnType<typeof PostalMime.parse>> }> {
  const trimmed = base64.trim();
  if (!/^[A-Za-z0-9+/=\r\n]+$/.test(trimmed)) throw new GraphError(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
  let raw = Buffer.from(trimmed, 'base64');
  const email = await PostalMime.parse(raw);
  const extra: string[] = [];
  let messageId = email.messageId;
  if (!messageId) {
    messageId = outlookMessageId();
    extra.push(`Message-ID: ${messageId}`);
  }
  if (!email.date) extra.push(`Date: ${now.toUTCString().replace('GMT', '+0000')}`);
  if (extra.length) raw = Buffer.concat([Buffer.from(extra.join('\r\n') + '\r\n'), raw]);
  if (!email.to?.length && !email.cc?.length && !email.bcc?.length) {
    throw new GraphError(400, 'ErrorInvalidRecipients', 'At least one recipient is required, but none were found.');
  }
  return { raw, messageId, email };
}
