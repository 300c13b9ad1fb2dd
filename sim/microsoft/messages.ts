import { createHash } from 'node:crypto';
import PostalMime, { type Address, type Email } from 'postal-mime';
import { GraphError } from './errors.ts';
import { changeKey, folderId, messageIdFor, type GraphFolder } from './ids.ts';
import type { MsParsedHeaders, MsStoredMessage } from './port.ts';
import type { Draft, Recipient } from './state.ts';

/**
 * Graph's `message` resource built from the stored RFC 5322 bytes: the default property set, `$select`,
 * `Prefer: outlook.body-content-type`, `uniqueBody`, `internetMessageHeaders` (only when selected).
 */

export const DEFAULT_PROPERTIES = [
  'id', 'createdDateTime', 'lastModifiedDateTime', 'changeKey', 'categories', 'receivedDateTime', 'sentDateTime',
  'hasAttachments', 'internetMessageId', 'subject', 'bodyPreview', 'importance', 'parentFolderId', 'conversationId',
  'conversationIndex', 'isDeliveryReceiptRequested', 'isReadReceiptRequested', 'isRead', 'isDraft', 'webLink',
  'inferenceClassification', 'body', 'sender', 'from', 'toRecipients', 'ccRecipients', 'bccRecipients', 'replyTo', 'flag',
] as const;
const SELECT_ONLY = ['uniqueBody', 'internetMessageHeaders'] as const;
const ALL = [...DEFAULT_PROPERTIES, ...SELECT_ONLY] as const;
const CANONICAL = new Map<string, string>(ALL.map((p) => [p.toLowerCase(), p]));
/** Properties whose value carries the message's content: serving one counts as a body served. */
export const BODY_PROPERTIES = new Set(['body', 'uniqueBody']);
const NEEDS_FULL_PARSE = new Set(['body', 'uniqueBody', 'bodyPreview', 'hasAttachments']);

/** `$select=subject,from` → canonical names; 400 for a property the type does not have. */
export function parseSelect(select: string | undefined, type = 'microsoft.graph.message'): string[] | null {
  if (select === undefined || select.trim() === '') return null;
  const out: string[] = [];
  for (const raw of select.split(',')) {
    const name = raw.trim();
    if (!name) continue;
    const canonical = CANONICAL.get(name.toLowerCase());
    if (!canonical) throw new GraphError(400, 'RequestBroker--ParseUri', `Could not find a property named '${name}' on type '${type}'.`);
    if (!out.includes(canonical)) out.push(canonical);
  }
  return out;
}

export const graphDate = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

// ---------------------------------------------------------------- MIME parsing with a small cache

const CACHE_LIMIT = 2000;
const fullCache = new Map<string, Promise<Email>>();
const headerCache = new Map<string, Promise<Email>>();

function cached(cache: Map<string, Promise<Email>>, key: string, make: () => Promise<Email>): Promise<Email> {
  let hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  hit = make();
  cache.set(key, hit);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return hit;
}

function headerSection(raw: Buffer): Buffer {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : raw.length;
  return raw.subarray(0, end);
}

export const parseFull = (m: { id: string; raw: Buffer }): Promise<Email> => cached(fullCache, m.id, () => PostalMime.parse(m.raw));
export const parseHeaders = (m: { id: string; raw: Buffer }): Promise<Email> =>
  cached(headerCache, m.id, () => PostalMime.parse(Buffer.concat([headerSection(m.raw), Buffer.from('\r\n')])));

export function recipients(list: Address[] | Address | undefined): Recipient[] {
  const arr = list === undefined ? [] : Array.isArray(list) ? list : [list];
  const out: Recipient[] = [];
  for (const a of arr) {
    if (a.group) for (const g of a.group) out.push({ emailAddress: { name: g.name || g.address, address: g.address } });
    else if (a.address) out.push({ emailAddress: { name: a.name || a.address, address: a.address } });
  }
  return out;
}

// ---------------------------------------------------------------- bodies

export type BodyPreference = 'html' | 'text' | null;

/** `Prefer: outlook.body-content-type="text"` */
export function bodyPreference(prefer: string | string[] | undefined): BodyPreference {
  const text = Array.isArray(prefer) ? prefer.join(',') : (prefer ?? '');
  const m = /outlook\.body-content-type\s*=\s*"?(text|html)"?/i.exec(text);
  return m ? (m[1]!.toLowerCase() as 'text' | 'html') : null;
}

