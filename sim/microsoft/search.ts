import { badRequest } from './errors.ts';
import { parseHeaders } from './messages.ts';
import type { MsStoredMessage } from './port.ts';

/**
 * `$search` on message collections (https://learn.microsoft.com/graph/search-query-parameter): a KQL subset
 * (https://learn.microsoft.com/graph/search-concept-messages). Property restrictions `participants:`
 * (from, to, cc, bcc), `from:`, `to:`, `cc:`, `bcc:`, `recipients:` (to, cc, bcc) and `subject:` match a
 * substring of an address or display name, case-insensitive; `received` takes `:`, `=`, `>=`, `>`, `<=`, `<`
 * with a date (`yyyy-mm-dd` or `mm/dd/yyyy`, whole UTC days); a bare word matches from and subject. Terms
 * combine with `AND` (or juxtaposition), `OR`, `NOT` and parentheses. The whole value is in double quotes.
 * Results come newest sent first, at most `searchResultCap` (1,000 at Microsoft) in all; `$filter` and
 * `$orderby` are refused with `$search`, as Graph does.
 */

type Node =
  | { kind: 'and' | 'or'; items: Node[] }
  | { kind: 'not'; item: Node }
  | { kind: 'prop'; prop: string; value: string }
  | { kind: 'received'; op: '=' | '>=' | '>' | '<=' | '<'; day: number };

const ADDRESS_PROPS = new Set(['participants', 'from', 'to', 'cc', 'bcc', 'recipients', 'subject']);
const DAY_MS = 86_400_000;

function parseDay(value: string): number {
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value);
  if (m) return Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]));
  throw badRequest(`Invalid date '${value}' in $search.`, 'ErrorInvalidUrlQuery');
}

function tokenize(q: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push(c);
      i++;
      continue;
    }
    let w = '';
    while (i < q.length && !/[\s()]/.test(q[i]!)) w += q[i++];
    out.push(w);
  }
  return out;
}

function term(word: string): Node {
  const cmp = /^received(>=|<=|>|<|=|:)(.+)$/i.exec(word);
  if (cmp) return { kind: 'received', op: cmp[1] === ':' ? '=' : (cmp[1] as '=' | '>=' | '>' | '<=' | '<'), day: parseDay(cmp[2]!) };
  const colon = word.indexOf(':');
  if (colon > 0) {
    const prop = word.slice(0, colon).toLowerCase();
    if (!ADDRESS_PROPS.has(prop)) throw badRequest(`The property '${prop}' is not supported in $search.`, 'ErrorInvalidUrlQuery');
    return { kind: 'prop', prop, value: word.slice(colon + 1).toLowerCase() };
  }
  return { kind: 'prop', prop: 'default', value: word.toLowerCase() };
}

export function parseSearch(raw: string): Node {
  const trimmed = raw.trim();
  if (trimmed.length < 2 || !trimmed.startsWith('"') || !trimmed.endsWith('"')) throw badRequest('The $search value must be enclosed in double quotes.', 'ErrorInvalidUrlQuery');
  const toks = tokenize(trimmed.slice(1, -1));
  let pos = 0;
  const unary = (): Node => {
    const t = toks[pos];
    if (t === undefined || t === ')') throw badRequest('Syntax error in $search.', 'ErrorInvalidUrlQuery');
    pos++;
    if (t === 'NOT') return { kind: 'not', item: unary() };
    if (t === '(') {
      const inner = orExpr();
      if (toks[pos] !== ')') throw badRequest('Unbalanced parentheses in $search.', 'ErrorInvalidUrlQuery');
      pos++;
      return inner;
    }
    return term(t);
  };
  const andExpr = (): Node => {
    const items = [unary()];
    while (pos < toks.length && toks[pos] !== ')' && toks[pos] !== 'OR') {
      if (toks[pos] === 'AND') pos++;
      items.push(unary());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  };
  function orExpr(): Node {
    const items = [andExpr()];
    while (toks[pos] === 'OR') {
      pos++;
      items.push(andExpr());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }
  const node = orExpr();
  if (pos !== toks.length) throw badRequest('Syntax error in $search.', 'ErrorInvalidUrlQuery');
  return node;
}

interface Searchable {
  received: number;
  sent: number;
  from: Array<{ address: string; name: string }>;
  to: Array<{ address: string; name: string }>;
  cc: Array<{ address: string; name: string }>;
  bcc: Array<{ address: string; name: string }>;
  subject: string;
}

async function searchable(m: MsStoredMessage): Promise<Searchable> {
  const norm = (list: Array<{ address?: string; name?: string }> | undefined) => (list ?? []).map((a) => ({ address: (a.address ?? '').toLowerCase(), name: (a.name ?? '').toLowerCase() }));
  if (m.headers) {
    const h = m.headers;
    return { received: m.internalDate.getTime(), sent: h.date?.getTime() ?? m.internalDate.getTime(), from: norm(h.from ? [h.from] : []), to: norm(h.to), cc: norm(h.cc), bcc: norm(h.bcc), subject: h.subject.toLowerCase() };
  }
  const e = await parseHeaders(m);
  const sent = e.date ? Date.parse(e.date) : NaN;
  return {
    received: m.internalDate.getTime(),
    sent: Number.isNaN(sent) ? m.internalDate.getTime() : sent,
    from: norm(e.from ? [e.from as { address?: string; name?: string }] : []),
    to: norm(e.to as Array<{ address?: string; name?: string }> | undefined),
    cc: norm(e.cc as Array<{ address?: string; name?: string }> | undefined),
    bcc: norm(e.bcc as Array<{ address?: string; name?: string }> | undefined),
    subject: (e.subject ?? '').toLowerCase(),
  };
}

function matches(node: Node, s: Searchable): boolean {
  switch (node.kind) {
    case 'and':
      return node.items.every((n) => matches(n, s));
    case 'or':
      return node.items.some((n) => matches(n, s));
    case 'not':
      return !matches(node.item, s);
    case 'received': {
      const day = Math.floor(s.received / DAY_MS) * DAY_MS;
      switch (node.op) {
        case '=':
          return day === node.day;
        case '>=':
          return day >= node.day;
        case '>':
          return day > node.day;
        case '<=':
          return day <= node.day;
        case '<':
          return day < node.day;
      }
      return false;
    }
    case 'prop': {
      const has = (list: Array<{ address: string; name: string }>) => list.some((a) => a.address.includes(node.value) || a.name.includes(node.value));
      switch (node.prop) {
        case 'participants':
          return has(s.from) || has(s.to) || has(s.cc) || has(s.bcc);
        case 'recipients':
          return has(s.to) || has(s.cc) || has(s.bcc);
        case 'from':
          return has(s.from);
        case 'to':
          return has(s.to);
        case 'cc':
          return has(s.cc);
        case 'bcc':
          return has(s.bcc);
        case 'subject':
          return s.subject.includes(node.value);
        default:
          return has(s.from) || s.subject.includes(node.value);
      }
    }
  }
}

/** The messages a `$search` finds, newest sent first, capped as Graph caps a search. */
export async function searchMessages(messages: MsStoredMessage[], raw: string, cap: number): Promise<MsStoredMessage[]> {
  const node = parseSearch(raw);
  const found: Array<{ m: MsStoredMessage; sent: number }> = [];
  for (const m of messages) {
    const s = await searchable(m);
    if (matches(node, s)) found.push({ m, sent: s.sent });
  }
  found.sort((a, b) => b.sent - a.sent || (a.m.id < b.m.id ? -1 : 1));
  return found.slice(0, cap).map((f) => f.m);
}
