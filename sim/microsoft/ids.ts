import { createHash, randomBytes, randomUUID } from 'node:crypto';

/**
 * Identifier shapes of Microsoft 365. Exchange item ids are base64 of a binary entry id, written with the
 * URL-safe alphabet and `=` padding (`AAMkAD…AAA=`). The default ("regular") REST id of a message depends on
 * the folder holding it, so it changes when the message moves; with `Prefer: IdType="ImmutableId"` the id
 * stays the same for the life of the item. The mail store's own message id is the immutable id; the regular
 * id wraps it together with the folder, which keeps both forms reversible without a lookup table.
 */

export type GraphFolder = 'inbox' | 'sent' | 'spam' | 'drafts' | 'trash';

export const FOLDERS: readonly GraphFolder[] = ['inbox', 'sent', 'drafts', 'spam', 'trash'];

const FOLDER_CODE: Record<GraphFolder, number> = { inbox: 1, sent: 2, drafts: 3, spam: 4, trash: 5 };
const CODE_FOLDER = new Map<number, GraphFolder>(Object.entries(FOLDER_CODE).map(([k, v]) => [v, k as GraphFolder]));

/** Well-known folder names accepted in paths (case-insensitive), as Graph documents them. */
export const WELL_KNOWN: Record<string, GraphFolder> = {
  inbox: 'inbox',
  sentitems: 'sent',
  deleteditems: 'trash',
  drafts: 'drafts',
  junkemail: 'spam',
};

export const DISPLAY_NAME: Record<GraphFolder, string> = {
  inbox: 'Inbox',
  sent: 'Sent Items',
  drafts: 'Drafts',
  spam: 'Junk Email',
  trash: 'Deleted Items',
};

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

export function regularMessageId(immutableId: string, folder: GraphFolder): string {
  return b64url(Buffer.concat([REGULAR_PREFIX, Buffer.from([FOLDER_CODE[folder]]), Buffer.from(immutableId, 'utf8')]));
}

/** A message id as a client sends it: either a regular id (naming the folder it was valid in) or an immutable id. */
export function parseMessageId(id: string): { immutableId: string; folder: GraphFolder | null } {
  const bytes = fromB64url(id);
  if (bytes && bytes.length > 5 && bytes.subarray(0, 4).equals(REGULAR_PREFIX)) {
    const folder = CODE_FOLDER.get(bytes[4]!);
    if (folder) return { immutableId: bytes.subarray(5).toString('utf8'), folder };
  }
  return { immutableId: id, folder: null };
}

export function messageIdFor(immutableId: string, folder: GraphFolder, immutable: boolean): string {
  return immutable ? immutableId : regularMessageId(immutableId, folder);
}

/** Folder ids are stable per mailbox. */
export function folderId(address: string, folder: GraphFolder): string {
  const digest = createHash('sha256').update(address.toLowerCase()).digest().subarray(0, 18);
  return b64url(Buffer.concat([FOLDER_PREFIX, Buffer.from([FOLDER_CODE[folder]]), digest, Buffer.from([0x00, 0x00])]));
}

export function rootFolderId(address: string): string {
  const digest = createHash('sha256').update(`root:${address.toLowerCase()}`).digest().subarray(0, 18);
  return b64url(Buffer.concat([FOLDER_PREFIX, Buffer.from([0]), digest, Buffer.from([0x00, 0x00])]));
}

/** Resolves `{id|wellKnownName}` of a folder path segment. */
export function resolveFolder(address: string, idOrName: string): GraphFolder | null {
  const named = WELL_KNOWN[idOrName.toLowerCase()];
  if (named) return named;
  for (const f of FOLDERS) if (folderId(address, f) === idOrName) return f;
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
