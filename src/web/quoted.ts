/**
 * The reader's view of an email body: the quoted tail of a reply (Gmail's "On … wrote:", Outlook's
 * "From: … Sent: …" block, `>` quoting) split from what the sender actually wrote, so it can be folded behind a
 * toggle; and remote images turned into placeholders until the reader asks for them (a remote image tells the
 * sender when and where the mail was read). Pure string functions: they run in the browser and in unit tests.
 *
 * The HTML given here is the server's sanitised HTML (class and id attributes are gone), so quotes are found by
 * their words and by `<blockquote>`; Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg` and Apple's
 * `type="cite"` still mark a quote when present.
 */

export interface Split {
  /** What the sender wrote. */
  body: string;
  /** The quoted tail, or null when there is none (or when folding it would leave nothing to read). */
  quoted: string | null;
}

const GMAIL_HEADER = /^\s*(?:On|Le|Am|El|Il|Op)\s.{0,400}(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef)\s*:\s*$/i;
const GMAIL_HEADER_START = /^\s*(?:On|Le|Am|El|Il|Op)\s/i;
const HEADER_END = /(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef)\s*:\s*$/i;
const OUTLOOK_FROM = /^\s*\*?(?:From|Von|De|Da|Van)\s*:\*?\s*\S/i;
const OUTLOOK_SENT = /^\s*\*?(?:Sent|Date|Gesendet|Envoyé|Enviado|Inviato|Verzonden|Datum)\s*:\*?\s*\S/i;
const SEPARATOR = /^\s*(?:-{2,}\s*(?:Original Message|Forwarded message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}|_{10,})\s*$/i;
const QUOTED_LINE = /^\s*>/;

/** The index of the line where the quoted tail begins, or -1. */
export function quoteStart(lines: readonly string[]): number {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (GMAIL_HEADER.test(line)) return i;
    // A long "On …, Name <address> wrote:" wraps onto the next line or two.
    if (GMAIL_HEADER_START.test(line) && /\d/.test(line)) {
      const wrapped = [line, lines[i + 1] ?? '', lines[i + 2] ?? ''];
      if (HEADER_END.test(wrapped.slice(0, 2).join(' ')) || HEADER_END.test(wrapped.join(' '))) return i;
    }
    if (SEPARATOR.test(line)) {
      // Outlook's rule or "Original Message" line, then its header block.
      const next = lines.slice(i + 1, i + 4).findIndex((l) => OUTLOOK_FROM.test(l));
      if (next >= 0 || /message|nachricht/i.test(line)) return i;
    }
    if (OUTLOOK_FROM.test(line) && lines.slice(i + 1, i + 6).some((l) => OUTLOOK_SENT.test(l))) return i;
    // `>` quoting is folded only when nothing but quoted or blank lines follow: answers written between quoted
    // lines stay visible.
    if (QUOTED_LINE.test(line) && lines.slice(i).every((l) => QUOTED_LINE.test(l) || l.trim() === '')) return i;
  }
  return -1;
}

export function splitQuotedText(text: string): Split {
  const lines = text.split(/\r?\n/);
  const start = quoteStart(lines);
  if (start < 0) return { body: text, quoted: null };
  const body = lines.slice(0, start).join('\n').replace(/\s+$/, '');
  if (!body.trim()) return { body: text, quoted: null };
  return { body, quoted: lines.slice(start).join('\n') };
}

