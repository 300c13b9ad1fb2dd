import { randomBytes } from 'node:crypto';
import type { MessageFacts } from '../types.ts';
import type { MicrosoftEndpoints } from '../endpoints.ts';
import { ProviderError, retryAfterSeconds } from '../errors.ts';
import { providerFetch } from '../http.ts';
import type { AddressScanPage, ChangesPage, HistoricalScanInput, HistoricalScanPage, MailClient, MailPushClient, Opaque, PushChannel } from '../mail.ts';

/**
 * Microsoft Graph v1.0 mail for the sync engine. Per-folder `messages/delta` over every mail folder of the mailbox
 * (Inbox, Sent Items, Archive, the user's folders and sub-folders — mail is filed there by hand and by Outlook
 * rules) except Junk, Drafts, Deleted Items and Exchange's own folders (R-37, R-38), with the header fields only
 * (`$select`), the window as `$filter=receivedDateTime ge …` on the initial round, immutable ids (a message keeps
 * its id when it moves), and the delta link of each folder, by folder id, as the cursor. Folders are discovered
 * with `mailFolders` + `childFolders` at the start of every round, so one made later is read from then on. Graph
 * cannot be asked by address, so the window's headers are listed and the rules decide from them; `$value` (the
 * MIME) is fetched only for messages that will be ingested (R-41).
 */

/** Push still watches the folders new mail lands in; the periodic incremental sync reads every folder. */
const FOLDERS = ['inbox', 'sentitems'] as const;
/**
 * Well-known folders never read, with everything below them: Junk (R-38), Drafts (R-38), Deleted Items (R-37),
 * Outbox (not sent yet), Conversation History (Teams/Skype), Sync Issues (conflict copies), and the folders outside
 * the mail tree (recoverable items, search folders). Absent ones (a mailbox without Conversation History) are 404.
 */
const EXCLUDED = ['junkemail', 'drafts', 'deleteditems', 'outbox', 'conversationhistory', 'syncissues', 'recoverableitemsdeletions', 'searchfolders'] as const;
const FOLDER_SELECT = 'id,displayName,parentFolderId,childFolderCount,totalItemCount';
// R-41: what the rules decide by, no subject (an ingested message's subject comes with its MIME).
const SELECT = ['id', 'conversationId', 'internetMessageId', 'from', 'sender', 'toRecipients', 'ccRecipients', 'bccRecipients', 'receivedDateTime', 'sentDateTime', 'isDraft', 'parentFolderId'].join(',');
/** Messages per delta or list page (`odata.maxpagesize`): header fields only, so large pages cost little and save requests (R-27). */
const PAGE_SIZE = 1000;
/**
 * Subscriptions on the folders the delta reads: `created` brings new mail, `deleted` a message leaving the folder
 * (moved to Deleted Items or deleted for good, R-37). `updated` (read flags, categories) changes nothing we keep.
 */
const PUSH_RESOURCES = FOLDERS.map((f) => `me/mailFolders('${f}')/messages`);
const PUSH_CHANGE_TYPES = 'created,deleted';
/**
 * Requested lifetime of a subscription: Graph allows at most 10,080 minutes on Outlook messages; the margin keeps a
 * request valid when our clock runs a little ahead of Microsoft's.
 */
const PUSH_LIFETIME_MINUTES = 10_080 - 60;

interface GraphSubscription {
  id: string;
  resource?: string;
  expirationDateTime: string;
}

