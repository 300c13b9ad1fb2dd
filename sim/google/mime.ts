import { createHash } from 'node:crypto';
import { decodeEncodedWords, rawFields, splitHeaderBlock, type HeaderField } from '../core/headers.ts';

/**
 * The Gmail `payload` of a message (format=full): a MessagePart tree whose leaves carry base64url bodies,
 * attachments referenced by `attachmentId` instead
 * (https://developers.google.com/gmail/api/reference/rest/v1/users.messages#MessagePart).
 */

export interface MessagePart {
  partId: string;
  mimeType: string;
  filename: string;
  headers: Array<{ name: string; value: string }>;
  body: { size: number; data?: string; attachmentId?: string };
  parts?: MessagePart[];
}

interface ParsedPart {
  headers: HeaderField[];
  contentType: string;
  params: Record<string, string>;
  disposition: string;
  dispositionParams: Record<string, string>;
  body: Buffer;
  children: ParsedPart[];
}

function headerParams(value: string): { value: string; params: Record<string, string> } {
  const [first, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const k = p.slice(0, eq).trim().toLowerCase().replace(/\*$/, '');
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (/^utf-8''/i.test(v)) v = decodeURIComponent(v.replace(/^utf-8''/i, ''));
    params[k] = decodeEncodedWords(v);
  }
  return { value: (first ?? '').trim().toLowerCase(), params };
}

function decodeBody(body: Buffer, encoding: string): Buffer {
  const enc = encoding.toLowerCase();
  if (enc === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (enc === 'quoted-printable') {
    const text = body.toString('latin1').replace(/=\r?\n/g, '');
    const bytes: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
        bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(text.charCodeAt(i) & 0xff);
    }
    return Buffer.from(bytes);
  }
  return body;
}

function parsePart(raw: Buffer, depth = 0): ParsedPart {
  const { headerText, bodyOffset } = splitHeaderBlock(raw);
  const fields = rawFields(headerText);
  const get = (n: string) => fields.find((f) => f.name.toLowerCase() === n)?.value;
  const ct = headerParams(get('content-type') ?? 'text/plain; charset=us-ascii');
  const cd = headerParams(get('content-disposition') ?? '');
  const rawBody = raw.subarray(bodyOffset);
  const part: ParsedPart = {
    headers: fields.map((f) => ({ name: f.name, value: decodeEncodedWords(f.value) })),
    contentType: ct.value || 'text/plain',
    params: ct.params,
    disposition: cd.value,
    dispositionParams: cd.params,
    body: rawBody,
    children: [],
  };
  const boundary = ct.params.boundary;
  if (part.contentType.startsWith('multipart/') && boundary && depth < 20) {
    const delim = Buffer.from(`--${boundary}`);
    const positions: number[] = [];
    let at = rawBody.indexOf(delim);
    while (at >= 0) {
      // a delimiter only counts at the start of a line
      if (at === 0 || rawBody[at - 1] === 0x0a) positions.push(at);
      at = rawBody.indexOf(delim, at + delim.length);
    }
    for (let i = 0; i < positions.length; i++) {
      const start = positions[i]! + delim.length;
      if (rawBody.subarray(start, start + 2).toString() === '--') break;
      const lineEnd = rawBody.indexOf('\n', start);
      const next = positions[i + 1] ?? rawBody.length;
      if (lineEnd < 0 || lineEnd >= next) continue;
      let end = next;
      if (rawBody[end - 1] === 0x0a) end--;
      if (rawBody[end - 1] === 0x0d) end--;
      part.children.push(parsePart(rawBody.subarray(lineEnd + 1, Math.max(lineEnd + 1, end)), depth + 1));
    }
  } else {
    part.body = decodeBody(rawBody, get('content-transfer-encoding') ?? '7bit');
  }
  return part;
}

/** Attachment ids are derived from the message id and part id, so they stay stable across requests. */
export function attachmentIdOf(messageId: string, partId: string): string {
  return 'ANGjdJ' + createHash('sha256').update(`${messageId}:${partId}`).digest('base64url');
}

function toGmail(p: ParsedPart, partId: string, messageId: string): MessagePart {
  const filename = p.dispositionParams.filename ?? p.params.name ?? '';
  const out: MessagePart = { partId, mimeType: p.contentType, filename, headers: p.headers, body: { size: 0 } };
  if (p.children.length) {
    out.parts = p.children.map((c, i) => toGmail(c, partId === '' ? String(i) : `${partId}.${i}`, messageId));
  } else if (filename || p.disposition === 'attachment') {
    out.body = { attachmentId: attachmentIdOf(messageId, partId || '0'), size: p.body.length };
  } else {
    out.body = { size: p.body.length, ...(p.body.length ? { data: p.body.toString('base64url') } : {}) };
  }
  return out;
}

export function gmailPayload(raw: Buffer, messageId: string): MessagePart {
  return toGmail(parsePart(raw), '', messageId);
}

/** The decoded bytes of one attachment, by attachmentId. */
export function findAttachment(raw: Buffer, messageId: string, attachmentId: string): Buffer | undefined {
  const walk = (p: ParsedPart, partId: string): Buffer | undefined => {
    if (p.children.length) {
      for (let i = 0; i < p.children.length; i++) {
        const found = walk(p.children[i]!, partId === '' ? String(i) : `${partId}.${i}`);
        if (found) return found;
      }
      return undefined;
    }
    return attachmentIdOf(messageId, partId || '0') === attachmentId ? p.body : undefined;
  };
  return walk(parsePart(raw), '');
}

function charsetText(p: ParsedPart): string {
  try {
    return new TextDecoder(p.params.charset ?? 'utf-8').decode(p.body);
  } catch {
    return p.body.toString('utf8');
  }
}

/** The first text/plain (else text/html without tags) of a message, for snippets and full-text search. */
export function bodyText(raw: Buffer): string {
  let plain: string | undefined;
  let html: string | undefined;
  const walk = (p: ParsedPart) => {
    if (p.children.length) return p.children.forEach(walk);
    if (p.disposition === 'attachment') return;
    if (plain === undefined && p.contentType === 'text/plain') plain = charsetText(p);
    if (html === undefined && p.contentType === 'text/html') html = charsetText(p);
  };
  walk(parsePart(raw));
  if (plain !== undefined) return plain;
  if (html !== undefined) {
    return html
      .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'");
  }
  return '';
}

/** Gmail snippets: about 200 characters of the text, whitespace collapsed, HTML-escaped. */
export function snippetOf(raw: Buffer): string {
  const text = bodyText(raw).replace(/\s+/g, ' ').trim().slice(0, 200);
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
