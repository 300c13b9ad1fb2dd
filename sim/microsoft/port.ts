import type { Folder, SentRecord } from '../core/mail.ts';

/**
 * What the Microsoft simulator needs from the provider-neutral simulator state. Everything Microsoft reads or
 * writes in the shared state goes through this one port, so the wire-format code never depends on the
 * store's internals (see `core-port.ts` for the implementation over SimState).
 */

export interface MsMailbox {
  address: string;
  aliases: string[];
  password: string | null;
  domain: string;
  displayName: string;
}

export interface MsStoredMessage {
  /** The store's id: Graph's immutable id. */
  id: string;
  /** The store's thread id: Graph's conversationId. */
  threadId: string;
  messageId: string;
  raw: Buffer;
  internalDate: Date;
  folder: Folder;
  deleted: boolean;
  /** Sequence of the last change to this message (lastModifiedDateTime and changeKey follow it). */
  lastSeq: number;
  lastModified: Date;
  /** Headers parsed once at delivery, when the store keeps them (saves a MIME parse for light $select). */
  headers?: MsParsedHeaders;
}

export interface MsParsedHeaders {
  fields: Array<{ name: string; value: string }>;
  from: { name: string; address: string } | null;
  to: Array<{ name: string; address: string }>;
  cc: Array<{ name: string; address: string }>;
  bcc: Array<{ name: string; address: string }>;
  replyTo: Array<{ name: string; address: string }>;
  subject: string;
  date: Date | null;
  messageId: string | null;
}

export interface MsChange {
  seq: number;
  id: string;
  /** The folder the message is in after this change; null once permanently deleted. */
  folder: Folder | null;
  /** The folder before this change; null when the change added the message. */
  previousFolder: Folder | null;
  at: Date;
}

export interface MsFault {
  fault: 'http_400' | 'http_429' | 'http_500' | 'http_503' | 'timeout' | 'reset' | 'cursor_expired' | 'invalid_grant';
  retryAfterSeconds?: number | undefined;
}

/** What was sent through the mailbox's API: the core's record, shared by both providers. */
export type MsSentRecord = SentRecord;

export interface MsLimits {
  requestsPerWindow: number;
  windowSeconds: number;
  concurrency: number;
}

export interface MsCorePort {
  now(): Date;
  /** A Microsoft mailbox of the simulator. */
  mailbox(address: string): MsMailbox | undefined;
  /** Any simulated mailbox (either provider): mail sent to it is delivered. */
  hasMailbox(address: string): boolean;
  /** null = the IT admin granted everything. */
  tenantGrantedScopes(domain: string): string[] | null;
  client(clientId: string): { secret: string; redirectUris: string[] } | undefined;
  redirectAllowed(clientId: string, redirectUri: string): boolean;
  /** The first matching injected fault among `kinds`, consumed. */
  takeFault(method: string, path: string, kinds: readonly MsFault['fault'][]): MsFault | undefined;

  messages(address: string): Iterable<MsStoredMessage>;
  message(address: string, id: string): MsStoredMessage | undefined;
  currentSeq(address: string): number;
  /** Changes with seq > afterSeq and ≤ uptoSeq, oldest first. */
  changes(address: string, afterSeq: number, uptoSeq: number): MsChange[];
  /** Puts a message into the mailbox (sent copy, draft, delivery to another simulated mailbox). */
  deliver(address: string, input: { raw: Buffer; folder: Folder; date?: Date; threadKey?: string; inReplyTo?: string }): { id: string; threadId: string; messageId: string };
  move(address: string, id: string, folder: Folder): void;
  /** Folders the user made, parents first. */
  userFolders(address: string): Array<`user:${string}`>;
  createFolder(address: string, folder: `user:${string}`): void;
  deletePermanently(address: string, id: string): void;
  recordSent(address: string, record: MsSentRecord): void;
  onChange(fn: (address: string, change: MsChange) => void): void;

  limits(): MsLimits;
  /** Enters a request of the mailbox; false when its concurrency limit is reached. */
  enter(address: string): boolean;
  leave(address: string): void;
  /** Charges one request against the mailbox's window; the seconds to wait when refused. */
  charge(address: string): { ok: true } | { ok: false; retryAfterSeconds: number };
  countRequest(address: string, method: string, units: number): void;
  countBody(address: string, messageId: string): void;
  recordRevocation(address: string, entry: { kind: 'token' | 'subscription'; id: string; at: Date; detail?: string }): void;
  pushEnabled(): boolean;
}
