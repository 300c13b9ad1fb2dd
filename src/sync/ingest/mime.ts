/**
 * Turns the raw MIME of an ingested message into what the product stores and shows: participants, subject,
 * dates, RFC ids, sanitised HTML, plain text, snippet and attachment metadata (never attachment content).
 *
 * Mail is untrusted and sometimes broken. Parsing never throws: what can be read is returned, and each thing
 * that could not be read is listed in `problems` in plain words, so the decision log can say so while
 * the message is still stored with what was readable.
 */
import PostalMime, { type Address, type Email } from 'postal-mime';
import { canonicalMessageId, messageIdList } from './message-ids.ts';
import { htmlToText, sanitizeEmailHtml } from './sanitize.ts';

export interface ParsedAddressEntry {
  address: string;
  name?: string;
}

export interface ParsedAttachment {
  filename: string;
  contentType: string;
  sizeBytes: number;
}

export interface ParsedMessage {
  from: ParsedAddressEntry | null;
  to: ParsedAddressEntry[];
  cc: ParsedAddressEntry[];
  bcc: ParsedAddressEntry[];
  subject: string | null;
  /** The Date header, when present and readable. */
  date: Date | null;
  rfcMessageId: string | null;
  inReplyTo: string | null;
  references: string[];
  bodyHtml: string | null;
  bodyText: string | null;
  snippet: string;
  attachments: ParsedAttachment[];
  problems: string[];
}

export const SNIPPET_LENGTH = 200;

/**
 * Defences against hostile input (real mail stays far below them), and attachment content measured rather than
 * decoded: only an attachment's name, type and size are kept, and decoding a CV or an image was most of the parse.
 */
const PARSE_OPTIONS = { maxNestingDepth: 50, maxHeadersSize: 1024 * 1024, maxRfc822NestingDepth: 3, attachmentSizesOnly: true } as const;

function flatten(list: Address[] | Address | undefined): ParsedAddressEntry[] {
  if (list === undefined) return [];
  const out: ParsedAddressEntry[] = [];
  for (const entry of Array.isArray(list) ? list : [list]) {
    const mailboxes = entry.group !== undefined ? entry.group : [entry];
    for (const m of mailboxes) {
      const address = (m.address ?? '').trim();
      if (address === '' || !address.includes('@')) continue;
      const name = (m.name ?? '').trim();
      out.push(name === '' ? { address } : { address, name });
    }
  }
  return out;
}

function readDate(value: string | undefined, problems: string[]): Date | null {
  if (value === undefined || value.trim() === '') return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    problems.push('The Date header could not be read; the mailbox’s own date of the message is used.');
    return null;
  }
  return date;
}

const collapse = (lines: string[]) => lines.join(' ').replace(/\s+/g, ' ').trim();

/**
 * Whitespace-collapsed opening of the text, quoted reply lines left out, cut at a word near `max` characters.
 * Only the opening is read: once the lines kept so far collapse to more than `max` characters, the lines after
 * them can no longer change the first `max`, so a long body is not split and collapsed whole.
 */
