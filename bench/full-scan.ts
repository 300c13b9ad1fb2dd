/**
 * The strategy of mailbox-wide importers, for comparison with ours: list every message of the mailbox, get every
 * one of them in full (Gmail `format=full`, Graph MIME by `$value`), and only then filter with the same rules.
 * It runs against the same simulator and is charged by the same quota accounting as the product's sync; a
 * throttled call waits its Retry-After (through `wait`, as the product's own sync does) and is asked again.
 */
import { randomBytes } from 'node:crypto';
import { activityCutoff, windowStart, type SyncContext } from '../src/domain/ingestion/index.ts';
import { googleEndpoints, microsoftEndpoints } from '../src/providers/endpoints.ts';
import { gmailFacts } from '../src/providers/google/gmail.ts';
import { graphFacts } from '../src/providers/microsoft/graph.ts';
import { accessTokenFor } from '../src/services/access-tokens.ts';
import { CandidateCache, decideBatch, loadSeatMailbox, type MessageFacts } from '../src/sync/ingest/index.ts';
import type { SyncDeps } from '../src/sync/engine.ts';
import type { Provider } from './world.ts';

/** Waits `seconds` as a throttled client must (the benchmark may skip the wait by moving the clocks instead). */
export type Wait = (seconds: number) => Promise<void>;

export interface FullScanResult {
  listed: number;
  fetched: number;
  /** Provider message ids the rules let in, decided after everything was fetched. */
  ingested: Set<string>;
  /** Their RFC 5322 Message-IDs, without angle brackets, lower case. */
  ingestedMessageIds: Set<string>;
  throttled: number;
}

const GMAIL_BATCH = 100;
const GRAPH_BATCH = 20;
const GRAPH_LIST_PAGE = 1000;
const GRAPH_SELECT = ['id', 'conversationId', 'internetMessageId', 'subject', 'from', 'sender', 'toRecipients', 'ccRecipients', 'bccRecipients', 'receivedDateTime', 'sentDateTime', 'isDraft', 'parentFolderId'].join(',');

interface Answer {
  status: number;
  body: unknown;
  retryAfter: number;
}

