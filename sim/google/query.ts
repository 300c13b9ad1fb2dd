import type { Address } from '../core/headers.ts';
import type { StoredMessage } from '../core/mail.ts';
import { labelsOf } from './labels.ts';

/**
 * Gmail search (`q`) as documented in https://support.google.com/mail/answer/7190 and the API guide
 * (https://developers.google.com/gmail/api/guides/filtering): `after:`/`before:` (epoch seconds, or dates
 * read as midnight PST), `newer_than:`/`older_than:`, `from:`/`to:`/`cc:`/`bcc:`, `subject:`, `in:`/`label:`,
 * `is:`, `rfc822msgid:`, `{a b}` OR-groups, `( )` groups, `OR`, `-` negation and free words.
 */

export type Node =
  | { kind: 'and'; items: Node[] }
  | { kind: 'or'; items: Node[] }
  | { kind: 'not'; item: Node }
  | { kind: 'term'; op: string; value: string };

export class QueryError extends Error {}

type Tok = { t: '(' | ')' | '{' | '}' | '-' | 'OR' } | { t: 'word'; v: string };

function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === '{' || c === '}') {
      out.push({ t: c });
      i++;
      continue;
    }
    if (c === '-' && i + 1 < q.length && !/\s/.test(q[i + 1]!)) {
      out.push({ t: '-' });
      i++;
      continue;
    }
    let w = '';
    while (i < q.length && !/[\s(){}]/.test(q[i]!)) {
      if (q[i] === '"') {
        const end = q.indexOf('"', i + 1);
        w += q.slice(i + 1, end < 0 ? q.length : end);
        i = end < 0 ? q.length : end + 1;
        continue;
      }
      w += q[i];
      i++;
    }
    if (w === 'OR' || w === '|') out.push({ t: 'OR' });
    else if (w) out.push({ t: 'word', v: w });
  }
  return out;
}

