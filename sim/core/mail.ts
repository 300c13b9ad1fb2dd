import { createHash, randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { SimClock } from './clock.ts';
import { parseHeaders, type ParsedHeaders } from './headers.ts';

/**
 * The provider-neutral mailbox store. Gmail messages/history and Graph messages/delta are both views of it:
 * messages live in one folder each, and every change lands in an append-only log with a monotonic sequence
 * number per mailbox (Gmail's historyId, Graph's delta position).
 */

export type Provider = 'google' | 'microsoft';
/**
 * `archive` is Outlook's Archive folder and Gmail's "archived" (no INBOX label); `user:<path>` is a folder the user
 * made (Outlook; `/` separates sub-folders, a first segment naming a system folder such as `Inbox/Hiring` files it
 * below that folder) or a user label (Gmail).
 */
export type SystemFolder = 'inbox' | 'sent' | 'spam' | 'drafts' | 'trash' | 'archive';
export type Folder = SystemFolder | `user:${string}`;
export const FOLDERS: readonly SystemFolder[] = ['inbox', 'sent', 'spam', 'drafts', 'trash', 'archive'];

export const isUserFolder = (f: Folder): f is `user:${string}` => f.startsWith('user:');

/** `"archive"`, `"Projects/Hiring"`, `"user:Projects/Hiring"` → a Folder; null for an empty path. */
export function parseFolder(text: string): Folder | null {
  const t = text.trim();
  if ((FOLDERS as readonly string[]).includes(t)) return t as SystemFolder;
  const path = (t.startsWith('user:') ? t.slice(5) : t).split('/').map((s) => s.trim()).filter(Boolean).join('/');
  if (!path) return null;
  return (!path.includes('/') && systemFolderNamed(path)) || `user:${path}`;
}

export interface Mailbox {
  provider: Provider;
  address: string;
  aliases: string[];
  /** null: the consent page asks for no password. */
  password: string | null;
  domain: string;
  displayName: string;
}

export interface StoredMessage {
  /** Provider-styled: Gmail 16 hex digits; Graph a long URL-safe base64 (immutable id). */
  id: string;
  /** Gmail threadId (the id of the thread's first message) or Graph conversationId. */
  threadId: string;
  /** RFC 5322 Message-ID with angle brackets. */
  messageId: string;
  raw: Buffer;
  internalDate: Date;
  folder: Folder;
  /** The folder a trashed message came from (Gmail keeps SENT on a trashed sent message). */
  previousFolder: Folder | null;
  /** Permanently deleted: kept only so that change consumers can name it. */
  deleted: boolean;
  headers: ParsedHeaders;
  sizeEstimate: number;
  /** Sequence number of the last change to this message. */
  lastSeq: number;
  lastModified: Date;
  /** Extra provider labels set at delivery (e.g. Gmail UNREAD). */
  flags: { unread: boolean };
}

export type ChangeKind = 'added' | 'moved' | 'deleted';

export interface Change {
  seq: number;
  kind: ChangeKind;
  id: string;
  threadId: string;
  /** Folder after the change; null once permanently deleted. */
  folder: Folder | null;
  /** Folder before the change; null when the change added the message. */
  previousFolder: Folder | null;
  /** Sim clock time of the change (history retention reads it). */
  at: Date;
}

/** The body of `POST /_sim/mailboxes/{address}/messages`. */
export interface DeliverInput {
  raw?: string | Buffer;
  from?: string;
  to?: string | string[];
  cc?: string | string[];
  bcc?: string | string[];
  subject?: string;
  text?: string;
  html?: string;
  date?: string | Date;
  folder?: Exclude<Folder, 'trash'> | Folder;
  inReplyTo?: string;
  references?: string | string[];
  threadKey?: string;
}

export interface RawDeliverInput {
  raw: Buffer;
  folder?: Folder;
  date?: Date;
  threadKey?: string;
  inReplyTo?: string;
  /** Start a new thread whatever the headers say (Gmail send without a matching threadId). */
  newThread?: boolean;
}

export interface DeliveredIds {
  id: string;
  threadId: string;
  messageId: string;
}

/** What was sent through a mailbox's API (`GET /_sim/mailboxes/{address}/sent`). */
export interface SentRecord {
  id: string;
  threadId: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  text: string | null;
  html: string | null;
  sentAt: Date;
}

export class MailError extends Error {
  constructor(
    readonly code: 'mailbox_not_found' | 'mailbox_exists' | 'message_not_found' | 'invalid_message',
    message: string,
  ) {
    super(message);
  }
}

interface MailboxData {
  box: Mailbox;
  messages: Map<string, StoredMessage>;
  byMessageId: Map<string, string>;
  threadKeys: Map<string, string>;
  threads: Map<string, string[]>;
  changes: Change[];
  seq: number;
  sorted: StoredMessage[] | null;
  sent: SentRecord[];
  counter: number;
  /** Folders the user made (paths), in creation order; a path's ancestors come first. */
  userFolders: string[];
}

const norm = (address: string) => address.trim().toLowerCase();

export type ChangeListener = (address: string, change: Change, message: StoredMessage) => void;

export class MailStore {
  private readonly boxes = new Map<string, MailboxData>();
  private readonly listeners: ChangeListener[] = [];

  constructor(private readonly clock: SimClock) {}

  createMailbox(input: { provider: Provider; address: string; aliases?: string[]; password?: string | null; displayName?: string }): Mailbox {
    const key = norm(input.address);
    if (this.boxes.has(key)) throw new MailError('mailbox_exists', `mailbox ${input.address} exists`);
    const address = input.address.trim();
    const local = address.slice(0, address.indexOf('@'));
    const box: Mailbox = {
      provider: input.provider,
      address,
      aliases: input.aliases ?? [],
      password: input.password ?? null,
      domain: address.slice(address.lastIndexOf('@') + 1).toLowerCase(),
      displayName: input.displayName ?? local.split(/[._-]/).filter(Boolean).map((p) => p[0]!.toUpperCase() + p.slice(1)).join(' '),
    };
    // Sequence numbers start above zero so that "0" is never a valid cursor.
    this.boxes.set(key, { box, messages: new Map(), byMessageId: new Map(), threadKeys: new Map(), threads: new Map(), changes: [], seq: 1000, sorted: null, sent: [], counter: 0, userFolders: [] });
    return box;
  }

  mailbox(address: string): Mailbox | undefined {
    return this.boxes.get(norm(address))?.box;
  }

  /** A mailbox by its address or one of its aliases. */
  findMailbox(address: string): Mailbox | undefined {
    const direct = this.mailbox(address);
    if (direct) return direct;
    const a = norm(address);
    for (const d of this.boxes.values()) if (d.box.aliases.some((x) => norm(x) === a)) return d.box;
    return undefined;
  }

  mailboxes(): Mailbox[] {
    return [...this.boxes.values()].map((d) => d.box);
  }

  private data(address: string): MailboxData {
    const d = this.boxes.get(norm(address));
    if (!d) throw new MailError('mailbox_not_found', `no mailbox ${address}`);
    return d;
  }

  onChange(fn: ChangeListener): void {
    this.listeners.push(fn);
  }

  /** Delivers a control-API message: raw base64 or fields composed into MIME. */
  async deliver(address: string, input: DeliverInput): Promise<DeliveredIds> {
    return this.deliverRaw(address, await this.toRaw(address, input));
  }

  /** Bulk delivery without per-message overhead beyond parsing; listeners fire per message. */
  async deliverMany(address: string, inputs: readonly DeliverInput[]): Promise<DeliveredIds[]> {
    const out: DeliveredIds[] = [];
    for (const input of inputs) {
      const raw = input.raw !== undefined && !input.from && !input.subject ? this.rawInput(input) : await this.toRaw(address, input);
      out.push(this.deliverRaw(address, raw));
    }
    return out;
  }

  private rawInput(input: DeliverInput): RawDeliverInput {
    const raw = typeof input.raw === 'string' ? Buffer.from(input.raw, 'base64') : input.raw!;
    return {
      raw,
      ...(input.folder ? { folder: input.folder } : {}),
      ...(input.date !== undefined ? { date: new Date(input.date) } : {}),
      ...(input.threadKey !== undefined ? { threadKey: input.threadKey } : {}),
      ...(input.inReplyTo !== undefined ? { inReplyTo: input.inReplyTo } : {}),
    };
  }

  private async toRaw(address: string, input: DeliverInput): Promise<RawDeliverInput> {
    if (input.raw !== undefined) return this.rawInput(input);
    const box = this.data(address).box;
    const folder = input.folder ?? 'inbox';
    const date = input.date !== undefined ? new Date(input.date) : this.clock.now();
    const own = `"${box.displayName}" <${box.address}>`;
    const references = input.references ?? (input.inReplyTo ? [this.resolveMessageId(address, input.inReplyTo) ?? input.inReplyTo] : undefined);
    const inReplyTo = input.inReplyTo ? (this.resolveMessageId(address, input.inReplyTo) ?? input.inReplyTo) : undefined;
    const composer = new MailComposer({
      from: input.from ?? (folder === 'sent' || folder === 'drafts' ? own : undefined),
      to: input.to ?? (folder === 'sent' || folder === 'drafts' ? undefined : own),
      cc: input.cc,
      bcc: input.bcc,
      subject: input.subject ?? '',
      text: input.text ?? (input.html === undefined ? '' : undefined),
      html: input.html,
      date,
      messageId: `<${randomBytes(12).toString('hex')}@${input.from ? domainOfHeader(input.from) : box.domain}>`,
      ...(inReplyTo ? { inReplyTo } : {}),
      ...(references ? { references } : {}),
    });
    const node = composer.compile();
    node.keepBcc = true;
    const raw = await node.build();
    return { raw, folder, date, ...(input.threadKey !== undefined ? { threadKey: input.threadKey } : {}), ...(inReplyTo ? { inReplyTo } : {}) };
  }

  /** An `inReplyTo` may name a Message-ID or a provider id of the mailbox; returns the Message-ID. */
  private resolveMessageId(address: string, ref: string): string | undefined {
    const d = this.data(address);
    const m = d.messages.get(ref);
    if (m) return m.messageId;
    const bracketed = ref.startsWith('<') ? ref : `<${ref}>`;
    return d.byMessageId.has(bracketed) ? bracketed : undefined;
  }

  /** Synchronous delivery of RFC 5322 bytes: parses headers once, threads, logs an `added` change. */
  deliverRaw(address: string, input: RawDeliverInput): DeliveredIds {
    const d = this.data(address);
    let raw = input.raw;
    let headers = parseHeaders(raw);
    if (!headers.messageId) {
      const mid = `<${randomBytes(12).toString('hex')}@${d.box.domain}>`;
      raw = Buffer.concat([Buffer.from(`Message-ID: ${mid}\r\n`), raw]);
      headers = parseHeaders(raw);
    }
    const folder = input.folder ?? 'inbox';
    this.ensureFolder(d, folder);
    const internalDate = input.date ?? headers.date ?? this.clock.now();
    const id = this.newId(d, internalDate);
    const threadId = this.threadFor(d, id, input, headers);
    const now = this.clock.now();
    const message: StoredMessage = {
      id,
      threadId,
      messageId: headers.messageId!,
      raw,
      internalDate,
      folder,
      previousFolder: null,
      deleted: false,
      headers,
      sizeEstimate: raw.length,
      lastSeq: 0,
      lastModified: now,
      flags: { unread: folder === 'inbox' || folder === 'spam' },
    };
    d.messages.set(id, message);
    if (!d.byMessageId.has(message.messageId)) d.byMessageId.set(message.messageId, id);
    const thread = d.threads.get(threadId);
    if (thread) thread.push(id);
    else d.threads.set(threadId, [id]);
    if (input.threadKey !== undefined && !d.threadKeys.has(input.threadKey)) d.threadKeys.set(input.threadKey, threadId);
    d.sorted = null;
    this.log(d, message, 'added', folder, null);
    return { id, threadId, messageId: message.messageId };
  }

  private newId(d: MailboxData, date: Date): string {
    if (d.box.provider === 'google') {
      // Gmail ids grow with the receive time: milliseconds in the high bits, a counter in the low ones.
      for (;;) {
        const value = ((BigInt(Math.max(0, date.getTime())) << 20n) | BigInt(d.counter++ & 0xfffff)) & 0xffffffffffffffffn;
        const id = value.toString(16).padStart(16, '0');
        if (!d.messages.has(id)) return id;
      }
    }
    const body = Buffer.concat([
      Buffer.from([0x00, 0x00, 0x09, 0x00, 0x2e, 0x00, 0x00, 0x00]),
      createHash('sha256').update(d.box.address.toLowerCase()).digest().subarray(0, 22),
      Buffer.from([0x07, 0x00]),
      randomBytes(30),
    ]);
    d.counter++;
    return 'AAkALg' + body.toString('base64url').slice(6);
  }

  private newThreadId(d: MailboxData, firstId: string): string {
    if (d.box.provider === 'google') return firstId;
    const body = Buffer.concat([Buffer.from([0x00, 0x00, 0x04, 0x24, 0x00, 0x00]), createHash('sha256').update(d.box.address.toLowerCase()).digest().subarray(0, 10), randomBytes(16)]);
    return body.toString('base64url').replace(/^.{6}/, 'AAQkAD') + '=';
  }

  private threadFor(d: MailboxData, id: string, input: RawDeliverInput, headers: ParsedHeaders): string {
    if (input.newThread) return this.newThreadId(d, id);
    if (input.threadKey !== undefined) {
      const known = d.threadKeys.get(input.threadKey);
      if (known) return known;
      if (d.threads.has(input.threadKey)) return input.threadKey;
      return this.newThreadId(d, id);
    }
    const refs = [input.inReplyTo, headers.inReplyTo].filter((r): r is string => !!r);
    for (const ref of refs) {
      const byId = d.messages.get(ref);
      if (byId) return byId.threadId;
      const mid = d.byMessageId.get(ref.startsWith('<') ? ref : `<${ref}>`);
      if (mid) return d.messages.get(mid)!.threadId;
    }
    return this.newThreadId(d, id);
  }

  private log(d: MailboxData, message: StoredMessage, kind: ChangeKind, folder: Folder | null, previousFolder: Folder | null): Change {
    const change: Change = { seq: ++d.seq, kind, id: message.id, threadId: message.threadId, folder, previousFolder, at: this.clock.now() };
    d.changes.push(change);
    message.lastSeq = change.seq;
    message.lastModified = change.at;
    for (const fn of this.listeners) fn(d.box.address, change, message);
    return change;
  }

  /** Moves a message to another folder (the user files it, or deletes it to the trash). */
  move(address: string, id: string, folder: Folder): StoredMessage {
    const d = this.data(address);
    const m = d.messages.get(id);
    if (!m || m.deleted) throw new MailError('message_not_found', `no message ${id}`);
    if (m.folder === folder) return m;
    this.ensureFolder(d, folder);
    const previous = m.folder;
    m.previousFolder = folder === 'trash' ? previous : null;
    m.folder = folder;
    d.sorted = null;
    this.log(d, m, 'moved', folder, previous);
    return m;
  }

  /** Folders the user made, as `user:<path>`, parents before children. */
  userFolders(address: string): Array<`user:${string}`> {
    return this.data(address).userFolders.map((p) => `user:${p}` as const);
  }

  /** The user makes a folder (and any missing parent). */
  createFolder(address: string, folder: `user:${string}`): void {
    this.ensureFolder(this.data(address), folder);
  }

  private ensureFolder(d: MailboxData, folder: Folder): void {
    if (!isUserFolder(folder)) return;
    const parts = folder.slice(5).split('/');
    for (let i = 1; i <= parts.length; i++) {
      const path = parts.slice(0, i).join('/');
      // A first segment naming a system folder ("Inbox/Hiring") is that folder, not one of the user's.
      if (i === 1 && parts.length > 1 && systemFolderNamed(path)) continue;
      if (!d.userFolders.includes(path)) d.userFolders.push(path);
    }
  }

  /** The user deletes in the mail client: to the trash. */
  trash(address: string, id: string): StoredMessage {
    return this.move(address, id, 'trash');
  }

  /** The user empties the message from the trash (or shift-deletes it). */
  deletePermanently(address: string, id: string): StoredMessage {
    const d = this.data(address);
    const m = d.messages.get(id);
    if (!m || m.deleted) throw new MailError('message_not_found', `no message ${id}`);
    const previous = m.folder;
    m.deleted = true;
    m.raw = Buffer.alloc(0);
    d.sorted = null;
    const thread = d.threads.get(m.threadId);
    if (thread) d.threads.set(m.threadId, thread.filter((x) => x !== id));
    if (d.byMessageId.get(m.messageId) === id) d.byMessageId.delete(m.messageId);
    this.log(d, m, 'deleted', null, previous);
    return m;
  }

  /** A live (not permanently deleted) message. */
  message(address: string, id: string): StoredMessage | undefined {
    const m = this.boxes.get(norm(address))?.messages.get(id);
    return m && !m.deleted ? m : undefined;
  }

  /** A message even after permanent deletion (change consumers name deleted messages). */
  messageAny(address: string, id: string): StoredMessage | undefined {
    return this.boxes.get(norm(address))?.messages.get(id);
  }

  /** A message id of the mailbox by RFC Message-ID. */
  byMessageId(address: string, messageId: string): StoredMessage | undefined {
    const d = this.boxes.get(norm(address));
    const id = d?.byMessageId.get(messageId.startsWith('<') ? messageId : `<${messageId}>`);
    return id ? this.message(address, id) : undefined;
  }

  /** Live messages, newest first by internal date (the order Gmail lists in). */
  messages(address: string): readonly StoredMessage[] {
    const d = this.data(address);
    if (!d.sorted) {
      d.sorted = [...d.messages.values()].filter((m) => !m.deleted).sort((a, b) => b.internalDate.getTime() - a.internalDate.getTime() || (a.id < b.id ? 1 : -1));
    }
    return d.sorted;
  }

  /** Live messages of a thread in delivery order. */
  thread(address: string, threadId: string): StoredMessage[] {
    const d = this.data(address);
    return (d.threads.get(threadId) ?? []).map((id) => d.messages.get(id)!).filter((m) => !m.deleted);
  }

  threadCount(address: string): number {
    const d = this.data(address);
    let n = 0;
    for (const ids of d.threads.values()) if (ids.some((id) => !d.messages.get(id)!.deleted)) n++;
    return n;
  }

  /** The sequence number of the latest change (Gmail's current historyId). */
  currentSeq(address: string): number {
    return this.data(address).seq;
  }

  /** Changes with afterSeq < seq ≤ uptoSeq (default: all), oldest first. */
  changes(address: string, afterSeq: number, uptoSeq = Number.POSITIVE_INFINITY): Change[] {
    const list = this.data(address).changes;
    // Binary search: seqs are dense and ascending.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    const out: Change[] = [];
    for (let i = lo; i < list.length && list[i]!.seq <= uptoSeq; i++) out.push(list[i]!);
    return out;
  }

  /** The newest change older than `before` (retention boundary), or 0 when none expired. */
  lastSeqBefore(address: string, before: Date): number {
    const list = this.data(address).changes;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.at.getTime() < before.getTime()) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : list[lo - 1]!.seq;
  }

  recordSent(address: string, record: SentRecord): void {
    this.data(address).sent.push(record);
  }

  sent(address: string): SentRecord[] {
    return [...this.data(address).sent].sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime());
  }
}

const SYSTEM_NAMES: Record<string, SystemFolder> = {
  inbox: 'inbox', sent: 'sent', 'sent items': 'sent', junk: 'spam', 'junk email': 'spam', spam: 'spam', drafts: 'drafts',
  trash: 'trash', 'deleted items': 'trash', archive: 'archive',
};

/** The system folder a path segment names (`Inbox`, `Deleted Items`, …), if any. */
export function systemFolderNamed(segment: string): SystemFolder | undefined {
  return SYSTEM_NAMES[segment.trim().toLowerCase()];
}

function domainOfHeader(from: string): string {
  const m = /@([^>\s,]+)/.exec(from);
  return m ? m[1]!.toLowerCase() : 'sim.local';
}
