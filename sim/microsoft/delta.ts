import { createHmac, timingSafeEqual } from 'node:crypto';
import { GraphError } from './errors.ts';
import { b64url, fromB64url, messageIdFor, type GraphFolder } from './ids.ts';
import type { MsCorePort, MsStoredMessage } from './port.ts';

/**
 * `messages/delta` of one folder. A round starts either from nothing (the initial round: every message in the
 * folder as of the change-log position S, newest first, optionally `receivedDateTime ge|gt X` capped at
 * 5,000) or from a `$deltatoken` holding a position S (the changes after S, one entry per message: the
 * message as it is now, or `@removed`). `$skiptoken`s continue a round. Tokens are opaque to clients: they
 * encode the position, the query options of the round and the time they were issued, and carry a MAC.
 */

export interface DeltaToken {
  v: 1;
  /** mailbox */
  a: string;
  /** folder */
  f: GraphFolder;
  /** phase: initial enumeration or changes */
  ph: 'i' | 'c';
  /** initial: snapshot position; changes: the position the round starts after */
  s: number;
  /** changes: the position the round ends at (fixed once a round has begun) */
  u?: number;
  /** initial: the last (receivedMs, id) returned; changes: how many entries were returned */
  k?: [number, string] | number;
  /** issued at (sim clock, ms) */
  t: number;
  sel: string | null;
  flt: { op: 'ge' | 'gt'; at: number } | null;
  ps: number | null;
  ct: 'created' | 'updated' | 'deleted' | null;
}

export function encodeToken(t: DeltaToken, key: Buffer): string {
  const payload = b64url(Buffer.from(JSON.stringify(t))).replace(/=+$/, '');
  const mac = b64url(createHmac('sha256', key).update(payload).digest().subarray(0, 12));
  return `${payload}.${mac}`;
}

export function decodeToken(text: string, key: Buffer): DeltaToken | null {
  const [payload, mac] = text.split('.');
  if (!payload || !mac) return null;
  const expected = b64url(createHmac('sha256', key).update(payload).digest().subarray(0, 12));
  if (mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) return null;
  try {
    const bytes = fromB64url(payload);
    if (!bytes) return null;
    const t = JSON.parse(bytes.toString('utf8')) as DeltaToken;
    return t.v === 1 ? t : null;
  } catch {
    return null;
  }
}

export const syncStateNotFound = () =>
  new GraphError(410, 'SyncStateNotFound', 'The sync state generation is not found or has expired. Restart the synchronization with an initial request (without a state token).');

/** `receivedDateTime ge 2024-01-01T00:00:00Z` — the only filter message delta supports. */
export function parseDeltaFilter(filter: string | undefined): DeltaToken['flt'] {
  if (filter === undefined || filter.trim() === '') return null;
  const m = /^\s*receivedDateTime\s+(ge|gt)\s+'?([0-9T:\-.+Z]+)'?\s*$/i.exec(filter);
  const at = m ? Date.parse(m[2]!) : NaN;
  if (!m || Number.isNaN(at)) {
    throw new GraphError(400, 'ErrorInvalidUrlQueryFilter', "The query filter contains one or more invalid nodes. Delta of messages supports only 'receivedDateTime ge|gt {value}'.");
  }
  return { op: m[1]!.toLowerCase() as 'ge' | 'gt', at };
}

/**
 * `$filter` of a message list: receivedDateTime comparisons joined by `and` (what the product and most clients
 * page by). Graph accepts far more; anything else is refused here rather than silently ignored.
 */
export function parseListFilter(filter: string | null): (receivedMs: number) => boolean {
  if (filter === null || filter.trim() === '') return () => true;
  const tests = filter.split(/\s+and\s+/i).map((clause) => {
    const m = /^\s*receivedDateTime\s+(ge|gt|le|lt|eq)\s+'?([0-9T:\-.+Z]+)'?\s*$/i.exec(clause);
    const at = m ? Date.parse(m[2]!) : NaN;
    if (!m || Number.isNaN(at)) throw new GraphError(400, 'ErrorInvalidUrlQueryFilter', 'The query filter contains one or more invalid nodes.');
    const op = m[1]!.toLowerCase();
    return (t: number) => (op === 'ge' ? t >= at : op === 'gt' ? t > at : op === 'le' ? t <= at : op === 'lt' ? t < at : t === at);
  });
  return (t) => tests.every((test) => test(t));
}

export type DeltaEntry =
  | { kind: 'item'; message: MsStoredMessage; folder: GraphFolder }
  | { kind: 'removed'; id: string; reason: 'deleted' | 'changed' };

export interface DeltaPage {
  entries: DeltaEntry[];
  next: DeltaToken | null;
  delta: DeltaToken | null;
}

