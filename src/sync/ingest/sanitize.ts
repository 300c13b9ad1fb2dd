/**
 * N-3: HTML from email is untrusted. It is sanitised once, before it is stored, so no read path can serve it
 * raw. The allow-list is conservative: formatting, lists, tables, quotes and links; no scripts, styles, event
 * handlers, frames, forms or remote content. Remote images would tell the sender when and where the mail was
 * read, so an http(s) image keeps its address only in `data-remote-src`, which no browser loads: the reader shows
 * it on request through the product's image proxy (src/services/image-proxy.ts), never from the reader's browser.
 * Any other remote or `cid:` image becomes its alt text; inline raster `data:` images are kept.
 */
import sanitizeHtml from 'sanitize-html';

const FORMATTING_TAGS = [
  'p', 'br', 'div', 'span', 'b', 'strong', 'i', 'em', 'u', 's', 'strike', 'del', 'ins', 'sub', 'sup', 'small', 'mark',
  'blockquote', 'pre', 'code', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'dl', 'dt', 'dd',
  'table', 'thead', 'tbody', 'tfoot', 'tr', 'td', 'th', 'caption', 'colgroup', 'col', 'center', 'font', 'a', 'img',
];

const CELL = ['colspan', 'rowspan', 'align', 'valign', 'width'];

/** Inline raster images only: an SVG can carry script, and nothing else belongs in an <img>. */
const DATA_IMAGE = /^data:image\/(?:png|gif|jpe?g|webp|bmp);base64,[a-z0-9+/=\s]+$/i;

export const LINK_REL = 'noopener noreferrer nofollow';

/** The attribute holding a remote image's address in stored HTML: inert until the reader asks for the image. */
export const REMOTE_SRC = 'data-remote-src';

/** Longest remote image address kept; longer ones are dropped like any other unusable image. */
const MAX_REMOTE_URL = 2048;

/**
 * A remote image address as stored: an absolute http(s) URL without credentials, in the URL parser's normal form
 * (so the proxy compares like with like), or null when it is anything else.
 */
export function remoteImageUrl(src: string): string | null {
  const trimmed = src.trim();
  if (!/^https?:\/\//i.test(trimmed) || trimmed.length > MAX_REMOTE_URL) return null;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.hostname === '') return null;
  url.hash = '';
  return url.href.length > MAX_REMOTE_URL ? null : url.href;
}

/** The attributes of an <img> without a remote address of the mail's own (and without `drop`). */
function withoutRemote(attribs: sanitizeHtml.Attributes, drop?: string): sanitizeHtml.Attributes {
  return Object.fromEntries(Object.entries(attribs).filter(([name]) => name !== REMOTE_SRC && name !== drop && name !== 'srcset'));
}

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: FORMATTING_TAGS,
  allowedAttributes: {
    a: ['href', 'title', 'rel', 'target'],
    img: ['src', REMOTE_SRC, 'alt', 'title', 'width', 'height'],
    td: CELL,
    th: CELL,
    col: ['span', 'width'],
    colgroup: ['span', 'width'],
    table: ['width', 'align', 'border', 'cellpadding', 'cellspacing'],
    ol: ['start', 'type'],
    font: ['color', 'size'],
    '*': ['dir', 'lang'],
  },
  allowedSchemes: ['https', 'mailto'],
  allowedSchemesByTag: { img: ['data'] },
  allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
  allowProtocolRelative: false,
  // Content of these is never text a reader should see (and for script/style must never reach a page).
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'title', 'head', 'template', 'iframe', 'object', 'embed', 'svg', 'math'],
  disallowedTagsMode: 'discard',
  transformTags: {
    a: (tagName, attribs) => {
      const out: sanitizeHtml.Attributes = { rel: LINK_REL, target: '_blank' };
      if (attribs.href !== undefined) out.href = attribs.href;
      if (attribs.title !== undefined) out.title = attribs.title;
      return { tagName, attribs: out };
    },
    img: (tagName, attribs) => {
      const src = (attribs.src ?? '').trim();
      if (DATA_IMAGE.test(src)) return { tagName, attribs: withoutRemote(attribs) };
      const remote = remoteImageUrl(src);
      // Nothing is fetched when the mail is shown: the address waits in an attribute no browser loads.
      if (remote !== null) return { tagName, attribs: { ...withoutRemote(attribs, 'src'), [REMOTE_SRC]: remote } };
      // A cid: (or unknown) image becomes its alt text.
      return { tagName: 'span', attribs: {}, text: attribs.alt ?? '' };
    },
  },
};

export function sanitizeEmailHtml(html: string): string {
  return sanitizeHtml(html, OPTIONS).trim();
}

const REMOTE_ATTRIBUTE = new RegExp(`<img\\b[^>]*?\\s${REMOTE_SRC}="([^"]*)"`, 'gi');

/**
 * Sanitised HTML with each remote image's address back in `src`, as the sender wrote it: for a copy that leaves the
 * product (an exported .eml), where the reader's own mail client decides whether to load remote images.
 */
export function withRemoteImageSources(safeHtml: string): string {
  return safeHtml.replace(REMOTE_ATTRIBUTE, (tag, value: string) => {
    const url = remoteImageUrl(decodeEntities(value));
    const attribute = ` ${REMOTE_SRC}="${value}"`;
    return url === null ? tag.replace(attribute, '') : tag.replace(attribute, ` src="${value}"`);
  });
}

/**
 * The remote image addresses of sanitised HTML, as stored in `data-remote-src` (the sanitiser writes every
 * attribute double-quoted, with `"` and `&` as entities). These, and only these, may be fetched for its message.
 */
export function remoteImageUrls(safeHtml: string): Set<string> {
  const urls = new Set<string>();
  for (const match of safeHtml.matchAll(REMOTE_ATTRIBUTE)) {
    const url = remoteImageUrl(decodeEntities(match[1]!));
    if (url !== null) urls.add(url);
  }
  return urls;
}

const BLOCK_BREAK = /<(?:br|hr)\s*\/?>|<\/(?:p|div|li|tr|h[1-6]|blockquote|pre|table|dt|dd|center)>/gi;
const CELL_BREAK = /<\/t[dh]>/gi;

/** Plain text of (already sanitised) HTML: block ends become line breaks, entities are decoded. */
export function htmlToText(safeHtml: string): string {
  const marked = safeHtml.replace(BLOCK_BREAK, '\n').replace(CELL_BREAK, '\t');
  const stripped = sanitizeHtml(marked, { allowedTags: [], allowedAttributes: {}, nonTextTags: OPTIONS.nonTextTags ?? [] });
  return decodeEntities(stripped)
    .replace(/[ \t\u00a0]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[body.toLowerCase()] ?? whole;
  });
}