/** One HTTP call, repeated while the provider throttles it. */
async function call(url: string, init: RequestInit, wait: Wait, onThrottle: () => void): Promise<Response> {
  for (;;) {
    const res = await fetch(url, init);
    if (res.status === 429 || (res.status === 403 && /RateLimitExceeded/i.test(await res.clone().text()))) {
      onThrottle();
      await res.arrayBuffer();
      await wait(Number(res.headers.get('retry-after') ?? '1'));
      continue;
    }
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url} → ${res.status} ${(await res.text()).slice(0, 300)}`);
    return res;
  }
}

/** Runs `parts` (each one provider call) through `send` until every part has an answer other than a throttle. */
async function untilAnswered<T>(parts: T[], send: (parts: T[]) => Promise<Answer[]>, wait: Wait, onThrottle: () => void): Promise<Map<T, Answer>> {
  const out = new Map<T, Answer>();
  let pending = parts;
  while (pending.length > 0) {
    const answers = await send(pending);
    const again: T[] = [];
    let retryAfter = 0;
    answers.forEach((a, i) => {
      const throttled = a.status === 429 || (a.status === 403 && /RateLimitExceeded/i.test(JSON.stringify(a.body)));
      if (throttled) {
        again.push(pending[i]!);
        retryAfter = Math.max(retryAfter, a.retryAfter);
      } else out.set(pending[i]!, a);
    });
    if (again.length > 0) {
      onThrottle();
      await wait(Math.max(1, retryAfter));
    }
    pending = again;
  }
  return out;
}

function parseMultipart(text: string, boundary: string): Answer[] {
  const out: Answer[] = [];
  for (const chunk of text.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const parts = chunk.replace(/^\r?\n/, '').split(/\r?\n\r?\n/);
    const innerHead = parts[1] ?? '';
    const innerBody = parts.slice(2).join('\r\n\r\n').trim();
    const status = Number(/^HTTP\/[\d.]+\s+(\d{3})/.exec(innerHead.trim())?.[1] ?? 0);
    const retryAfter = Number(/retry-after:\s*(\d+)/i.exec(innerHead)?.[1] ?? 1);
    out.push({ status, body: innerBody ? JSON.parse(innerBody) : null, retryAfter });
  }
  return out;
}

/** Gmail: `messages.list` page after page (500 a page), then `messages.get?format=full` for all, 100 per batch. */
async function gmailScan(deps: SyncDeps, authorizationId: string, wait: Wait, baseUrl: string, stats: { throttled: number }): Promise<MessageFacts[]> {
  const endpoints = googleEndpoints(`${baseUrl}/google`);
  const onThrottle = () => stats.throttled++;
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const token = await accessTokenFor(deps, authorizationId);
    const params = new URLSearchParams({ maxResults: '500', ...(pageToken ? { pageToken } : {}) });
    const res = await call(`${endpoints.gmail}/users/me/messages?${params}`, { headers: { authorization: `Bearer ${token}` } }, wait, onThrottle);
    const page = (await res.json()) as { messages?: Array<{ id: string }>; nextPageToken?: string };
    for (const m of page.messages ?? []) ids.push(m.id);
    pageToken = page.nextPageToken;
  } while (pageToken);

  const facts: MessageFacts[] = [];
  for (let i = 0; i < ids.length; i += GMAIL_BATCH) {
    const answers = await untilAnswered(
      ids.slice(i, i + GMAIL_BATCH),
      async (chunk) => {
        const token = await accessTokenFor(deps, authorizationId);
        const boundary = `batch_${randomBytes(8).toString('hex')}`;
        const body = chunk.map((id, j) => `--${boundary}\r\nContent-Type: application/http\r\nContent-ID: <item${j}>\r\n\r\nGET /gmail/v1/users/me/messages/${id}?format=full\r\n\r\n`).join('') + `--${boundary}--\r\n`;
        const res = await call(endpoints.batchGmail, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/mixed; boundary=${boundary}` }, body }, wait, onThrottle);
        const answerBoundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(res.headers.get('content-type') ?? '');
        return parseMultipart(await res.text(), answerBoundary![1] ?? answerBoundary![2]!);
      },
      wait,
      onThrottle,
    );
    for (const answer of answers.values()) {
      if (answer.status === 200) facts.push(gmailFacts(answer.body as Parameters<typeof gmailFacts>[0]));
      else if (answer.status !== 404) throw new Error(`messages.get → ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
    }
  }
  return facts;
}

/** Graph: `/me/messages` (every folder) 1,000 a page with the header fields, then each message's MIME, 20 per `$batch`. */
async function graphScan(deps: SyncDeps, authorizationId: string, wait: Wait, baseUrl: string, stats: { throttled: number }, inline: boolean): Promise<MessageFacts[]> {
  const graph = microsoftEndpoints(`${baseUrl}/microsoft`).graph;
  const onThrottle = () => stats.throttled++;
  const headers = async () => ({ authorization: `Bearer ${await accessTokenFor(deps, authorizationId)}`, prefer: 'IdType="ImmutableId"' });
  const folderNames = ['sentitems', 'deleteditems', 'junkemail', 'drafts'] as const;
  const folders: Record<string, string> = {};
  for (const name of folderNames) {
    const res = await call(`${graph}/me/mailFolders/${name}?$select=id`, { headers: await headers() }, wait, onThrottle);
    folders[name] = ((await res.json()) as { id: string }).id;
  }
  const listed: Array<Parameters<typeof graphFacts>[0]> = [];
  // Inline: no $select, so every message comes with its body in the list pages.
  let next: string | undefined = `${graph}/me/messages?${new URLSearchParams(inline ? { $top: String(GRAPH_LIST_PAGE) } : { $select: GRAPH_SELECT, $top: String(GRAPH_LIST_PAGE) })}`;
  while (next) {
    const res = await call(next, { headers: await headers() }, wait, onThrottle);
    const page = (await res.json()) as { value?: Array<Parameters<typeof graphFacts>[0]>; '@odata.nextLink'?: string };
    listed.push(...(page.value ?? []));
    next = page['@odata.nextLink'];
  }
  const folderIds = { sentitems: folders.sentitems!, deleteditems: folders.deleteditems!, junkemail: folders.junkemail!, drafts: folders.drafts! };
  if (inline) return listed.map((m) => graphFacts(m, folderIds));
  const fetched = new Set<string>();
  for (let i = 0; i < listed.length; i += GRAPH_BATCH) {
    const answers = await untilAnswered(
      listed.slice(i, i + GRAPH_BATCH).map((m) => m.id),
      async (chunk) => {
        const requests = chunk.map((id, j) => ({ id: String(j), method: 'GET', url: `/me/messages/${encodeURIComponent(id)}/$value` }));
        const res = await call(`${graph}/$batch`, { method: 'POST', headers: { ...(await headers()), 'content-type': 'application/json' }, body: JSON.stringify({ requests }) }, wait, onThrottle);
        const { responses } = (await res.json()) as { responses: Array<{ id: string; status: number; headers?: Record<string, string>; body?: unknown }> };
        const byId = new Map(responses.map((r) => [r.id, r]));
        return chunk.map((_, j) => {
          const r = byId.get(String(j))!;
          return { status: r.status, body: r.body, retryAfter: Number(r.headers?.['retry-after'] ?? r.headers?.['Retry-After'] ?? 1) };
        });
      },
      wait,
      onThrottle,
    );
    for (const [id, answer] of answers) {
      if (answer.status === 200) fetched.add(id);
      else if (answer.status !== 404) throw new Error(`$value → ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
    }
  }
  return listed.filter((m) => fetched.has(m.id)).map((m) => graphFacts(m, folderIds));
}

