import { randomBytes } from 'node:crypto';
import type { MessageFacts } from '../types.ts';
import type { GoogleEndpoints } from '../endpoints.ts';
import { ProviderError, retryAfterSeconds } from '../errors.ts';
import { genericError, providerFetch } from '../http.ts';
import type { AddressScanPage, ChangesPage, HistoricalScanInput, HistoricalScanPage, MailClient, MailPushClient, Opaque, PushChannel } from '../mail.ts';

/**
 * Gmail API v1 for the sync engine, over plain fetch. Fewest quota units (R-27): `messages.list` asks only for
 * mail of the addresses that can qualify, dated in the window and not drafts (`q`); headers come from
 * `format=metadata` in batches — a whole thread's at once (`threads.get`) where several of its messages are listed —
 * each message's once per scan; and `format=raw` is asked only for messages that will be ingested (R-41).
 */

// R-41: the headers the rules decide by, no Subject: a message they do not let in leaves none of its text behind.
const METADATA_HEADERS = ['From', 'To', 'Cc', 'Bcc', 'Date', 'Message-ID', 'In-Reply-To', 'References'];
/** Gmail caps a batch at 100 calls; smaller batches keep per-user concurrency and response sizes modest. */
const METADATA_BATCH = 50;
/** `threads.get` answers carry every message of the thread: fewer per batch. */
const THREAD_BATCH = 20;
const RAW_BATCH = 10;
const LIST_PAGE = 500;
/**
 * The length of the address part of each `q`. Gmail documents no limit for `q`; a longer one would save list calls
 * (5 units each, a few per scan), so the queries stay at a moderate length rather than probing for one.
 */
const QUERY_BUDGET = 1400;
/**
 * A thread with at least this many messages listed on one page is read whole: `threads.get` (10 units) costs two
 * `messages.get` (5 units each), and it also brings the thread's older messages, which then need no listing.
 */
const WHOLE_THREAD_FROM = 2;
/**
 * Watched labels: new mail in the inbox and in Sent, and their removal (a move to Trash or Spam, or a permanent
 * delete, takes INBOX or SENT away, which Gmail announces too). Label edits elsewhere (drafts being typed, other
 * labels) wake nobody; the poll still reads the whole history.
 */
const WATCH_LABELS = ['INBOX', 'SENT'];

interface GmailHeader {
  name: string;
  value: string;
}
interface GmailMessage {
  id: string;
  threadId: string;
  labelIds?: string[];
  internalDate?: string;
  payload?: { headers?: GmailHeader[] };
  raw?: string;
}
interface GmailRef {
  id: string;
  threadId: string;
  labelIds?: string[];
}
interface HistoryRecord {
  id: string;
  messagesAdded?: Array<{ message: GmailRef }>;
  messagesDeleted?: Array<{ message: GmailRef }>;
  labelsAdded?: Array<{ message: GmailRef; labelIds: string[] }>;
  labelsRemoved?: Array<{ message: GmailRef; labelIds: string[] }>;
}

interface GmailThread {
  id: string;
  messages?: GmailMessage[];
}

/**
 * Where a historical scan stands. It lists in two parts (R-36): first the mail dated from the activity cut-off on,
 * all of which is read, then the rest of the window, of which only the mail of threads known to be active is read —
 * a thread with nothing since the cut-off is inactive whatever its older messages say.
 */
interface ScanCheckpoint {
  v: 2;
  historyId: string;
  part: 'recent' | 'older';
  /** Index of the address group (`q`) in the part, and the page within it. */
  chunk: number;
  pageToken: string | null;
  /** resultSizeEstimate of each chunk of the recent part begun so far. */
  estimates: number[];
  /** Messages returned by the older part so far. */
  older: number;
  /** Threads read whole: every message of theirs in the window has been returned. */
  threads: string[];
  /** Messages read one by one (a message listed again, under another address or in the other part, is not read twice). */
  messages: string[];
}

const errorReason = (body: unknown): string | undefined => {
  const error = (body as { error?: { errors?: Array<{ reason?: string }>; status?: string } } | undefined)?.error;
  return error?.errors?.[0]?.reason ?? error?.status;
};