interface SnapshotEntry {
  at: number;
  id: string;
}

/** Sorted initial-round snapshots, reused across the pages of a round (per simulator: positions repeat across them). */
const snapshotCaches = new WeakMap<MsCorePort, Map<string, SnapshotEntry[]>>();

function snapshot(core: MsCorePort, t: DeltaToken, cap: number): SnapshotEntry[] {
  let snapshotCache = snapshotCaches.get(core);
  if (!snapshotCache) snapshotCaches.set(core, (snapshotCache = new Map()));
  const key = `${t.a}|${t.f}|${t.s}|${t.flt ? `${t.flt.op}${t.flt.at}` : ''}|${cap}`;
  const hit = snapshotCache.get(key);
  if (hit) return hit;
  const list: SnapshotEntry[] = [];
  for (const m of core.messages(t.a)) {
    if (m.deleted || m.folder !== t.f || m.lastSeq > t.s) continue;
    const at = m.internalDate.getTime();
    if (t.flt && (t.flt.op === 'ge' ? at < t.flt.at : at <= t.flt.at)) continue;
    list.push({ at, id: m.id });
  }
  list.sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0));
  const capped = t.flt ? list.slice(0, cap) : list;
  snapshotCache.set(key, capped);
  if (snapshotCache.size > 16) snapshotCache.delete(snapshotCache.keys().next().value!);
  return capped;
}

function after(e: SnapshotEntry, k: [number, string]): boolean {
  return e.at < k[0] || (e.at === k[0] && e.id < k[1]);
}

export function deltaPage(core: MsCorePort, t: DeltaToken, pageSize: number, cap: number, now: Date): DeltaPage {
  const base = { ...t, t: now.getTime() };
  if (t.ph === 'i') {
    const snap = snapshot(core, t, cap);
    const k = Array.isArray(t.k) ? t.k : null;
    let start = 0;
    if (k) {
      // Binary search for the first entry after the cursor (the list is sorted newest first).
      let lo = 0;
      let hi = snap.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (after(snap[mid]!, k)) hi = mid;
        else lo = mid + 1;
      }
      start = lo;
    }
    const slice = snap.slice(start, start + pageSize);
    const entries: DeltaEntry[] = [];
    for (const e of slice) {
      const m = core.message(t.a, e.id);
      // Gone since the snapshot: the next round reports it as removed.
      if (m && !m.deleted && m.folder === t.f) entries.push({ kind: 'item', message: m, folder: t.f });
    }
    const last = slice[slice.length - 1];
    if (start + pageSize < snap.length && last) return { entries, next: { ...base, k: [last.at, last.id] }, delta: null };
    return { entries, next: null, delta: { ...base, ph: 'c', s: t.s, k: undefined, u: undefined, flt: null } };
  }

  const upto = t.u ?? core.currentSeq(t.a);
  const offset = typeof t.k === 'number' ? t.k : 0;
  const changes = core.changes(t.a, t.s, upto);
  // Net effect per message across the range: was it in the folder before, is it in it at the end?
  const first = new Map<string, GraphFolder | null>();
  const lastFolder = new Map<string, GraphFolder | null>();
  const order = new Map<string, number>();
  for (const c of changes) {
    if (!first.has(c.id)) first.set(c.id, c.previousFolder);
    lastFolder.set(c.id, c.folder);
    order.delete(c.id);
    order.set(c.id, c.seq);
  }
  const all: DeltaEntry[] = [];
  for (const id of order.keys()) {
    const wasIn = first.get(id) === t.f;
    const endFolder = lastFolder.get(id) ?? null;
    const isIn = endFolder === t.f;
    if (isIn) {
      if (t.ct === 'deleted' || (t.ct === 'created' && wasIn) || (t.ct === 'updated' && !wasIn)) continue;
      const m = core.message(t.a, id);
      if (m && !m.deleted) all.push({ kind: 'item', message: m, folder: t.f });
    } else if (wasIn) {
      if (t.ct === 'created' || t.ct === 'updated') continue;
      // Moved to another folder or deleted: Graph says `deleted` for both; only a look at the message tells them apart.
      all.push({ kind: 'removed', id, reason: 'deleted' });
    }
  }
  const entries = all.slice(offset, offset + pageSize);
  if (offset + pageSize < all.length) return { entries, next: { ...base, u: upto, k: offset + pageSize }, delta: null };
  return { entries, next: null, delta: { ...base, s: upto, u: undefined, k: undefined } };
}

export function removedJson(e: { id: string; reason: 'deleted' | 'changed' }, folder: GraphFolder, immutable: boolean, address: string) {
  return { '@odata.type': '#microsoft.graph.message', id: messageIdFor(e.id, folder, immutable, address), '@removed': { reason: e.reason } };
}
