/**
 * RFC 5322 address lists as mail clients really write them. R-30 counts the addresses of a message, so a
 * comma inside a quoted display name must not split a mailbox, and an empty group must not count as one.
 */

export interface ParsedAddress {
  /** The address as written: angle brackets, comments and routes removed, case and `+tag` kept. */
  readonly address: string;
  /** Display name with quotes removed; RFC 2047 encoded words are left as written. Null when absent. */
  readonly name: string | null;
  /** The RFC 5322 group (`team: a@x.com, b@y.com;`) the address was listed in, if any. */
  readonly group: string | null;
}

interface Segment {
  raw: string;
  group: string | null;
}

/**
 * Parses a From/To/Cc/Bcc header value. Tolerates what clients send in practice: unquoted commas in display
 * names (`Doe, Jane <jane@x.com>`), `;` as a separator (Outlook), folded lines, comments and obsolete routes.
 * A fragment with no `@` is not an address and is dropped; anything with an `@` is kept even if malformed, so
 * that an odd participant still counts against R-30 rather than vanishing.
 */
export function parseAddressList(header: string): ParsedAddress[] {
  const segments = mergeUnquotedCommaNames(splitSegments(header.replace(/\r?\n(?=[ \t])/g, '').replace(/[\r\n]+/g, ' ')));
  const out: ParsedAddress[] = [];
  for (const segment of segments) {
    const parsed = parseMailbox(segment.raw);
    if (parsed !== null) out.push({ ...parsed, group: segment.group });
  }
  return out;
}

function splitSegments(text: string): Segment[] {
  const segments: Segment[] = [];
  let buf = '';
  let quoted = false;
  let commentDepth = 0;
  let angle = false;
  let group: string | null = null;
  const flush = (): void => {
    if (buf.trim() !== '') segments.push({ raw: buf, group });
    buf = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted || commentDepth > 0) {
      buf += c;
      if (c === '\\' && i + 1 < text.length) buf += text[++i];
      else if (quoted && c === '"') quoted = false;
      else if (!quoted && c === '(') commentDepth++;
      else if (!quoted && c === ')') commentDepth--;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '(') commentDepth = 1;
    if (angle) {
      buf += c;
      if (c === '>') angle = false;
      continue;
    }
    switch (c) {
      case '<':
        angle = true;
        buf += c;
        break;
      case ',':
        flush();
        break;
      case ';':
        flush();
        group = null;
        break;
      case ':':
        // A group starts at a colon that follows a bare phrase; inside an address it is just a character.
        if (group === null && !hasBareAt(buf)) {
          group = phrase(buf) ?? '';
          buf = '';
        } else {
          buf += c;
        }
        break;
      default:
        buf += c;
    }
  }
  flush();
  return segments;
}

/** `Doe, Jane <jane@x.com>` is invalid but common: a fragment without `@` or `<` belongs to the next name. */
function mergeUnquotedCommaNames(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  let pending: Segment | null = null;
  const isPhraseOnly = (raw: string): boolean => {
    const bare = stripQuotedAndComments(raw);
    return !bare.includes('@') && !bare.includes('<');
  };
  for (const segment of segments) {
    const joins = pending !== null && pending.group === segment.group && (isPhraseOnly(segment.raw) || stripQuotedAndComments(segment.raw).includes('<'));
    const current: Segment = joins && pending !== null ? { raw: `${pending.raw},${segment.raw}`, group: segment.group } : segment;
    pending = null;
    if (isPhraseOnly(current.raw)) pending = current;
    else out.push(current);
  }
  return out;
}

function parseMailbox(raw: string): { address: string; name: string | null } | null {
  const angle = lastTopLevelAngle(raw);
  if (angle !== null) {
    const inner = raw.slice(angle.start + 1, angle.end);
    const address = stripRoute(removeComments(inner)).trim();
    if (address === '' || !address.includes('@')) return null;
    return { address, name: phrase(raw.slice(0, angle.start) + raw.slice(angle.end + 1)) };
  }
  // addr-spec alone, possibly with the old `jane@x.com (Jane Doe)` comment form of a name.
  const comment = firstComment(raw);
  const rest = removeComments(raw).trim();
  if (!rest.includes('@')) return null;
  const tokens = splitOutsideQuotes(rest);
  const at = tokens.findIndex((t) => t.includes('@'));
  const address = tokens[at] ?? rest;
  const leading = tokens.filter((_, i) => i !== at).join(' ');
  return { address, name: phrase(leading) ?? (comment !== null ? phrase(comment) : null) };
}

function lastTopLevelAngle(raw: string): { start: number; end: number } | null {
  let quoted = false;
  let depth = 0;
  let found: { start: number; end: number } | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (quoted) {
      if (c === '"') quoted = false;
      continue;
    }
    if (depth > 0) {
      if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '(') depth = 1;
    else if (c === '<') {
      const close = raw.indexOf('>', i + 1);
      found = { start: i, end: close < 0 ? raw.length : close };
      i = close < 0 ? raw.length : close;
    }
  }
  return found;
}

/** Obsolete source route `<@relay.example,@b.example:jane@x.com>` → `jane@x.com`. */
function stripRoute(address: string): string {
  const trimmed = address.trim();
  if (!trimmed.startsWith('@')) return trimmed;
  const colon = trimmed.indexOf(':');
  return colon < 0 ? trimmed : trimmed.slice(colon + 1);
}

/** A display-name phrase: comments dropped, quoted strings unquoted, whitespace collapsed. */
function phrase(text: string): string | null {
  let out = '';
  let quoted = false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '\\' && i + 1 < text.length) {
      out += text[++i];
      continue;
    }
    if (quoted) {
      if (c === '"') quoted = false;
      else out += c;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '(') depth = 1;
    else out += c;
  }
  const collapsed = out.replace(/\s+/g, ' ').trim();
  return collapsed === '' ? null : collapsed;
}

function removeComments(text: string): string {
  let out = '';
  let quoted = false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '\\' && i + 1 < text.length) {
      out += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && c === '(') {
      depth = 1;
      continue;
    }
    out += c;
  }
  return out;
}

function firstComment(text: string): string | null {
  const open = stripQuoted(text).indexOf('(');
  if (open < 0) return null;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

/** Same length as the input with quoted strings blanked, so indexes still line up. */
function stripQuoted(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"?/g, (m) => ' '.repeat(m.length));
}

function stripQuotedAndComments(text: string): string {
  return removeComments(stripQuoted(text));
}

function hasBareAt(text: string): boolean {
  return stripQuotedAndComments(text).includes('@');
}

function splitOutsideQuotes(text: string): string[] {
  const tokens: string[] = [];
  let buf = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      buf += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && /\s/.test(c)) {
      if (buf !== '') tokens.push(buf);
      buf = '';
      continue;
    }
    buf += c;
  }
  if (buf !== '') tokens.push(buf);
  return tokens;
}