interface Recipient {
  emailAddress?: { name?: string | null; address?: string | null };
}
interface GraphMessage {
  id: string;
  conversationId?: string;
  internetMessageId?: string | null;
  subject?: string | null;
  from?: Recipient | null;
  sender?: Recipient | null;
  toRecipients?: Recipient[];
  ccRecipients?: Recipient[];
  bccRecipients?: Recipient[];
  receivedDateTime?: string | null;
  sentDateTime?: string | null;
  isDraft?: boolean;
  parentFolderId?: string;
  '@removed'?: { reason?: string };
}
interface DeltaResponse {
  value?: GraphMessage[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

interface FolderIds {
  inbox: string;
  sentitems: string;
  deleteditems: string;
  junkemail: string;
  drafts: string;
  /** Ids of the EXCLUDED folders the mailbox has. */
  excluded: string[];
}

interface MailFolder {
  id: string;
  displayName?: string;
  parentFolderId?: string;
  childFolderCount?: number;
  totalItemCount?: number;
}

/** The folders read, Inbox and Sent Items first, then the others parents before children. */
interface FolderTree {
  synced: MailFolder[];
  ids: Set<string>;
}

interface ScanCheckpoint {
  v: 2;
  /** The folders of this scan, fixed when it began (a resumed scan means the same positions). */
  folders: string[];
  folder: number;
  next: string | null;
  deltaLinks: Record<string, string>;
  estimate: number | null;
  /** Messages of the folder's filtered delta round so far, and the oldest receivedDateTime among them. */
  seen?: number;
  oldest?: string | null;
  /** The round stopped at Graph's cap: the older part of the window is read as a plain list (`next` pages it). */
  backlog?: boolean;
}

/**
 * Graph returns at most this many messages from a `$filter=receivedDateTime ge …` delta round (the newest ones); a
 * folder with more mail in the window gets the rest through a plain list filtered to the older part.
 */
export const DELTA_FILTER_CAP = 5_000;
const graphTime = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

interface ChangesCursor {
  v: 2;
  /** Delta link per folder id. */
  deltaLinks: Record<string, string>;
  /** The window's start: a folder found later is read from there (as the historical scan read the others). */
  since: string;
  /** A round in progress: its folders, the one it is at, and the next page of that folder. */
  round?: { folders: string[]; folder: number; next: string };
  /**
   * Messages seen leaving a folder read for another one read, not listed by any folder's delta since, with how many
   * round ends have looked at them. The folder they went to only says `@removed` of mail it listed: one moved on to
   * Deleted Items before that folder was read again would be missed, so each round's end looks them up (R-37).
   */
  transit?: Record<string, number>;
}

/** Round ends a message in transit is looked up at before it is taken to have settled where it is. */
const TRANSIT_ROUNDS = 5;

const graphCode = (body: unknown): string | undefined => (body as { error?: { code?: string } } | undefined)?.error?.code;

function classifier(now: () => Date, gone: 'cursor_expired' | 'permanent' = 'permanent') {
  return (status: number, body: unknown, headers: Headers): ProviderError | undefined => {
    const code = graphCode(body);
    const retryAfter = retryAfterSeconds(headers.get('retry-after'), now());
    const wait = retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {};
    const providerCode = code ? { providerCode: code } : {};
    if (status === 429) return new ProviderError('throttled', `Microsoft Graph throttled the request (${code ?? status})`, { status, ...providerCode, ...wait });
    if (status === 401) return new ProviderError('auth', 'Microsoft Graph refused the access token', { status, ...providerCode });
    if (status === 403) return new ProviderError('consent', 'The grant does not allow reading this mailbox', { status, ...providerCode });
    if (status === 410 || (gone === 'cursor_expired' && code === 'SyncStateNotFound')) {
      return new ProviderError('cursor_expired', 'Microsoft Graph no longer has this delta state', { status, ...providerCode });
    }
    if (status >= 500 || status === 408) return new ProviderError('transient', `Microsoft Graph error ${status}`, { status, ...providerCode, ...wait });
    return undefined;
  };
}

const recipients = (list: Recipient[] | undefined | null): Array<{ name?: string | null; address: string }> =>
  (list ?? []).filter((r) => r.emailAddress?.address).map((r) => ({ name: r.emailAddress?.name ?? null, address: r.emailAddress!.address! }));

export function graphFacts(message: GraphMessage, folders: Pick<FolderIds, 'sentitems' | 'deleteditems' | 'junkemail' | 'drafts'>, tree?: FolderTree): MessageFacts {
  const folder = message.parentFolderId;
  const received = message.receivedDateTime ?? message.sentDateTime ?? null;
  return {
    providerMessageId: message.id,
    providerThreadId: message.conversationId ?? message.id,
    from: recipients(message.from ? [message.from] : message.sender ? [message.sender] : []),
    to: recipients(message.toRecipients),
    cc: recipients(message.ccRecipients),
    bcc: recipients(message.bccRecipients),
    date: new Date(received ?? NaN),
    isSpam: folder !== undefined && folder === folders.junkemail,
    isDraft: message.isDraft === true || (folder !== undefined && folder === folders.drafts),
    isSent: folder !== undefined && folder === folders.sentitems,
    // In Deleted Items, or (when the folders read are known) outside all of them: below Deleted Items, in a folder
    // the user deleted, or anywhere else never read — for the product it is gone (R-37).
    isTrashed: folder !== undefined && (folder === folders.deleteditems || (tree !== undefined && !tree.ids.has(folder) && folder !== folders.junkemail && folder !== folders.drafts)),
    rfcMessageId: message.internetMessageId ?? null,
  };
}

export class GraphMailClient implements MailClient, MailPushClient {
  readonly provider = 'microsoft' as const;
  /** Well-known folder ids per access token (they never change for a mailbox; tokens last an hour). */
  private readonly folderCache = new Map<string, Promise<FolderIds>>();

  private readonly prefer: string;

  constructor(
    private readonly endpoints: MicrosoftEndpoints,
    private readonly now: () => Date,
    pageSize = PAGE_SIZE,
    /** Where Graph posts change and lifecycle notifications; none → no subscriptions. */
    private readonly pushUrls?: { notificationUrl: string; lifecycleNotificationUrl: string } | undefined,
    private readonly deltaFilterCap = DELTA_FILTER_CAP,
  ) {
    this.prefer = `IdType="ImmutableId", odata.maxpagesize=${pageSize}`;
  }

  pushResources(): string[] {
    return this.pushUrls ? [...PUSH_RESOURCES] : [];
  }

  /**
   * POST /subscriptions (https://learn.microsoft.com/graph/api/subscription-post-subscriptions): Graph first checks
   * both URLs with the validationToken handshake, so the product must be reachable at them. Each subscription gets
   * its own random clientState, repeated in every notification.
   */
  async startPush(accessToken: string, resource: string): Promise<PushChannel> {
    if (!this.pushUrls) throw new ProviderError('permanent', 'Graph subscriptions need the public URL of the webhooks');
    const clientState = randomBytes(32).toString('base64url');
    const created = await this.send<GraphSubscription>(accessToken, 'POST', '/subscriptions', {
      changeType: PUSH_CHANGE_TYPES,
      notificationUrl: this.pushUrls.notificationUrl,
      lifecycleNotificationUrl: this.pushUrls.lifecycleNotificationUrl,
      resource,
      expirationDateTime: this.pushExpiry(),
      clientState,
      latestSupportedTlsVersion: 'v1_2',
    });
    return { channelId: created.id, resource, expiresAt: new Date(created.expirationDateTime), secret: clientState };
  }

  /** PATCH expirationDateTime: renews, and after `reauthorizationRequired` also reauthorizes the subscription. */
  async renewPush(accessToken: string, channel: Pick<PushChannel, 'channelId' | 'resource'>): Promise<PushChannel> {
    const renewed = await this.send<GraphSubscription>(accessToken, 'PATCH', `/subscriptions/${encodeURIComponent(channel.channelId)}`, { expirationDateTime: this.pushExpiry() });
    return { channelId: channel.channelId, resource: channel.resource, expiresAt: new Date(renewed.expirationDateTime), secret: null };
  }

  async stopPush(accessToken: string, channel: Pick<PushChannel, 'channelId' | 'resource'>): Promise<void> {
    try {
      await this.send<undefined>(accessToken, 'DELETE', `/subscriptions/${encodeURIComponent(channel.channelId)}`);
    } catch (error) {
      // Already gone (expired or removed by Microsoft): nothing is left to stop.
      if (!(error instanceof ProviderError && error.details.status === 404)) throw error;
    }
  }

  /** Graph notifications carry no position in the delta: only a sync can tell. */
  cursorCovers(): boolean {
    return false;
  }

  private pushExpiry(): string {
    return new Date(this.now().getTime() + PUSH_LIFETIME_MINUTES * 60_000).toISOString();
  }

  private async send<T>(accessToken: string, method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const res = await providerFetch<T>(
      `${this.endpoints.graph}${path}`,
      {
        method,
        headers: { authorization: `Bearer ${accessToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        parse: method === 'DELETE' ? 'none' : 'json',
      },
      classifier(this.now),
      // Creating a subscription waits for Graph's validation round trip to our webhooks.
      { now: this.now, timeoutMs: 60_000 },
    );
    return res.body;
  }

  private async request<T>(accessToken: string, url: string, gone: 'cursor_expired' | 'permanent' = 'permanent', parse: 'json' | 'text' | 'bytes' = 'json'): Promise<T> {
    const absolute = url.startsWith('http') ? url : `${this.endpoints.graph}${url}`;
    const res = await providerFetch<T>(absolute, { headers: { authorization: `Bearer ${accessToken}`, prefer: this.prefer }, parse }, classifier(this.now, gone), { now: this.now });
    return res.body;
  }

  /** Ids of the well-known folders (they never change for a mailbox; cached per token, which lasts an hour). */
  private folders(accessToken: string): Promise<FolderIds> {
    let ids = this.folderCache.get(accessToken);
    if (!ids) {
      if (this.folderCache.size > 200) this.folderCache.clear();
      ids = (async () => {
        const names = ['inbox', 'sentitems', 'deleteditems', 'junkemail', 'drafts'] as const;
        const found = await Promise.all(names.map((n) => this.request<{ id: string }>(accessToken, `/me/mailFolders/${n}?$select=id`)));
        const optional = await Promise.all(EXCLUDED.filter((n) => !(names as readonly string[]).includes(n)).map((n) => this.optionalFolder(accessToken, n)));
        const known = Object.fromEntries(names.map((n, i) => [n, found[i]!.id])) as Omit<FolderIds, 'excluded'>;
        return { ...known, excluded: [known.junkemail, known.drafts, known.deleteditems, ...optional.filter((id): id is string => id !== null)] };
      })();
      this.folderCache.set(accessToken, ids);
      ids.catch(() => this.folderCache.delete(accessToken));
    }
    return ids;
  }

  private async optionalFolder(accessToken: string, name: string): Promise<string | null> {
    try {
      return (await this.request<{ id: string }>(accessToken, `/me/mailFolders/${name}?$select=id`)).id;
    } catch (error) {
      if (error instanceof ProviderError && (error.details.status === 404 || error.details.status === 400)) return null;
      throw error;
    }
  }

  /** Every page of a folder collection. */
  private async folderList(accessToken: string, url: string): Promise<MailFolder[]> {
    const out: MailFolder[] = [];
    let next: string | undefined = url;
    while (next) {
      const page: { value?: MailFolder[]; '@odata.nextLink'?: string } = await this.request(accessToken, next);
      out.push(...(page.value ?? []));
      next = page['@odata.nextLink'];
    }
    return out;
  }

  /**
   * The folders to read, found afresh: the top level, then `childFolders` of every folder that has children, never
   * descending into an excluded one. Inbox and Sent Items come first so a scan reads new mail's folders first.
   */
  private async folderTree(accessToken: string): Promise<FolderTree> {
    const known = await this.folders(accessToken);
    const excluded = new Set(known.excluded);
    const synced: MailFolder[] = [];
    let level = await this.folderList(accessToken, `/me/mailFolders?$top=100&$select=${FOLDER_SELECT}`);
    while (level.length > 0) {
      const below: MailFolder[] = [];
      for (const f of level) {
        if (excluded.has(f.id)) continue;
        synced.push(f);
        if ((f.childFolderCount ?? 0) > 0) below.push(...(await this.folderList(accessToken, `/me/mailFolders/${encodeURIComponent(f.id)}/childFolders?$top=100&$select=${FOLDER_SELECT}`)));
      }
      level = below;
    }
    const rank = (f: MailFolder) => (f.id === known.inbox ? 0 : f.id === known.sentitems ? 1 : 2);
    synced.sort((a, b) => rank(a) - rank(b));
    return { synced, ids: new Set(synced.map((f) => f.id)) };
  }

  async probe(accessToken: string): Promise<void> {
    await this.request<{ id: string }>(accessToken, '/me/mailFolders/inbox?$select=id');
  }

  async historicalPage(accessToken: string, input: HistoricalScanInput): Promise<HistoricalScanPage> {
    const folders = await this.folders(accessToken);
    let checkpoint = input.checkpoint as ScanCheckpoint | null;
    // A scan begun before every folder was read starts over (storage is idempotent).
    if (checkpoint && checkpoint.v !== 2) checkpoint = null;
    if (!checkpoint) {
      // Graph gives no count for a filtered delta: the folders' totals bound the scan from above.
      const tree = await this.folderTree(accessToken);
      checkpoint = { v: 2, folders: tree.synced.map((f) => f.id), folder: 0, next: null, deltaLinks: {}, estimate: tree.synced.reduce((sum, f) => sum + (f.totalItemCount ?? 0), 0) };
    }
    const folder = checkpoint.folders[checkpoint.folder]!;
    const folderPath = `/me/mailFolders/${encodeURIComponent(folder)}`;
    const url = checkpoint.next ?? `${folderPath}/messages/delta?${new URLSearchParams({ $select: SELECT, $filter: `receivedDateTime ge ${graphTime(input.since)}` })}`;
    const nextFolder = (deltaLinks: ScanCheckpoint['deltaLinks']): ScanCheckpoint => ({ v: 2, folders: checkpoint.folders, folder: checkpoint.folder + 1, next: null, deltaLinks, estimate: checkpoint.estimate });
    let page: DeltaResponse;
    try {
      page = await this.request<DeltaResponse>(accessToken, url);
    } catch (error) {
      // The folder was deleted since the scan began: its mail went with it to Deleted Items.
      if (!(error instanceof ProviderError && error.details.status === 404)) throw error;
      return this.scanStep([], nextFolder(checkpoint.deltaLinks), input, checkpoint.estimate);
    }
    const listed = (page.value ?? []).filter((m) => !m['@removed']);
    const messages = listed.map((m) => graphFacts(m, folders));
    let next: ScanCheckpoint;
    if (checkpoint.backlog) {
      next = page['@odata.nextLink'] ? { ...checkpoint, next: page['@odata.nextLink'] } : nextFolder(checkpoint.deltaLinks);
    } else {
      let oldest = checkpoint.oldest ?? null;
      for (const m of listed) if (m.receivedDateTime && (oldest === null || Date.parse(m.receivedDateTime) < Date.parse(oldest))) oldest = m.receivedDateTime;
      const seen = (checkpoint.seen ?? 0) + listed.length;
      if (page['@odata.nextLink']) next = { ...checkpoint, next: page['@odata.nextLink'], seen, oldest };
      else if (page['@odata.deltaLink']) {
        const deltaLinks = { ...checkpoint.deltaLinks, [folder]: page['@odata.deltaLink'] };
        // The round hit the cap: list the older part of the window too (up to the oldest seen, inclusive and rounded up
        // to Graph's whole seconds, so that messages sharing that instant are not lost; storage is idempotent). The delta link still covers what changes.
        next =
          seen >= this.deltaFilterCap && oldest !== null
            ? {
                ...checkpoint,
                deltaLinks,
                backlog: true,
                next: `${folderPath}/messages?${new URLSearchParams({ $select: SELECT, $filter: `receivedDateTime ge ${graphTime(input.since)} and receivedDateTime le ${graphTime(new Date(Math.ceil(Date.parse(oldest) / 1000) * 1000))}`, $orderby: 'receivedDateTime desc', $top: String(PAGE_SIZE) })}`,
              }
            : nextFolder(deltaLinks);
      } else throw new ProviderError('transient', 'Microsoft Graph delta page without a next or delta link');
    }
    return this.scanStep(messages, next, input, checkpoint.estimate);
  }

  private scanStep(messages: MessageFacts[], next: ScanCheckpoint, input: HistoricalScanInput, estimate: number | null): HistoricalScanPage {
    if (next.folder >= next.folders.length) {
      const cursor: ChangesCursor = { v: 2, deltaLinks: next.deltaLinks, since: input.since.toISOString() };
      return { messages, checkpoint: null, cursor: cursor as unknown as Opaque, estimate };
    }
    return { messages, checkpoint: next as unknown as Opaque, cursor: null, estimate };
  }

  /**
   * One page of one folder's changes. A round starts by finding the folders afresh: one made since the last round
   * starts with an initial delta from the window's start. A message moved between folders is the same message (same
   * immutable id): the new folder lists it (stored once, idempotently) and the old one says `@removed` — Graph says
   * so for a move and a deletion alike, so each `@removed` is looked up, and only a message that no longer exists or
   * now sits outside every folder read (Deleted Items, Junk) is removed (R-37).
   */
  async changesPage(accessToken: string, cursor: Opaque): Promise<ChangesPage> {
    const c = cursor as unknown as Partial<ChangesCursor>;
    // A cursor from when only Inbox and Sent Items were read: the other folders' mail in the window needs a scan.
    if (c.v !== 2 || !c.deltaLinks || typeof c.since !== 'string') throw new ProviderError('cursor_expired', 'no Microsoft Graph delta links for every folder stored');
    const since = c.since;
    let deltaLinks = c.deltaLinks;
    let round = c.round;
    let tree: FolderTree | undefined;
    if (!round) {
      tree = await this.folderTree(accessToken);
      // A folder read until now is gone (deleted, or moved below Deleted Items): its mail left without a `@removed`
      // in any folder read, so a resync takes a new position and reconciles what is stored.
      if (Object.keys(deltaLinks).some((id) => !tree!.ids.has(id))) throw new ProviderError('cursor_expired', 'a mail folder read until now was deleted or moved');
      const ids = tree.synced.map((f) => f.id);
      if (ids.length === 0) throw new ProviderError('transient', 'Microsoft Graph listed no mail folders');
      round = { folders: ids, folder: 0, next: deltaLinks[ids[0]!] ?? this.initialDelta(ids[0]!, since) };
    }
    const folderId = round.folders[round.folder]!;
    let page: DeltaResponse;
    try {
      page = await this.request<DeltaResponse>(accessToken, round.next, 'cursor_expired');
    } catch (error) {
      // Deleted during the round: as above.
      if (error instanceof ProviderError && error.details.status === 404) throw new ProviderError('cursor_expired', 'a mail folder read until now was deleted');
      throw error;
    }
    const folders = await this.folders(accessToken);
    const added: MessageFacts[] = [];
    const left: string[] = [];
    const sinceMs = Date.parse(since);
    for (const m of page.value ?? []) {
      if (m['@removed']) left.push(m.id);
      // A message filed from elsewhere keeps its date: one older than the window was never the product's to read (R-35).
      else if (!(Date.parse(m.receivedDateTime ?? m.sentDateTime ?? '') < sinceMs)) added.push(graphFacts(m, folders));
    }
    const removed: string[] = [];
    const transit: Record<string, number> = { ...(c.transit ?? {}) };
    // Listed by a folder: that folder's delta now reports its leaving.
    for (const m of page.value ?? []) if (!m['@removed']) delete transit[m.id];
    if (left.length > 0) {
      const now = await this.headers(accessToken, left, tree);
      for (const id of left) {
        const facts = now.get(id);
        if (!facts || facts.isTrashed === true || facts.isSpam) {
          removed.push(id);
          delete transit[id];
        } else transit[id] = 0;
      }
    }
    let next: ChangesCursor;
    if (page['@odata.nextLink']) next = { v: 2, deltaLinks, since, round: { ...round, next: page['@odata.nextLink'] } };
    else if (page['@odata.deltaLink']) {
      deltaLinks = { ...deltaLinks, [folderId]: page['@odata.deltaLink'] };
      const following = round.folder + 1;
      const nextId = round.folders[following];
      next = nextId !== undefined ? { v: 2, deltaLinks, since, round: { folders: round.folders, folder: following, next: deltaLinks[nextId] ?? this.initialDelta(nextId, since) } } : { v: 2, deltaLinks, since };
      if (nextId === undefined) {
        // The round's end: a moved message that went on to Deleted Items (or Junk) since is removed now.
        const pending = Object.keys(transit);
        const now = await this.headers(accessToken, pending);
        for (const id of pending) {
          const facts = now.get(id);
          if (!facts || facts.isTrashed === true || facts.isSpam) {
            if (!removed.includes(id)) removed.push(id);
            delete transit[id];
          } else if (++transit[id]! >= TRANSIT_ROUNDS) delete transit[id];
        }
      }
    } else throw new ProviderError('transient', 'Microsoft Graph delta page without a next or delta link');
    if (Object.keys(transit).length > 0) next.transit = transit;
    return { added, removed, cursor: next as unknown as Opaque, more: next.round !== undefined };
  }

  private initialDelta(folderId: string, since: string): string {
    return `/me/mailFolders/${encodeURIComponent(folderId)}/messages/delta?${new URLSearchParams({ $select: SELECT, $filter: `receivedDateTime ge ${graphTime(new Date(since))}` })}`;
  }

  /**
   * Header facts of messages by immutable id, wherever they are in the mailbox now; `isTrashed` when a message sits
   * outside every folder read. A parent folder not seen before is looked for once more in a fresh listing (a folder
   * made a moment ago is read from the next round on, so its mail is no deletion).
   */
  async headers(accessToken: string, ids: readonly string[], knownTree?: FolderTree): Promise<Map<string, MessageFacts>> {
    const out = new Map<string, MessageFacts>();
    if (ids.length === 0) return out;
    const folders = await this.folders(accessToken);
    const found: Array<[string, GraphMessage]> = [];
    for (const id of new Set(ids)) {
      try {
        found.push([id, await this.request<GraphMessage>(accessToken, `/me/messages/${encodeURIComponent(id)}?$select=${SELECT}`)]);
      } catch (error) {
        if (!(error instanceof ProviderError && error.details.status === 404)) throw error;
      }
    }
    let tree = knownTree ?? (found.length > 0 ? await this.folderTree(accessToken) : undefined);
    const unknown = (m: GraphMessage) => m.parentFolderId !== undefined && !tree!.ids.has(m.parentFolderId) && !folders.excluded.includes(m.parentFolderId);
    if (knownTree && found.some(([, m]) => unknown(m))) tree = await this.folderTree(accessToken);
    for (const [id, m] of found) out.set(id, graphFacts(m, folders, tree));
    return out;
  }

  async raw(accessToken: string, ids: readonly string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const id of new Set(ids)) {
      try {
        out.set(id, await this.request<Uint8Array>(accessToken, `/me/messages/${encodeURIComponent(id)}/$value`, 'permanent', 'bytes'));
      } catch (error) {
        if (!(error instanceof ProviderError && error.details.status === 404)) throw error;
      }
    }
    return out;
  }

  /**
   * R-39: `$search` on the mailbox's messages by participant (KQL `participants:` covers from, to, cc and bcc)
   * and `received>=` the window, header fields only, keeping the folders the historical scan reads. A search
   * returns at most 1,000 messages: a query that reaches that many is asked again for the older part (received
   * on or before the day after the oldest one listed), so nothing beyond the cap is missed.
   */
  async addressPage(accessToken: string, input: HistoricalScanInput): Promise<AddressScanPage> {
    const folders = await this.folders(accessToken);
    const tree = await this.folderTree(accessToken);
    const groups = graphSearchGroups(input.addresses);
    const at = (input.checkpoint as unknown as SearchCheckpoint | null) ?? { group: 0, next: null, upTo: null, listed: 0, oldestSent: null };
    if (at.group >= groups.length) return { messages: [], checkpoint: null };
    const since = input.since.toISOString().slice(0, 10);
    const kql = `(${groups[at.group]!.map((a) => `participants:${a}`).join(' OR ')}) AND received>=${since}${at.upTo ? ` AND received<=${at.upTo}` : ''}`;
    const url = at.next ?? `/me/messages?${new URLSearchParams({ $search: `"${kql}"`, $select: SELECT, $top: String(SEARCH_PAGE) })}`;
    const page = await this.request<DeltaResponse>(accessToken, url);
    const value = page.value ?? [];
    let oldestSent = at.oldestSent;
    for (const m of value) {
      const sent = Date.parse(m.sentDateTime ?? m.receivedDateTime ?? '');
      if (!Number.isNaN(sent) && (oldestSent === null || sent < oldestSent)) oldestSent = sent;
    }
    const messages = value
      .filter((m) => m.parentFolderId !== undefined && tree.ids.has(m.parentFolderId))
      .map((m) => graphFacts(m, folders));
    const listed = at.listed + value.length;
    let next: SearchCheckpoint | null;
    if (page['@odata.nextLink']) next = { ...at, next: page['@odata.nextLink'], listed, oldestSent };
    else if (listed >= SEARCH_CAP && oldestSent !== null) {
      // Capped: the rest is older. A day of slack covers mail received a little after it was sent.
      let upTo = new Date(oldestSent + 86_400_000).toISOString().slice(0, 10);
      if (at.upTo !== null && upTo >= at.upTo) upTo = new Date(Date.parse(at.upTo) - 86_400_000).toISOString().slice(0, 10);
      next = upTo < since ? { group: at.group + 1, next: null, upTo: null, listed: 0, oldestSent: null } : { group: at.group, next: null, upTo, listed: 0, oldestSent: null };
    } else next = { group: at.group + 1, next: null, upTo: null, listed: 0, oldestSent: null };
    return { messages, checkpoint: next.group >= groups.length ? null : (next as unknown as Opaque) };
  }
}

/** Results one `$search` on messages returns at most, over all its pages. */
const SEARCH_CAP = 1000;
const SEARCH_PAGE = 250;
/** Keeps each `$search` value well within the URL length Graph accepts. */
const SEARCH_BUDGET = 1000;

interface SearchCheckpoint {
  group: number;
  next: string | null;
  /** After a capped search: only mail received on or before this day (yyyy-mm-dd). */
  upTo: string | null;
  listed: number;
  oldestSent: number | null;
}

/**
 * OR-groups of `participants:` terms. Mail may carry a `+tag` the profile lacks (or another one): the address's
 * base `local+` is searched too, and the rules compare addresses normalized afterwards.
 */
export function graphSearchGroups(addresses: readonly string[]): string[][] {
  const needles = new Set<string>();
  for (const raw of addresses) {
    const address = raw.trim().toLowerCase();
    if (!/^[^\s"()]+@[^\s"()]+$/.test(address)) continue;
    const at = address.lastIndexOf('@');
    const local = address.slice(0, at);
    const plus = local.indexOf('+');
    needles.add(address);
    needles.add(`${plus > 0 ? local.slice(0, plus) : local}+`);
  }
  const groups: string[][] = [];
  let group: string[] = [];
  let length = 0;
  for (const needle of [...needles].sort()) {
    if (group.length > 0 && length + needle.length + 17 > SEARCH_BUDGET) {
      groups.push(group);
      group = [];
      length = 0;
    }
    group.push(needle);
    length += needle.length + 17;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
