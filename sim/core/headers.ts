/**
 * RFC 5322 header parsing, synchronous and dependency-free so that bulk delivery (20,000 messages) parses
 * each message's headers once without an async MIME parser. Encoded words (RFC 2047) are decoded; address
 * lists understand quoted names, comments and groups.
 */

export interface Address {
  name: string;
  address: string;
}

export interface HeaderField {
  /** As written in the message (original case). */
  name: string;
  /** Unfolded, encoded words decoded. */
  value: string;
}

export interface ParsedHeaders {
  fields: HeaderField[];
  from: Address | null;
  to: Address[];
  cc: Address[];
  bcc: Address[];
  replyTo: Address[];
  subject: string;
  date: Date | null;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
}

/** Byte offset where the body starts (after the blank line), and the header block's text. */
export function splitHeaderBlock(raw: Buffer): { headerText: string; bodyOffset: number } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  let end: number;
  let sep: number;
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) {
    end = crlf;
    sep = 4;
  } else if (lf >= 0) {
    end = lf;
    sep = 2;
  } else {
    end = raw.length;
    sep = 0;
  }
  return { headerText: raw.subarray(0, end).toString('utf8'), bodyOffset: Math.min(raw.length, end + sep) };
}

/** Unfolds a header block into fields (values still raw, not decoded). */
export function rawFields(headerText: string): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  for (const line of headerText.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length > 0) {
      out[out.length - 1]!.value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return out;
}

function decodeCharset(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset.toLowerCase(), { fatal: false }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** RFC 2047 encoded words; whitespace between adjacent encoded words is dropped as the RFC requires. */
export function decodeEncodedWords(value: string): string {
  const re = /=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g;
  if (!value.includes('=?')) return value;
  return value
    .replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?[^?]+\?[bBqQ]\?[^?]*\?=)/g, '$1')
    .replace(re, (_m, charset: string, enc: string, text: string) => {
      const cs = charset.split('*')[0]!;
      if (enc.toUpperCase() === 'B') return decodeCharset(Buffer.from(text, 'base64'), cs);
      const bytes: number[] = [];
      for (let i = 0; i < text.length; i++) {
        const c = text[i]!;
        if (c === '_') bytes.push(0x20);
        else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
          bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
          i += 2;
        } else bytes.push(c.charCodeAt(0));
      }
      return decodeCharset(Buffer.from(bytes), cs);
    });
}

/** Parses an address list (`"Doe, Jane" <jane@x.com>, bob@y.org (Bob), team: a@b.c, d@e.f;`). */
export function parseAddressList(value: string): Address[] {
  const out: Address[] = [];
  let i = 0;
  const n = value.length;
  let phrase = '';
  let addr: string | null = null;
  let comment = '';
  const flush = () => {
    const text = phrase.trim();
    let address = addr;
    let name = text;
    if (address === null) {
      // bare addr-spec: the phrase is the address; a comment may carry the name
      address = text.replace(/\s+/g, '');
      name = comment.trim();
    }
    if (address && address.includes('@')) out.push({ name: decodeEncodedWords(name).replace(/\s+/g, ' ').trim(), address: address.trim() });
    phrase = '';
    addr = null;
    comment = '';
  };
  while (i < n) {
    const c = value[i]!;
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < n && value[j] !== '"') {
        if (value[j] === '\\' && j + 1 < n) j++;
        s += value[j];
        j++;
      }
      phrase += s;
      i = j + 1;
    } else if (c === '(') {
      let depth = 1;
      let j = i + 1;
      let s = '';
      while (j < n && depth > 0) {
        if (value[j] === '(') depth++;
        else if (value[j] === ')') depth--;
        if (depth > 0) s += value[j];
        j++;
      }
      comment += s;
      i = j;
    } else if (c === '<') {
      const j = value.indexOf('>', i);
      addr = value.slice(i + 1, j < 0 ? n : j);
      i = j < 0 ? n : j + 1;
    } else if (c === ':' && addr === null) {
      // group display name: drop it, the members follow
      phrase = '';
      i++;
    } else if (c === ',' || c === ';') {
      flush();
      i++;
    } else {
      phrase += c;
      i++;
    }
  }
  flush();
  return out;
}

function msgIds(value: string): string[] {
  return value.match(/<[^<>\s]+>/g) ?? [];
}

/** Parses the header block of an RFC 5322 message once. */
export function parseHeaders(raw: Buffer): ParsedHeaders {
  const { headerText } = splitHeaderBlock(raw);
  const fields = rawFields(headerText).map((f) => ({ name: f.name, value: decodeEncodedWords(f.value) }));
  const rawByName = new Map<string, string>();
  for (const f of rawFields(headerText)) {
    const k = f.name.toLowerCase();
    if (!rawByName.has(k)) rawByName.set(k, f.value);
  }
  const get = (n: string) => rawByName.get(n) ?? null;
  const dateText = get('date');
  const date = dateText ? new Date(dateText.replace(/\s*\([^)]*\)\s*$/, '')) : null;
  const inReplyTo = get('in-reply-to');
  return {
    fields,
    from: parseAddressList(get('from') ?? '')[0] ?? null,
    to: parseAddressList(get('to') ?? ''),
    cc: parseAddressList(get('cc') ?? ''),
    bcc: parseAddressList(get('bcc') ?? ''),
    replyTo: parseAddressList(get('reply-to') ?? ''),
    subject: decodeEncodedWords(get('subject') ?? ''),
    date: date && !Number.isNaN(date.getTime()) ? date : null,
    messageId: msgIds(get('message-id') ?? '')[0] ?? null,
    inReplyTo: inReplyTo ? (msgIds(inReplyTo)[0] ?? null) : null,
    references: msgIds(get('references') ?? ''),
  };
}