/** Gmail error bodies → ProviderError kinds. `notFound` says what a 404 means for the call at hand. */
function classifier(now: () => Date, notFound: 'cursor_expired' | 'permanent' = 'permanent') {
  return (status: number, body: unknown, headers: Headers): ProviderError | undefined => {
    const reason = errorReason(body);
    const retryAfter = retryAfterSeconds(headers.get('retry-after'), now());
    const wait = retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {};
    if (status === 429 || (status === 403 && (reason === 'userRateLimitExceeded' || reason === 'rateLimitExceeded' || reason === 'quotaExceeded'))) {
      return new ProviderError('throttled', `Gmail rate limit (${reason ?? status})`, { status, ...(reason ? { providerCode: reason } : {}), ...wait });
    }
    if (status === 401) return new ProviderError('auth', 'Gmail refused the access token', { status, ...(reason ? { providerCode: reason } : {}) });
    if (status === 403 && (reason === 'insufficientPermissions' || reason === 'forbidden' || reason === 'PERMISSION_DENIED')) {
      return new ProviderError('consent', 'The grant does not allow reading this mailbox', { status, providerCode: reason });
    }
    if (status === 404 && notFound === 'cursor_expired') return new ProviderError('cursor_expired', 'Gmail no longer has history from this point', { status });
    return undefined;
  };
}

function header(message: GmailMessage, name: string): string | null {
  const found = message.payload?.headers?.find((h) => h.name.toLowerCase() === name.toLowerCase());
  return found ? found.value : null;
}

export function gmailFacts(message: GmailMessage): MessageFacts {
  const labels = new Set(message.labelIds ?? []);
  const internal = Number(message.internalDate);
  const dateHeader = header(message, 'Date');
  const date = Number.isFinite(internal) && message.internalDate !== undefined ? new Date(internal) : new Date(dateHeader ?? NaN);
  return {
    providerMessageId: message.id,
    providerThreadId: message.threadId,
    from: header(message, 'From') ?? '',
    to: header(message, 'To') ?? '',
    cc: header(message, 'Cc') ?? '',
    bcc: header(message, 'Bcc') ?? '',
    date,
    isSpam: labels.has('SPAM'),
    isDraft: labels.has('DRAFT'),
    isSent: labels.has('SENT'),
    isTrashed: labels.has('TRASH'),
    rfcMessageId: header(message, 'Message-ID'),
    inReplyTo: header(message, 'In-Reply-To'),
    references: header(message, 'References'),
  };
}

/**
 * What Gmail is searched for to find one address: the address, and `local+`. Mail may carry a `+tag` the profile
 * lacks (or another one): `local+` catches those, and the rules compare the addresses normalized afterwards.
 */
function addressNeedles(address: string): string[] {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const plus = local.indexOf('+');
  return [address, `${plus > 0 ? local.slice(0, plus) : local}+`];
}

const ADDRESS_FIELDS = ['from', 'to', 'cc', 'bcc'] as const;

/** Any of the needles in any of the four address fields: `{from:{a b} to:{a b} cc:{a b} bcc:{a b}}`. */
function addressClause(needles: readonly string[]): string {
  const group = `{${needles.join(' ')}}`;
  return `{${ADDRESS_FIELDS.map((f) => `${f}:${group}`).join(' ')}}`;
}

/** The dates a query is limited to: on or after `after`, and before `before` when given (epoch seconds). */
export interface QueryRange {
  after: Date;
  before?: Date | undefined;
}

/**
 * OR-groups of addresses, each `q` within the budget, every one limited to the range (`after:`/`before:` epoch
 * seconds) and leaving drafts out (`-in:drafts`: never ingested, R-38, and no activity of their thread, R-36). No
 * `in:`/`label:` term otherwise: archived mail (no INBOX label), user labels and every category are mail like the
 * Inbox; spam and trash stay out because `includeSpamTrash` is not set.
 */
export function gmailQueries(addresses: readonly string[], range: QueryRange): string[] {
  const dates = [`after:${Math.floor(range.after.getTime() / 1000)}`, ...(range.before ? [`before:${Math.ceil(range.before.getTime() / 1000)}`] : [])].join(' ');
  const suffix = ` ${dates} -in:drafts`;
  const unique = [...new Set(addresses.map((a) => a.trim().toLowerCase()).filter((a) => /^[^\s{}()"]+@[^\s{}()"]+$/.test(a)))].sort();
  const queries: string[] = [];
  let group: string[] = [];
  for (const address of unique) {
    const needles = [...new Set([...group, ...addressNeedles(address)])];
    if (group.length > 0 && addressClause(needles).length > QUERY_BUDGET) {
      queries.push(addressClause(group) + suffix);
      group = [...new Set(addressNeedles(address))];
      continue;
    }
    group = needles;
  }
  if (group.length > 0) queries.push(addressClause(group) + suffix);
  return queries;
}