export function makeSnippet(text: string, max = SNIPPET_LENGTH): string {
  const kept: string[] = [];
  let keptLength = 0;
  let checkAt = max;
  let collapsed: string | null = null;
  for (let start = 0; start <= text.length; ) {
    const lineFeed = text.indexOf('\n', start);
    const end = lineFeed < 0 ? text.length : lineFeed;
    // A CR before the line feed stays on the line: it is whitespace, collapsed like the line break.
    const line = text.slice(start, end);
    start = end + 1;
    if (/^\s*>/.test(line)) continue;
    kept.push(line);
    keptLength += line.length + 1;
    if (keptLength > checkAt) {
      const opening = collapse(kept);
      if (opening.length > max) {
        collapsed = opening;
        break;
      }
      checkAt = keptLength * 2;
    }
  }
  collapsed ??= collapse(kept);
  if (collapsed.length <= max) return collapsed;
  const cut = collapsed.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

function sizeOf(attachment: Email['attachments'][number]): number {
  // The decoded size, whether the parser measured the content or kept it.
  if (attachment.size !== undefined) return attachment.size;
  const content = attachment.content;
  if (typeof content === 'string') return Buffer.byteLength(content);
  return content.byteLength;
}

function attachmentsOf(email: Email): ParsedAttachment[] {
  return email.attachments.map((a, i) => ({
    filename: (a.filename ?? '').trim() || `attachment-${i + 1}${a.mimeType === 'message/rfc822' ? '.eml' : ''}`,
    contentType: a.mimeType || 'application/octet-stream',
    sizeBytes: sizeOf(a),
  }));
}

function fromEmail(email: Email, problems: string[]): ParsedMessage {
  let bodyHtml: string | null = null;
  if (email.html !== undefined && email.html.trim() !== '') {
    const safe = sanitizeEmailHtml(email.html);
    bodyHtml = safe === '' ? null : safe;
  }
  const text = email.text !== undefined && email.text.trim() !== '' ? email.text.replace(/\r\n/g, '\n').trimEnd() : null;
  // Plain-text fallback for HTML-only mail, from the sanitised HTML (never from the raw markup).
  const bodyText = text ?? (bodyHtml !== null ? htmlToText(bodyHtml) || null : null);
  const from = flatten(email.from)[0] ?? null;
  return {
    from,
    to: flatten(email.to),
    cc: flatten(email.cc),
    bcc: flatten(email.bcc),
    subject: email.subject ?? null,
    date: readDate(email.date, problems),
    rfcMessageId: canonicalMessageId(email.messageId),
    inReplyTo: canonicalMessageId(email.inReplyTo),
    references: messageIdList(email.references),
    bodyHtml,
    bodyText,
    snippet: makeSnippet(bodyText ?? ''),
    attachments: attachmentsOf(email),
    problems,
  };
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, ' ').slice(0, 200);
}

/** The header block alone (up to the first empty line), for a second attempt when the whole message fails. */
function headerBlock(raw: Uint8Array): Uint8Array {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const crlf = text.indexOf('\r\n\r\n');
  const lf = text.indexOf('\n\n');
  const ends = [crlf, lf].filter((i) => i >= 0);
  const end = ends.length === 0 ? text.length : Math.min(...ends);
  return text.subarray(0, end);
}

/** The MIME parser's entry point (`PostalMime.parse`); another build of the same parser can be compared through it. */
export type MimeParser = (raw: Uint8Array, options: typeof PARSE_OPTIONS) => Promise<Email>;

export function parseMime(raw: Uint8Array | string): Promise<ParsedMessage> {
  return parseMimeWith((bytes, options) => PostalMime.parse(bytes, options), raw);
}

/** `parseMime` with the given parser (the benchmark and the equivalence test run it with the unpatched postal-mime). */
export async function parseMimeWith(parse: MimeParser, raw: Uint8Array | string): Promise<ParsedMessage> {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const problems: string[] = [];
  if (bytes.byteLength === 0) {
    return { ...emptyMessage(), problems: ['The message content was empty; it is stored with its header facts only.'] };
  }
  try {
    const email = await parse(bytes, PARSE_OPTIONS);
    if (email.headers.length === 0) problems.push('The message has no readable headers; it is stored with the mailbox’s header facts.');
    return fromEmail(email, problems);
  } catch (error) {
    problems.push(`The message body could not be parsed (${describeError(error)}); it is stored with its headers only.`);
  }
  try {
    const email = await parse(headerBlock(bytes), PARSE_OPTIONS);
    const parsed = fromEmail({ ...email, html: undefined, text: undefined, attachments: [] }, problems);
    return parsed;
  } catch (error) {
    problems.push(`Its headers could not be parsed either (${describeError(error)}); the mailbox’s header facts are used.`);
    return { ...emptyMessage(), problems };
  }
}

function emptyMessage(): ParsedMessage {
  return { from: null, to: [], cc: [], bcc: [], subject: null, date: null, rfcMessageId: null, inReplyTo: null, references: [], bodyHtml: null, bodyText: null, snippet: '', attachments: [], problems: [] };
}