const VOID = new Set(['br', 'hr', 'img', 'col', 'wbr', 'input', 'meta', 'link', 'area', 'base', 'source']);
const LINE_BREAKING = new Set(['br', 'hr', 'p', 'div', 'li', 'tr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'table', 'dt', 'dd', 'center', 'ul', 'ol']);
const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b((?:[^>"']|"[^"]*"|'[^']*')*)>/g;
const MARKED_QUOTE = /\bclass\s*=\s*["'][^"']*\bgmail_quote\b|\bid\s*=\s*["']?(?:divRplyFwdMsg|appendonsend)\b|\btype\s*=\s*["']?cite\b/i;

interface Line {
  /** Offset in the HTML where the line's markup starts (after the tag that broke the previous line). */
  at: number;
  text: string;
  /** The open elements at `at`, outermost first, as their start tags. */
  open: string[];
}

const decode = (text: string) =>
  text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|nbsp);/gi, (_, body: string) => {
    const lower = body.toLowerCase();
    if (lower[0] === '#') return String.fromCodePoint(lower[1] === 'x' ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' } as Record<string, string>)[lower] ?? '';
  });

/**
 * Splits sanitised HTML where the quoted tail begins. Each side stays well formed: the body closes the elements
 * open at the cut and the quoted part opens them again, so neither can swallow the markup around it.
 */
export function splitQuotedHtml(html: string): Split {
  const lines: Line[] = [];
  const stack: Array<{ name: string; tag: string }> = [];
  let current: Line = { at: 0, text: '', open: [] };
  let quoteDepth = 0;
  let marked: { at: number; open: string[] } | null = null;
  const breakLine = (at: number) => {
    lines.push(current);
    current = { at, text: quoteDepth > 0 ? '> ' : '', open: stack.map((s) => s.tag) };
  };
  let last = 0;
  for (const match of html.matchAll(TAG)) {
    const index = match.index;
    current.text += decode(html.slice(last, index)).replace(/\s+/g, ' ');
    last = index + match[0].length;
    const closing = match[1] === '/';
    const name = match[2]!.toLowerCase();
    if (closing) {
      const found = stack.map((s) => s.name).lastIndexOf(name);
      if (found >= 0) stack.length = found;
      if (name === 'blockquote') quoteDepth = Math.max(0, quoteDepth - 1);
      if (LINE_BREAKING.has(name)) breakLine(last);
      continue;
    }
    if (marked === null && MARKED_QUOTE.test(match[3] ?? '')) marked = { at: index, open: stack.map((s) => s.tag) };
    if (LINE_BREAKING.has(name)) {
      if (name === 'blockquote') {
        // The line break comes before the quote opens: the cut then lands outside the blockquote.
        breakLine(index);
        quoteDepth++;
        current.text = '> ';
      } else if (!VOID.has(name)) breakLine(index);
    }
    if (!VOID.has(name) && !match[0].endsWith('/>')) stack.push({ name, tag: match[0] });
    if (VOID.has(name) && LINE_BREAKING.has(name)) breakLine(last);
  }
  current.text += decode(html.slice(last)).replace(/\s+/g, ' ');
  lines.push(current);

  const texts = lines.map((l) => l.text);
  // Empty lines from markup alone are dropped for the search, as blank lines are between words.
  const kept = lines.map((l, i) => ({ l, i })).filter(({ l }) => l.text.trim() !== '');
  const found = quoteStart(kept.map(({ l }) => l.text));
  let cut: { at: number; open: string[] } | null = found >= 0 ? { at: kept[found]!.l.at, open: kept[found]!.l.open } : null;
  if (marked && (!cut || marked.at < cut.at)) cut = marked;
  if (!cut) return { body: html, quoted: null };
  const before = html.slice(0, cut.at);
  if (!texts.length || !decode(before.replace(TAG, ' ')).trim()) return { body: html, quoted: null };
  const closeTags = cut.open.map((tag) => `</${/^<([a-zA-Z0-9]+)/.exec(tag)![1]}>`).reverse().join('');
  return { body: before + closeTags, quoted: cut.open.join('') + html.slice(cut.at) };
}

/** A remote `src`/`srcset` in an <img>: the server never stores one (its sanitiser keeps addresses inert). */
const REMOTE_SRC = /(\s)(src|srcset)\s*=\s*("(?:\s*(?:https?:)?\/\/)[^"]*"|'(?:\s*(?:https?:)?\/\/)[^']*'|(?:https?:)?\/\/[^\s>]+)/gi;
/** The inert form the server stores a remote image's address in. */
const STORED_REMOTE = /(\s)data-remote-src="([^"]*)"/i;
const IMG_TAG = /<img\b(?:[^>"']|"[^"]*"|'[^']*')*>/gi;

const attribute = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/**
 * Remote images of a message. The server stores their addresses in `data-remote-src`, which no browser loads, so
 * they stay placeholders; once the reader chooses "Show images" for the message (`proxy` given), each points at the
 * product's image proxy, which fetches it on the reader's behalf, so the sender never reaches the reader's browser.
 * A remote `src` that reached the HTML some other way is made inert (`data-blocked-src`) and never shown. Inline
 * `data:` images are shown.
 */
export function remoteImages(html: string, proxy?: (address: string) => string): { html: string; count: number } {
  let count = 0;
  const out = html.replace(IMG_TAG, (tag) => {
    const inert = tag.replace(REMOTE_SRC, (_, space: string, attr: string, value: string) => `${space}data-blocked-${attr.toLowerCase()}=${value}`);
    const stored = STORED_REMOTE.exec(inert);
    if (!stored) return inert;
    count++;
    if (!proxy) return inert;
    return inert.replace(STORED_REMOTE, (_, space: string) => `${space}src="${attribute(proxy(decode(stored[2]!)))}"`);
  });
  return { html: out, count };
}