/** A message a historical scan leaves to the listing's rules: spam and trash are not listed, nor are drafts. */
const listedKind = (message: GmailMessage): boolean => !(message.labelIds ?? []).some((l) => l === 'SPAM' || l === 'TRASH' || l === 'DRAFT');

interface BatchResult {
  status: number;
  body: unknown;
  retryAfter: number | undefined;
}

export class GmailClient implements MailClient, MailPushClient {
  readonly provider = 'google' as const;

  constructor(
    private readonly endpoints: GoogleEndpoints,
    private readonly now: () => Date,
    /** `projects/{project}/topics/{topic}` that watches publish to; none → no push. */
    private readonly pubsubTopic?: string | undefined,
  ) {}

  pushResources(): string[] {
    return this.pubsubTopic ? [this.pubsubTopic] : [];
  }

  /**
   * users.watch on the topic (https://developers.google.com/gmail/api/guides/push). A mailbox has one watch: calling
   * watch again renews it. Notifications name the mailbox by its address, which the profile gives.
   */
  async startPush(accessToken: string, resource: string): Promise<PushChannel> {
    const profile = await this.get<{ emailAddress: string }>(accessToken, '/profile', null);
    return this.watch(accessToken, resource, profile.emailAddress.toLowerCase());
  }

  renewPush(accessToken: string, channel: Pick<PushChannel, 'channelId' | 'resource'>): Promise<PushChannel> {
    return this.watch(accessToken, channel.resource, channel.channelId);
  }

