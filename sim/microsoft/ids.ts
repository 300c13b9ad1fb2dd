import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { systemFolderNamed, type Folder } from '../core/mail.ts';

/**
 * Identifier shapes of Microsoft 365. Exchange item ids are base64 of a binary entry id, written with the
 * URL-safe alphabet and `=` padding (`AAMkAD…AAA=`). The default ("regular") REST id of a message depends on
 * the folder holding it, so it changes when the message moves; with `Prefer: IdType="ImmutableId"` the id
 * stays the same for the life of the item. The mail store's own message id is the immutable id; the regular
 * id wraps it together with the folder, which keeps both forms reversible without a lookup table.
 */

/**
 * A folder of the mailbox: the store's folders (system ones and `user:<path>` folders the user made) and the
 * system folders Exchange always has that never hold mail here (Outbox, Conversation History, Sync Issues).
 */
export type GraphFolder = Folder | 'outbox' | 'conversationhistory' | 'syncissues';
export type SystemGraphFolder = Exclude<GraphFolder, `user:${string}`>;

/** Top-level system folders in the order Outlook lists them. */
export const FOLDERS: readonly SystemGraphFolder[] = ['inbox', 'sent', 'drafts', 'spam', 'trash', 'archive', 'outbox', 'conversationhistory', 'syncissues'];

const FOLDER_CODE: Record<SystemGraphFolder, number> = { inbox: 1, sent: 2, drafts: 3, spam: 4, trash: 5, archive: 6, outbox: 8, conversationhistory: 9, syncissues: 10 };
const USER_CODE = 7;
const CODE_FOLDER = new Map<number, SystemGraphFolder>(Object.entries(FOLDER_CODE).map(([k, v]) => [v, k as SystemGraphFolder]));

/** Well-known folder names accepted in paths (case-insensitive), as Graph documents them. */
export const WELL_KNOWN: Record<string, SystemGraphFolder> = {
  inbox: 'inbox',
  sentitems: 'sent',
  deleteditems: 'trash',
  drafts: 'drafts',
  junkemail: 'spam',
  archive: 'archive',
  outbox: 'outbox',
  conversationhistory: 'conversationhistory',
  syncissues: 'syncissues',
};

export const DISPLAY_NAME: Record<SystemGraphFolder, string> = {
  inbox: 'Inbox',
  sent: 'Sent Items',
  drafts: 'Drafts',
  spam: 'Junk Email',
  trash: 'Deleted Items',
  archive: 'Archive',
  outbox: 'Outbox',
  conversationhistory: 'Conversation History',
  syncissues: 'Sync Issues',
};

export const isUserGraphFolder = (f: GraphFolder): f is `user:${string}` => f.startsWith('user:');

/** The display name of a folder (a user folder's last path segment). */
export function displayNameOf(f: GraphFolder): string {
  return isUserGraphFolder(f) ? f.slice(f.lastIndexOf('/') + 1).replace(/^user:/, '') : DISPLAY_NAME[f];
}

/** The folder holding this one; null for a top-level folder (its parent is the root). */
export function parentOf(f: GraphFolder): GraphFolder | null {
  if (!isUserGraphFolder(f)) return null;
  const path = f.slice(5);
  const cut = path.lastIndexOf('/');
  if (cut < 0) return null;
  const parent = path.slice(0, cut);
  return (!parent.includes('/') && systemFolderNamed(parent)) || `user:${parent}`;
}

/** Short key of a user folder, carried in its message ids and folder id. */
function userKey(address: string, f: `user:${string}`): Buffer {
  return createHash('sha256').update(`${address.toLowerCase()}\u0000${f.slice(5)}`).digest();
}