export function parseQuery(q: string): Node {
  const toks = tokenize(q);
  let pos = 0;
  const peek = () => toks[pos];

  const term = (word: string, op?: string): Node => {
    const colon = word.indexOf(':');
    if (!op && colon > 0) return { kind: 'term', op: word.slice(0, colon).toLowerCase(), value: word.slice(colon + 1) };
    return { kind: 'term', op: op ?? 'text', value: word };
  };

  function unary(op?: string): Node | undefined {
    const t = peek();
    if (!t) return undefined;
    if (t.t === '-') {
      pos++;
      const inner = unary(op);
      if (!inner) throw new QueryError('dangling -');
      return { kind: 'not', item: inner };
    }
    if (t.t === '{') {
      pos++;
      const items: Node[] = [];
      while (peek() && peek()!.t !== '}') {
        if (peek()!.t === 'OR') {
          pos++;
          continue;
        }
        const n = unary(op);
        if (n) items.push(n);
      }
      pos++;
      return { kind: 'or', items };
    }
    if (t.t === '(') {
      pos++;
      const n = orExpr(op, ')');
      pos++;
      return n;
    }
    if (t.t === 'word') {
      pos++;
      const w = t.v;
      // `from:{a b}` / `from:(a OR b)`: the operator applies to each member of the group
      if (/^[a-z_]+:$/i.test(w) && peek() && (peek()!.t === '{' || peek()!.t === '(')) return unary(w.slice(0, -1).toLowerCase());
      return term(w, op);
    }
    return undefined;
  }

  function andExpr(op: string | undefined, close?: string): Node {
    const items: Node[] = [];
    for (;;) {
      const t = peek();
      if (!t || t.t === 'OR' || (close && t.t === close)) break;
      if (t.t === ')' || t.t === '}') {
        pos++;
        continue;
      }
      const n = unary(op);
      if (!n) break;
      items.push(n);
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  }

  function orExpr(op?: string, close?: string): Node {
    const items = [andExpr(op, close)];
    while (peek()?.t === 'OR') {
      pos++;
      items.push(andExpr(op, close));
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }

  const n = orExpr();
  while (pos < toks.length) {
    pos++;
  }
  return n;
}

const PST_OFFSET_MS = 8 * 3600 * 1000;

/** `after:`/`before:` values: epoch seconds, or a date (yyyy/mm/dd, yyyy-mm-dd) read as midnight PST. */
export function parseDateValue(v: string): number {
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const m = /^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$/.exec(v);
  if (!m) throw new QueryError(`Invalid date: ${v}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + PST_OFFSET_MS;
}

function relative(v: string): number {
  const m = /^(\d+)([dmy])$/.exec(v);
  if (!m) throw new QueryError(`Invalid relative date: ${v}`);
  const n = Number(m[1]);
  return n * (m[2] === 'd' ? 86400e3 : m[2] === 'm' ? 30 * 86400e3 : 365 * 86400e3);
}

/**
 * A sync's `q` names dozens of addresses, each matched against every message of the mailbox: the lower-cased forms
 * of a stored message's addresses and of a query's values are computed once, not at every comparison.
 */
const loweredAddresses = new WeakMap<Address, { address: string; name: string | null }>();
const loweredValues = new WeakMap<Node, string>();

function lowerAddress(a: Address): { address: string; name: string | null } {
  let l = loweredAddresses.get(a);
  if (!l) loweredAddresses.set(a, (l = { address: a.address.toLowerCase(), name: a.name ? a.name.toLowerCase() : null }));
  return l;
}

function lowerValue(n: Node & { kind: 'term' }): string {
  let l = loweredValues.get(n);
  if (l === undefined) loweredValues.set(n, (l = n.value.toLowerCase()));
  return l;
}

const dateValues = new WeakMap<Node, number>();

function dateValue(n: Node & { kind: 'term' }): number {
  let d = dateValues.get(n);
  if (d === undefined) dateValues.set(n, (d = parseDateValue(n.value)));
  return d;
}

const addrMatch = (list: readonly Address[], needle: string) => {
  for (const a of list) {
    const l = lowerAddress(a);
    if (l.address.includes(needle) || (l.name !== null && l.name.includes(needle))) return true;
  }
  return false;
};

const LABEL_ALIASES: Record<string, string> = { inbox: 'INBOX', sent: 'SENT', spam: 'SPAM', trash: 'TRASH', draft: 'DRAFT', drafts: 'DRAFT', unread: 'UNREAD', starred: 'STARRED', important: 'IMPORTANT' };

export interface MatchEnv {
  now: number;
  text(m: StoredMessage): string;
}

/** Labels a query names explicitly (so that spam/trash are searched even without includeSpamTrash). */
export function mentionedLabels(n: Node): Set<string> {
  const out = new Set<string>();
  const walk = (x: Node) => {
    if (x.kind === 'term' && (x.op === 'in' || x.op === 'label' || x.op === 'is')) out.add(LABEL_ALIASES[x.value.toLowerCase()] ?? x.value.toUpperCase());
    if (x.kind === 'and' || x.kind === 'or') x.items.forEach(walk);
    if (x.kind === 'not') walk(x.item);
  };
  walk(n);
  return out;
}

export function matches(n: Node, m: StoredMessage, env: MatchEnv): boolean {
  switch (n.kind) {
    case 'and':
      return n.items.every((x) => matches(x, m, env));
    case 'or':
      return n.items.some((x) => matches(x, m, env));
    case 'not':
      return !matches(n.item, m, env);
    case 'term':
      return termMatches(n, m, env);
  }
}

function termMatches(n: Node & { kind: 'term' }, m: StoredMessage, env: MatchEnv): boolean {
  const { op, value } = n;
  const h = m.headers;
  const t = m.internalDate.getTime();
  switch (op) {
    case 'after':
      return t >= dateValue(n);
    case 'before':
      return t < dateValue(n);
    case 'newer_than':
      return t > env.now - relative(value);
    case 'older_than':
      return t < env.now - relative(value);
    case 'from':
      return h.from ? addrMatch([h.from], lowerValue(n)) : false;
    case 'to':
      return addrMatch(h.to, lowerValue(n));
    case 'cc':
      return addrMatch(h.cc, lowerValue(n));
    case 'bcc':
      return addrMatch(h.bcc, lowerValue(n));
    case 'subject':
      return h.subject.toLowerCase().includes(lowerValue(n));
    case 'rfc822msgid':
      return m.messageId.toLowerCase() === (value.startsWith('<') ? value : `<${value}>`).toLowerCase();
    case 'in':
    case 'label':
    case 'is': {
      const v = value.toLowerCase();
      if (v === 'anywhere') return true;
      if (v === 'read') return !labelsOf(m).includes('UNREAD');
      // A user label by its name (Gmail accepts `/` and spaces written as `-`).
      if (op !== 'is' && m.folder.startsWith('user:') && m.folder.slice(5).toLowerCase().replace(/[\s/]/g, '-') === v.replace(/[\s/]/g, '-')) return true;
      return labelsOf(m).includes(LABEL_ALIASES[v] ?? value.toUpperCase());
    }
    case 'text':
      return env.text(m).includes(lowerValue(n));
    default:
      // Unknown operators are searched as words, as Gmail does.
      return env.text(m).includes(`${op}:${value}`.toLowerCase());
  }
}