  async stopPush(accessToken: string): Promise<void> {
    await providerFetch(`${this.endpoints.gmail}/users/me/stop`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` }, parse: 'none' }, classifier(this.now), { now: this.now });
  }

  cursorCovers(cursor: Opaque, position: string): boolean {
    const stored = cursor.historyId;
    // A cursor in the middle of a history listing has not read to its end yet.
    if (typeof stored !== 'string' || !/^\d+$/.test(stored) || cursor.pageToken !== undefined || !/^\d+$/.test(position)) return false;
    return BigInt(stored) >= BigInt(position);
  }

  private async watch(accessToken: string, topicName: string, address: string): Promise<PushChannel> {
    const res = await providerFetch<{ historyId?: string; expiration?: string }>(
      `${this.endpoints.gmail}/users/me/watch`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ topicName, labelIds: WATCH_LABELS, labelFilterBehavior: 'include' }),
      },
      classifier(this.now),
      { now: this.now },
    );
    const expiration = Number(res.body.expiration);
    if (!Number.isFinite(expiration)) throw new ProviderError('transient', 'Gmail watch answered without an expiration');
    return { channelId: address, resource: topicName, expiresAt: new Date(expiration), secret: null };
  }

  private async get<T>(accessToken: string, path: string, params: URLSearchParams | null, notFound: 'cursor_expired' | 'permanent' = 'permanent'): Promise<T> {
    const url = `${this.endpoints.gmail}/users/me${path}${params && params.size > 0 ? `?${params}` : ''}`;
    const res = await providerFetch<T>(url, { headers: { authorization: `Bearer ${accessToken}` } }, classifier(this.now, notFound), { now: this.now });
    return res.body;
  }

  async probe(accessToken: string): Promise<void> {
    await this.get<{ emailAddress: string }>(accessToken, '/profile', null);
  }

  async historicalPage(accessToken: string, input: HistoricalScanInput): Promise<HistoricalScanPage> {
    // R-36 from the listing: with the activity cut-off inside the window, the recent part is listed first.
    const cutoff = input.activeSince !== undefined && input.activeThreads !== undefined && input.activeSince.getTime() > input.since.getTime() ? input.activeSince : null;
    const given = input.checkpoint as Partial<ScanCheckpoint> | null;
    let checkpoint: ScanCheckpoint;
    if (given?.v === 2) checkpoint = given as ScanCheckpoint;
    else {
      // The history point is taken before listing: whatever arrives during the scan is in the history after it. A
      // scan begun in an earlier format lists again from the start, after the history point it took.
      const historyId = typeof given?.historyId === 'string' ? given.historyId : String((await this.get<{ historyId: string }>(accessToken, '/profile', null)).historyId);
      checkpoint = { v: 2, historyId, part: 'recent', chunk: 0, pageToken: null, estimates: [], older: 0, threads: [], messages: [] };
    }
    const queriesOf = (part: ScanCheckpoint['part']): string[] =>
      part === 'recent' ? gmailQueries(input.addresses, { after: cutoff ?? input.since }) : gmailQueries(input.addresses, { after: input.since, before: new Date(cutoff!.getTime() + 1000) });
    const recentQueries = queriesOf('recent').length;
    const estimateOf = (at: ScanCheckpoint): number | null => {
      const known = at.estimates.reduce((a, b) => a + b, 0);
      const begun = at.estimates.length;
      // Chunks not yet begun are assumed to hold as much as the average begun one.
      return begun === 0 ? null : Math.round(known + (known / begun) * Math.max(0, recentQueries - begun)) + at.older;
    };
    const queries = queriesOf(checkpoint.part);
    if (checkpoint.chunk >= queries.length) {
      return { messages: [], checkpoint: null, cursor: { historyId: checkpoint.historyId }, estimate: estimateOf(checkpoint) };
    }
    const params = new URLSearchParams({ q: queries[checkpoint.chunk]!, maxResults: String(LIST_PAGE) });
    if (checkpoint.pageToken) params.set('pageToken', checkpoint.pageToken);
    const list = await this.get<{ messages?: GmailRef[]; nextPageToken?: string; resultSizeEstimate?: number }>(accessToken, '/messages', params);
    const estimates = [...checkpoint.estimates];
    if (checkpoint.part === 'recent' && checkpoint.pageToken === null) estimates[checkpoint.chunk] = list.resultSizeEstimate ?? list.messages?.length ?? 0;

    // Each message is read once per scan: not again under another address group, nor in the older part.
    const whole = new Set(checkpoint.threads);
    const single = new Set(checkpoint.messages);
    const onPage = new Set<string>();
    let fresh = (list.messages ?? []).filter((m) => !whole.has(m.threadId) && !single.has(m.id) && !onPage.has(m.id) && onPage.add(m.id) !== undefined);
    if (checkpoint.part === 'older' && fresh.length > 0) {
      // Older mail of a thread with nothing since the cut-off cannot be imported (R-36): it is not read.
      const active = await input.activeThreads!([...new Set(fresh.map((m) => m.threadId))]);
      fresh = fresh.filter((m) => active.has(m.threadId));
    }
    const listedPerThread = new Map<string, number>();
    for (const m of fresh) listedPerThread.set(m.threadId, (listedPerThread.get(m.threadId) ?? 0) + 1);
    const threadIds = [...listedPerThread].filter(([, n]) => n >= WHOLE_THREAD_FROM).map(([id]) => id);
    const readWhole = new Set(threadIds);
    const singleIds = fresh.filter((m) => !readWhole.has(m.threadId)).map((m) => m.id);
    const messages: MessageFacts[] = [];
    for (const thread of (await this.threads(accessToken, threadIds)).values()) {
      for (const message of thread.messages ?? []) {
        if (single.has(message.id) || !listedKind(message)) continue;
        const facts = gmailFacts(message);
        // Before the window: not listed, not decided (R-35).
        if (!(facts.date.getTime() >= input.since.getTime())) continue;
        messages.push(facts);
      }
    }
    const singles = await this.headers(accessToken, singleIds);
    for (const id of singleIds) {
      const facts = singles.get(id);
      if (facts) messages.push(facts);
    }

    const read = { threads: [...checkpoint.threads, ...threadIds], messages: [...checkpoint.messages, ...singleIds] };
    const older = checkpoint.older + (checkpoint.part === 'older' ? messages.length : 0);
    let next: ScanCheckpoint | null = list.nextPageToken
      ? { ...checkpoint, ...read, pageToken: list.nextPageToken, estimates, older }
      : { ...checkpoint, ...read, chunk: checkpoint.chunk + 1, pageToken: null, estimates, older };
    if (next.chunk >= queries.length) next = next.part === 'recent' && cutoff !== null ? { ...next, part: 'older', chunk: 0, pageToken: null } : null;
    const estimate = estimateOf(next ?? { ...checkpoint, estimates, older });
    if (next === null) return { messages, checkpoint: null, cursor: { historyId: checkpoint.historyId }, estimate };
    return { messages, checkpoint: next as unknown as Opaque, cursor: null, estimate };
  }

  async changesPage(accessToken: string, cursor: Opaque): Promise<ChangesPage> {
    const start = String(cursor.historyId ?? '');
    if (!/^\d+$/.test(start)) throw new ProviderError('cursor_expired', 'no Gmail history id stored');
    const params = new URLSearchParams({ startHistoryId: start, maxResults: '500' });
    for (const t of ['messageAdded', 'messageDeleted', 'labelAdded', 'labelRemoved']) params.append('historyTypes', t);
    if (typeof cursor.pageToken === 'string') params.set('pageToken', cursor.pageToken);
    const page = await this.get<{ history?: HistoryRecord[]; nextPageToken?: string; historyId: string }>(accessToken, '/history', params, 'cursor_expired');
    // The last word on each message wins: added then trashed in one page is a removal, and the reverse an addition.
    const state = new Map<string, 'added' | 'removed'>();
    for (const record of page.history ?? []) {
      for (const a of record.messagesAdded ?? []) state.set(a.message.id, a.message.labelIds?.includes('TRASH') ? 'removed' : 'added');
      for (const d of record.messagesDeleted ?? []) state.set(d.message.id, 'removed');
      for (const l of record.labelsAdded ?? []) {
        if (l.labelIds.includes('TRASH')) state.set(l.message.id, 'removed');
        // Moved to spam: a stored message would only be there if it was ingested before; spam is never kept (R-38).
        else if (l.labelIds.includes('SPAM')) state.set(l.message.id, 'removed');
      }
      for (const l of record.labelsRemoved ?? []) {
        // Restored from Trash, or marked "not spam": it is mail again and is decided like new mail.
        if ((l.labelIds.includes('TRASH') || l.labelIds.includes('SPAM')) && !(l.message.labelIds ?? []).includes('TRASH')) state.set(l.message.id, 'added');
      }
    }
    const addedIds = [...state].filter(([, s]) => s === 'added').map(([id]) => id);
    const removed = [...state].filter(([, s]) => s === 'removed').map(([id]) => id);
    const facts = await this.headers(accessToken, addedIds);
    const added = addedIds.map((id) => facts.get(id)).filter((m): m is MessageFacts => m !== undefined);
    // A message added and deleted before we looked is simply gone.
    for (const id of addedIds) if (!facts.has(id)) removed.push(id);
    const more = page.nextPageToken !== undefined;
    const next: Opaque = more ? { historyId: start, pageToken: page.nextPageToken } : { historyId: String(page.historyId) };
    return { added, removed, cursor: next, more };
  }

  async headers(accessToken: string, ids: readonly string[]): Promise<Map<string, MessageFacts>> {
    const params = new URLSearchParams({ format: 'metadata' });
    for (const h of METADATA_HEADERS) params.append('metadataHeaders', h);
    const out = new Map<string, MessageFacts>();
    for (const [id, message] of await this.getMany(accessToken, ids, params, METADATA_BATCH)) out.set(id, gmailFacts(message));
    return out;
  }

  async raw(accessToken: string, ids: readonly string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const [id, message] of await this.getMany(accessToken, ids, new URLSearchParams({ format: 'raw' }), RAW_BATCH)) {
      if (typeof message.raw === 'string') out.set(id, Buffer.from(message.raw, 'base64url'));
    }
    return out;
  }

  /** R-39: `messages.list` with the same `q` as the historical scan, for these addresses only; no history point. */
  async addressPage(accessToken: string, input: HistoricalScanInput): Promise<AddressScanPage> {
    const queries = gmailQueries(input.addresses, { after: input.since });
    const at = (input.checkpoint as { chunk: number; pageToken: string | null } | null) ?? { chunk: 0, pageToken: null };
    if (at.chunk >= queries.length) return { messages: [], checkpoint: null };
    const params = new URLSearchParams({ q: queries[at.chunk]!, maxResults: String(LIST_PAGE) });
    if (at.pageToken) params.set('pageToken', at.pageToken);
    const list = await this.get<{ messages?: GmailRef[]; nextPageToken?: string }>(accessToken, '/messages', params);
    const facts = await this.headers(accessToken, (list.messages ?? []).map((m) => m.id));
    const messages = (list.messages ?? []).map((m) => facts.get(m.id)).filter((m): m is MessageFacts => m !== undefined);
    const next = list.nextPageToken ? { chunk: at.chunk, pageToken: list.nextPageToken } : { chunk: at.chunk + 1, pageToken: null };
    return { messages, checkpoint: next.chunk >= queries.length ? null : next };
  }

  /** Whole threads by id, headers only (`threads.get?format=metadata`); a thread gone (404) is left out. */
  private async threads(accessToken: string, ids: readonly string[]): Promise<Map<string, GmailThread>> {
    const params = new URLSearchParams({ format: 'metadata' });
    for (const h of METADATA_HEADERS) params.append('metadataHeaders', h);
    return this.getEach<GmailThread>(accessToken, 'threads', ids, params, THREAD_BATCH);
  }

  /** `messages.get` for several ids: one call for one id, batches otherwise. A 404 leaves the id out. */
  private getMany(accessToken: string, ids: readonly string[], params: URLSearchParams, batchSize: number): Promise<Map<string, GmailMessage>> {
    return this.getEach<GmailMessage>(accessToken, 'messages', ids, params, batchSize);
  }

  /** A `get` of each id in a collection (`messages`, `threads`): one call for one id, batches otherwise. A 404 leaves the id out. */
  private async getEach<T extends { id: string }>(accessToken: string, collection: 'messages' | 'threads', ids: readonly string[], params: URLSearchParams, batchSize: number): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    const unique = [...new Set(ids)];
    if (unique.length === 1) {
      try {
        const item = await this.get<T>(accessToken, `/${collection}/${encodeURIComponent(unique[0]!)}`, params);
        out.set(item.id, item);
      } catch (error) {
        if (!(error instanceof ProviderError && error.details.status === 404)) throw error;
      }
      return out;
    }
    for (let i = 0; i < unique.length; i += batchSize) {
      const chunk = unique.slice(i, i + batchSize);
      const results = await this.batch(accessToken, chunk.map((id) => `/gmail/v1/users/me/${collection}/${encodeURIComponent(id)}?${params}`));
      const classify = classifier(this.now);
      for (const result of results) {
        if (result.status === 200) {
          const item = result.body as T;
          out.set(item.id, item);
          continue;
        }
        if (result.status === 404) continue;
        // A failed part fails the call, classified like a direct request (throttled parts carry Retry-After).
        const headers = new Headers(result.retryAfter !== undefined ? { 'retry-after': String(result.retryAfter) } : {});
        throw classify(result.status, result.body, headers) ?? genericError(result.status, headers, this.now());
      }
    }
    return out;
  }

  /** POST /batch/gmail/v1: multipart/mixed of `application/http` GET parts, answered in order. */
  private async batch(accessToken: string, paths: string[]): Promise<BatchResult[]> {
    const boundary = `batch_${randomBytes(12).toString('hex')}`;
    const body =
      paths.map((p, i) => `--${boundary}\r\nContent-Type: application/http\r\nContent-ID: <item${i}>\r\n\r\nGET ${p}\r\n\r\n`).join('') + `--${boundary}--\r\n`;
    const res = await providerFetch<string>(
      this.endpoints.batchGmail,
      { method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': `multipart/mixed; boundary=${boundary}` }, body, parse: 'text' },
      classifier(this.now),
      { now: this.now },
    );
    const type = res.headers.get('content-type') ?? '';
    const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
    if (!m) throw new ProviderError('transient', 'Gmail batch answer without a multipart boundary');
    const parts = parseBatchResponse(res.body, m[1] ?? m[2]!);
    const byId = new Map(parts.map((p) => [p.contentId, p]));
    return paths.map((_, i) => {
      const part = byId.get(`response-item${i}`) ?? parts[i];
      if (!part) throw new ProviderError('transient', 'Gmail batch answer is missing a part');
      return part;
    });
  }
}

function parseBatchResponse(text: string, boundary: string): Array<BatchResult & { contentId: string | null }> {
  const out: Array<BatchResult & { contentId: string | null }> = [];
  for (const chunk of text.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const [outerHead, ...restParts] = chunk.replace(/^\r?\n/, '').split(/\r?\n\r?\n/);
    const rest = restParts.join('\r\n\r\n');
    const contentId = /content-id:\s*<([^>]+)>/i.exec(outerHead ?? '')?.[1] ?? null;
    const split = rest.search(/\r?\n\r?\n/);
    const innerHead = split < 0 ? rest : rest.slice(0, split);
    const innerBody = split < 0 ? '' : rest.slice(split).replace(/^\r?\n\r?\n/, '').trim();
    const status = Number(/^HTTP\/[\d.]+\s+(\d{3})/.exec(innerHead.trim())?.[1] ?? 0);
    const retry = /retry-after:\s*(\S+)/i.exec(innerHead)?.[1];
    let body: unknown = innerBody;
    try {
      body = innerBody ? JSON.parse(innerBody) : undefined;
    } catch {
      // a non-JSON part body stays text
    }
    const retryAfter = retry !== undefined && Number.isFinite(Number(retry)) ? Number(retry) : undefined;
    out.push({ contentId, status, body, retryAfter });
  }
  return out;
}