export function b64url(buf: Buffer): string {
  return buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

export function fromB64url(text: string): Buffer | null {
  if (!/^[A-Za-z0-9\-_]+=*$/.test(text)) return null;
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

// 00 03 24 00 is what makes regular message ids start with "AAMkA", as Exchange's do.
const REGULAR_PREFIX = Buffer.from([0x00, 0x03, 0x24, 0x00]);
const FOLDER_PREFIX = Buffer.from([0x00, 0x01, 0x2e, 0x00]);

const USER_KEY_BYTES = 8;

/**
 * A folder as a regular message id names it: the system folder, or `#<hex>` for a user folder. Regular ids are
 * only ever compared with the folder a message is in now, so the short key suffices.
 */
export function folderKey(address: string, folder: GraphFolder): string {
  return isUserGraphFolder(folder) ? `#${userKey(address, folder).subarray(0, USER_KEY_BYTES).toString('hex')}` : folder;
}

export function regularMessageId(immutableId: string, folder: GraphFolder, address = ''): string {
  const code = isUserGraphFolder(folder) ? Buffer.concat([Buffer.from([USER_CODE]), userKey(address, folder).subarray(0, USER_KEY_BYTES)]) : Buffer.from([FOLDER_CODE[folder]]);
  return b64url(Buffer.concat([REGULAR_PREFIX, code, Buffer.from(immutableId, 'utf8')]));
}

/**
 * A message id as a client sends it: either a regular id (naming the folder it was valid in, as `folderKey`
 * writes it) or an immutable id.
 */
export function parseMessageId(id: string): { immutableId: string; folder: string | null } {
  const bytes = fromB64url(id);
  if (bytes && bytes.length > 5 && bytes.subarray(0, 4).equals(REGULAR_PREFIX)) {
    if (bytes[4] === USER_CODE && bytes.length > 5 + USER_KEY_BYTES) {
      return { immutableId: bytes.subarray(5 + USER_KEY_BYTES).toString('utf8'), folder: `#${bytes.subarray(5, 5 + USER_KEY_BYTES).toString('hex')}` };
    }
    const folder = CODE_FOLDER.get(bytes[4]!);
    if (folder) return { immutableId: bytes.subarray(5).toString('utf8'), folder };
  }
  return { immutableId: id, folder: null };
}

export function messageIdFor(immutableId: string, folder: GraphFolder, immutable: boolean, address = ''): string {
  return immutable ? immutableId : regularMessageId(immutableId, folder, address);
}

/**
 * Folder ids are derived by hashing and asked for at every message rendered: computed once per mailbox and folder
 * (a bounded memo; the ids themselves are unchanged).
 */
const folderIds = new Map<string, string>();
const FOLDER_ID_MEMO = 50_000;

/** Folder ids are stable per mailbox (a user folder's per path). */
export function folderId(address: string, folder: GraphFolder): string {
  const key = `${address}\u0000${folder}`;
  let id = folderIds.get(key);
  if (id === undefined) {
    if (folderIds.size >= FOLDER_ID_MEMO) folderIds.clear();
    folderIds.set(key, (id = computeFolderId(address, folder)));
  }
  return id;
}

function computeFolderId(address: string, folder: GraphFolder): string {
  if (isUserGraphFolder(folder)) {
    return b64url(Buffer.concat([FOLDER_PREFIX, Buffer.from([USER_CODE]), userKey(address, folder).subarray(0, 18), Buffer.from([0x00, 0x00])]));
  }
  const digest = createHash('sha256').update(address.toLowerCase()).digest().subarray(0, 18);
  return b64url(Buffer.concat([FOLDER_PREFIX, Buffer.from([FOLDER_CODE[folder]]), digest, Buffer.from([0x00, 0x00])]));
}

export function rootFolderId(address: string): string {
  const digest = createHash('sha256').update(`root:${address.toLowerCase()}`).digest().subarray(0, 18);
  return b64url(Buffer.concat([FOLDER_PREFIX, Buffer.from([0]), digest, Buffer.from([0x00, 0x00])]));
}

/** Resolves `{id|wellKnownName}` of a folder path segment among the system folders and the user's. */
export function resolveFolder(address: string, idOrName: string, userFolders: Iterable<`user:${string}`> = []): GraphFolder | null {
  const named = WELL_KNOWN[idOrName.toLowerCase()];
  if (named) return named;
  for (const f of FOLDERS) if (folderId(address, f) === idOrName) return f;
  for (const f of userFolders) if (folderId(address, f) === idOrName) return f;
  return null;
}

function guidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  // Version 4 / variant bits, so the value parses as a GUID everywhere.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Entra tenant id of a company domain (stable). */
export const tenantIdFor = (domain: string): string => guidFrom(`tenant:${domain.toLowerCase()}`);
/** Entra object id of a user (stable). */
export const userObjectIdFor = (address: string): string => guidFrom(`user:${address.toLowerCase()}`);

export const newGuid = (): string => randomUUID();

/** Opaque secret-looking strings (codes, refresh tokens). */
export const opaque = (bytes = 48): string => b64url(randomBytes(bytes)).replace(/=+$/, '');

/** Exchange change keys and etags: opaque base64 that changes with every modification. */
export function changeKey(immutableId: string, version: number): string {
  return createHash('sha256').update(`${immutableId}:${version}`).digest().subarray(0, 20).toString('base64');
}

/** Teams meeting join URL shape (`https://teams.microsoft.com/l/meetup-join/19%3ameeting_…%40thread.v2/0?context=…`). */
export function teamsJoinUrl(tenantId: string, organizerId: string): string {
  const meeting = b64url(randomBytes(36)).replace(/[-_=]/g, '').slice(0, 44);
  const context = encodeURIComponent(JSON.stringify({ Tid: tenantId, Oid: organizerId }));
  return `https://teams.microsoft.com/l/meetup-join/19%3ameeting_${meeting}%40thread.v2/0?context=${context}`;
}
