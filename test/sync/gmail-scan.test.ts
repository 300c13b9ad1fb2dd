import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryAdmits, oracle } from '../../sim/generator/index.ts';
import { gmailQueries } from '../../src/providers/google/gmail.ts';
import { runHistoricalSync } from '../../src/sync/engine.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';
import { canonical, expectedAfterHistorical, expectSameSet, mailboxCompany, startWorld, storedMessageIds, type World } from './helpers.ts';

const DAY = 86_400_000;

/** Every Gmail `get` the product sends while `body` runs, batch parts included: collection (`messages`, `threads`), id and query. */
async function recordGets(body: () => Promise<void>): Promise<Array<{ collection: string; id: string; format: string | null }>> {
  const gets: Array<{ collection: string; id: string; format: string | null }> = [];
  const record = (path: string) => {
    const m = /\/gmail\/v1\/users\/me\/(messages|threads)\/([^/?\s]+)(?:\?(\S*))?/.exec(path);
    if (m) gets.push({ collection: m[1]!, id: decodeURIComponent(m[2]!), format: new URLSearchParams(m[3] ?? '').get('format') });
  };
  const original = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (/\/batch\/gmail\/v1/.test(url) && typeof init?.body === 'string') for (const part of init.body.matchAll(/^GET (\S+)/gm)) record(part[1]!);
    else if ((init?.method ?? 'GET') === 'GET') record(new URL(url).pathname + new URL(url).search);
    return original(input, init);
  };
  try {
    await body();
  } finally {
    globalThis.fetch = original;
  }
  return gets;
}

describe.each(backends.map((b) => b.name))('Gmail historical scan on %s', (backendName) => {
  let database: Database;
  let world: World;

  beforeAll(async () => {
    database = await backends.find((b) => b.name === backendName)!.open();
    world = await startWorld(database);
  });
  afterAll(async () => {
    await world?.close();
    await database?.close();
  });

  it('reads the headers of each message once, of active threads only, never of drafts (R-27, R-36, R-38, R-41)', async () => {
    const c = await mailboxCompany(world, 'google', 'demo', 'gmail-scan');
    const g = c.generated;
    const deliver = (body: Record<string, unknown>) => world.control('POST', `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`, body) as Promise<{ id: string; threadId: string; messageId: string }>;
    const daysAgo = (days: number) => new Date(world.now.getTime() - days * DAY).toISOString();

    // Two pipeline candidates the seat holder may see whose addresses the scan asks for in different queries.
    const admitted = g.candidates.filter((x) => x.membership === 'active' && discoveryAdmits(x.discovery, x.degree));
    const queries = gmailQueries(
      admitted.flatMap((x) => x.emails),
      { after: new Date(0) },
    );
    expect(queries.length, 'the demo mailbox needs several queries').toBeGreaterThan(1);
    const queryOf = (address: string) => queries.findIndex((q) => new RegExp(`[{ ]${address.toLowerCase().replace(/[.+]/g, '\\$&')}[ }]`).test(q));
    const first = admitted.find((x) => queryOf(x.emails[0]!) === 0)!.emails[0]!;
    const last = admitted.find((x) => queryOf(x.emails[0]!) === queries.length - 1)!.emails[0]!;

    // Listed under both queries: one message, read once (R-30 keeps it out).
    const both = await deliver({ from: first, to: c.address, cc: [last], subject: 'Both of us', text: 'Hello', date: daysAgo(3), threadKey: 'scan-both' });
    // An active thread begun before the activity cut-off: its older message is read and ingested too.
    const older = await deliver({ from: first, to: c.address, subject: 'Long story', text: 'First', date: daysAgo(250), threadKey: 'scan-long' });
    const recent = await deliver({ from: c.address, to: first, subject: 'Re: Long story', text: 'Second', date: daysAgo(2), threadKey: 'scan-long' });
    // A thread with nothing in the last six months: never read.
    const stale = await deliver({ from: last, to: c.address, subject: 'Old news', text: 'Old', date: daysAgo(240), threadKey: 'scan-stale' });
    // A draft to a candidate: never read.
    const draft = await deliver({ from: c.address, to: first, subject: 'Unsent', text: 'Draft', date: daysAgo(1), folder: 'drafts', threadKey: 'scan-draft' });

    await world.control('DELETE', '/_sim/usage');
    const gets = await recordGets(async () => {
      expect(await runHistoricalSync(world.deps, c.grant.id)).toBe('completed');
    });

    const expected = await expectedAfterHistorical(world, c);
    expected.add(canonical(older.messageId));
    expected.add(canonical(recent.messageId));
    expectSameSet(await storedMessageIds(world, c), expected);

    const headerReads = gets.filter((x) => x.format === 'metadata');
    const messageReads = headerReads.filter((x) => x.collection === 'messages').map((x) => x.id);
    const threadReads = headerReads.filter((x) => x.collection === 'threads').map((x) => x.id);
    expect(messageReads.length, 'no message read twice').toBe(new Set(messageReads).size);
    expect(threadReads.length, 'no thread read twice').toBe(new Set(threadReads).size);
    expect(threadReads.length, 'threads with several listed messages are read whole').toBeGreaterThan(0);

    // Which message and thread each read touched, in the generated mailbox's terms.
    const byId = new Map([...c.ids].map(([key, v]) => [v.id, { key, threadId: v.threadId }]));
    const threadOf = new Map([...c.ids].map(([, v]) => [v.id, v.threadId]));
    for (const m of [both, older, recent, stale, draft]) threadOf.set(m.id, m.threadId);
    const state = await world.api.ctx.db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
    const outcome = oracle(g, { authorizedAt: c.grant.last_authorized_at, firstAuthorizedAt: c.grant.first_authorized_at, syncAt: state.historical_started_at! });
    const inactiveThreads = new Set([stale.threadId]);
    for (const [key, v] of c.ids) if (outcome.get(key)!.failing.includes('R-36')) inactiveThreads.add(v.threadId);
    const drafts = new Set([draft.id, ...g.messages.filter((m) => m.folder === 'drafts').map((m) => c.ids.get(m.key)!.id)]);

    const readThreads = new Set(threadReads);
    for (const id of messageReads) {
      expect(readThreads.has(threadOf.get(id)!), `message ${byId.get(id)?.key ?? id} read again after its thread`).toBe(false);
      expect(drafts.has(id), `draft ${byId.get(id)?.key ?? id} read`).toBe(false);
      expect(inactiveThreads.has(threadOf.get(id)!), `message ${byId.get(id)?.key ?? id} of an inactive thread read`).toBe(false);
    }
    for (const id of threadReads) expect(inactiveThreads.has(id), `inactive thread ${id} read`).toBe(false);
    expect([...messageReads, ...threadReads].some((id) => id === both.id || id === both.threadId)).toBe(true);

    // The message listed under two queries was decided once; the draft and the inactive thread not at all.
    const decisions = await world.api.ctx.db.selectFrom('ingestion_decisions').select(['provider_message_id', 'rule']).where('seat_id', '=', c.seat.id).execute();
    expect(decisions.filter((d) => d.provider_message_id === both.id).map((d) => d.rule)).toEqual(['R-30']);
    expect(decisions.filter((d) => d.provider_message_id === draft.id || d.provider_message_id === stale.id)).toEqual([]);
  });
});