/**
 * The full scan of one seat's mailbox, then the filter: the same SPEC §4 decisions as the product (R-35 window,
 * R-36 thread activity from everything fetched, participant rules), nothing stored. `inline` (Graph only): the
 * list pages carry the bodies, so no message is fetched on its own — fewer requests, the same bodies served.
 */
export async function fullScan(deps: SyncDeps, provider: Provider, authorizationId: string, baseUrl: string, wait: Wait, options: { inline?: boolean } = {}): Promise<FullScanResult> {
  const stats = { throttled: 0 };
  const facts = provider === 'google' ? await gmailScan(deps, authorizationId, wait, baseUrl, stats) : await graphScan(deps, authorizationId, wait, baseUrl, stats, options.inline === true);
  const grant = await deps.db.selectFrom('mailbox_authorizations').select(['seat_id']).where('id', '=', authorizationId).executeTakeFirstOrThrow();
  const mailbox = await loadSeatMailbox(deps.db, grant.seat_id);
  const now = deps.clock.now();
  const sync: SyncContext = { kind: 'historical', now, windowStart: windowStart({ authorizedAt: mailbox.lastAuthorizedAt, firstAuthorizedAt: mailbox.firstAuthorizedAt, ...(deps.legacy ? { legacy: deps.legacy } : {}) }) };
  // R-36 from the whole mailbox at once: the latest activity of each thread (drafts are no activity).
  const cutoff = activityCutoff(now).getTime();
  const activity = new Map<string, number>();
  for (const m of facts) {
    const t = m.date.getTime();
    if (m.isDraft || Number.isNaN(t) || t < cutoff) continue;
    activity.set(m.providerThreadId, Math.max(activity.get(m.providerThreadId) ?? 0, t));
  }
  const candidates = await new CandidateCache(deps.db).lookupFor(mailbox.contractId, mailbox.holderUserId);
  const ingested = new Set<string>();
  const ingestedMessageIds = new Set<string>();
  for (let i = 0; i < facts.length; i += 500) {
    const page = facts.slice(i, i + 500).map((m) => {
      const t = activity.get(m.providerThreadId);
      return t === undefined ? m : { ...m, threadLastActivityAt: new Date(t) };
    });
    const decisions = await decideBatch(deps.db, mailbox.seatId, page, { owner: mailbox.owner, candidates, sync });
    page.forEach((m, j) => {
      if (!decisions[j]!.ingested) return;
      ingested.add(m.providerMessageId);
      if (m.rfcMessageId) ingestedMessageIds.add(m.rfcMessageId.trim().replace(/^<|>$/g, '').toLowerCase());
    });
  }
  return { listed: facts.length, fetched: facts.length, ingested, ingestedMessageIds, throttled: stats.throttled };
}