export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|tr|li|h\d|blockquote)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export function textToHtml(text: string): string {
  const esc = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body><div>${esc.replace(/\r?\n/g, '<br>\r\n')}</div></body></html>`;
}

function body(email: { html?: string | undefined; text?: string | undefined }, pref: BodyPreference): { contentType: 'html' | 'text'; content: string } {
  if (pref === 'text') return { contentType: 'text', content: email.text ?? htmlToText(email.html ?? '') };
  if (email.html !== undefined) return { contentType: 'html', content: email.html };
  if (pref === 'html') return { contentType: 'html', content: textToHtml(email.text ?? '') };
  return { contentType: 'text', content: email.text ?? '' };
}

/** The part of a reply that is new: quoted history (`>` lines, "On … wrote:", Outlook's header block) removed. */
export function uniquePart(text: string): string {
  const lines = text.split(/\r?\n/);
  const out: string[] = [];
  for (const line of lines) {
    if (/^\s*>/.test(line)) break;
    if (/^On .{3,200} wrote:\s*$/.test(line)) break;
    if (/^-{2,}\s*Original Message\s*-{2,}/i.test(line)) break;
    if (/^_{10,}\s*$/.test(line)) break;
    if (/^From: .+/.test(line) && out.length > 0 && out[out.length - 1]!.trim() === '') break;
    out.push(line);
  }
  return out.join('\n').trimEnd();
}

function uniqueHtml(html: string): string {
  const cut = html.search(/<blockquote|<div[^>]*(id="divRplyFwdMsg"|class="gmail_quote")|<hr[^>]*>\s*<div[^>]*>\s*<font[^>]*>\s*<b>From:/i);
  return cut >= 0 ? `${html.slice(0, cut)}</body></html>`.replace(/<\/body><\/html><\/body><\/html>$/i, '</body></html>') : html;
}

function preview(email: Email): string {
  const text = email.text ?? htmlToText(email.html ?? '');
  return text.replace(/\s+/g, ' ').trim().slice(0, 255);
}

function conversationIndex(threadId: string, date: Date): string {
  const h = createHash('sha256').update(threadId).digest().subarray(0, 16);
  const t = Buffer.alloc(6);
  t.writeUIntBE(Math.floor(date.getTime() / 1000), 0, 6);
  return Buffer.concat([Buffer.from([0x01]), t.subarray(1), h]).toString('base64');
}

/** The store's once-parsed headers in postal-mime's shape (no body: only for header-only renderings). */
function fromStoredHeaders(h: MsParsedHeaders): Email {
  return {
    headers: h.fields.map((f) => ({ key: f.name.toLowerCase(), originalKey: f.name, value: f.value })),
    headerLines: [],
    ...(h.from ? { from: h.from } : {}),
    to: h.to,
    cc: h.cc,
    bcc: h.bcc,
    replyTo: h.replyTo,
    subject: h.subject,
    ...(h.messageId ? { messageId: h.messageId } : {}),
    ...(h.date ? { date: h.date.toISOString() } : {}),
    attachments: [],
  };
}

// ---------------------------------------------------------------- representation

export interface RenderOptions {
  address: string;
  immutable: boolean;
  select: string[] | null;
  bodyPref: BodyPreference;
  /** Folder to present the message in (delta renders as of its round's end). */
  folder?: GraphFolder;
}

export interface Rendered {
  json: Record<string, unknown>;
  bodyServed: boolean;
}

export async function renderMessage(m: MsStoredMessage, o: RenderOptions): Promise<Rendered> {
  const props = o.select ?? [...DEFAULT_PROPERTIES];
  const folder = o.folder ?? m.folder;
  const id = messageIdFor(m.id, folder, o.immutable, o.address);
  const needFull = props.some((p) => NEEDS_FULL_PARSE.has(p));
  const email = needFull ? await parseFull(m) : m.headers ? fromStoredHeaders(m.headers) : await parseHeaders(m);
  const ck = changeKey(m.id, m.lastSeq);
  const json: Record<string, unknown> = { '@odata.etag': `W/"${ck}"`, id };
  let bodyServed = false;
  const from = recipients(email.from);
  const sender = email.sender ? recipients(email.sender) : from;
  const sent = email.date ? new Date(email.date) : m.internalDate;
  for (const p of props) {
    switch (p) {
      case 'id': break;
      case 'createdDateTime': json[p] = graphDate(m.internalDate); break;
      case 'lastModifiedDateTime': json[p] = graphDate(m.lastModified); break;
      case 'changeKey': json[p] = ck; break;
      case 'categories': json[p] = []; break;
      case 'receivedDateTime': json[p] = graphDate(m.internalDate); break;
      case 'sentDateTime': json[p] = graphDate(Number.isNaN(sent.getTime()) ? m.internalDate : sent); break;
      case 'hasAttachments': json[p] = email.attachments.some((a) => a.disposition !== 'inline'); break;
      case 'internetMessageId': json[p] = email.messageId ?? m.messageId; break;
      case 'subject': json[p] = email.subject ?? ''; break;
      case 'bodyPreview': json[p] = preview(email); break;
      case 'importance': json[p] = 'normal'; break;
      case 'parentFolderId': json[p] = folderId(o.address, folder); break;
      case 'conversationId': json[p] = m.threadId; break;
      case 'conversationIndex': json[p] = conversationIndex(m.threadId, m.internalDate); break;
      case 'isDeliveryReceiptRequested': json[p] = false; break;
      case 'isReadReceiptRequested': json[p] = false; break;
      case 'isRead': json[p] = folder !== 'inbox' && folder !== 'spam'; break;
      case 'isDraft': json[p] = folder === 'drafts'; break;
      case 'webLink': json[p] = `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(id)}&exvsurl=1&viewmodel=ReadMessageItem`; break;
      case 'inferenceClassification': json[p] = 'focused'; break;
      case 'body': json[p] = body(email, o.bodyPref); bodyServed = true; break;
      case 'uniqueBody': {
        const b = body(email, o.bodyPref);
        json[p] = { contentType: b.contentType, content: b.contentType === 'html' ? uniqueHtml(b.content) : uniquePart(b.content) };
        bodyServed = true;
        break;
      }
      case 'sender': json[p] = sender[0] ?? null; break;
      case 'from': json[p] = from[0] ?? null; break;
      case 'toRecipients': json[p] = recipients(email.to); break;
      case 'ccRecipients': json[p] = recipients(email.cc); break;
      case 'bccRecipients': json[p] = recipients(email.bcc); break;
      case 'replyTo': json[p] = recipients(email.replyTo); break;
      case 'flag': json[p] = { flagStatus: 'notFlagged' }; break;
      case 'internetMessageHeaders': json[p] = email.headers.map((h) => ({ name: h.originalKey, value: h.value })); break;
    }
  }
  return { json, bodyServed };
}

/** A draft kept by the Microsoft side until it is sent. */
export function renderDraft(d: Draft, o: RenderOptions): Rendered {
  const props = o.select ?? [...DEFAULT_PROPERTIES];
  const ck = changeKey(d.id, d.version);
  const json: Record<string, unknown> = { '@odata.etag': `W/"${ck}"`, id: messageIdFor(d.id, 'drafts', o.immutable) };
  let bodyServed = false;
  const b = o.bodyPref === 'text' && d.body.contentType === 'html' ? { contentType: 'text', content: htmlToText(d.body.content) } : d.body;
  const values: Record<string, unknown> = {
    createdDateTime: graphDate(d.createdAt), lastModifiedDateTime: graphDate(d.lastModified), changeKey: ck, categories: [],
    receivedDateTime: graphDate(d.createdAt), sentDateTime: graphDate(d.createdAt), hasAttachments: false,
    internetMessageId: d.internetMessageId, subject: d.subject, bodyPreview: htmlToText(d.body.content).replace(/\s+/g, ' ').slice(0, 255),
    importance: 'normal', parentFolderId: folderId(o.address, 'drafts'), conversationId: d.conversationId,
    conversationIndex: conversationIndex(d.conversationId, d.createdAt), isDeliveryReceiptRequested: false, isReadReceiptRequested: false,
    isRead: true, isDraft: true, webLink: `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(d.id)}&exvsurl=1&viewmodel=ReadMessageItem`,
    inferenceClassification: 'focused', body: b, uniqueBody: b,
    sender: null, from: null, toRecipients: d.toRecipients, ccRecipients: d.ccRecipients, bccRecipients: d.bccRecipients,
    replyTo: d.replyTo, flag: { flagStatus: 'notFlagged' },
    internetMessageHeaders: [
      ...(d.inReplyTo ? [{ name: 'In-Reply-To', value: d.inReplyTo }] : []),
      ...(d.references.length ? [{ name: 'References', value: d.references.join(' ') }] : []),
    ],
  };
  for (const p of props) {
    if (p === 'id') continue;
    json[p] = values[p];
    if (BODY_PROPERTIES.has(p)) bodyServed = true;
  }
  return { json, bodyServed };
}
