import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ, startGoogleSim, T0, type GoogleSim } from './harness.ts';

let sim: GoogleSim;
let token: string;
const ME = 'rec@acme.com';
type Ids = { id: string; threadId: string; messageId: string };
const ids = {} as { cand: Ids; reply: Ids; spam: Ids };

beforeAll(async () => {
  sim = await startGoogleSim();
  token = await sim.mailboxWithToken(ME);
  const day = 86400e3;
  // 250 newsletters over 250 days, plus a few addressed messages
  for (let i = 0; i < 250; i++) {
    await sim.state.mail.deliver(ME, { from: `news${i % 3}@letters.io`, to: ME, subject: `Issue ${i}`, text: `Newsletter ${i}`, date: new Date(T0.getTime() - (i + 1) * day) });
  }
  ids.cand = await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'Cara Cand <cara@cand.org>', to: ME, subject: 'Application', text: "Hello, I'd like to apply.\n\nCara", date: '2025-03-01T10:00:00Z' });
  ids.reply = await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: ME, to: 'cara@cand.org', cc: 'boss@acme.com', subject: 'Re: Application', html: '<p>Thanks <b>Cara</b></p>', folder: 'sent', inReplyTo: ids.cand.messageId, date: '2025-03-01T11:00:00Z' });
  ids.spam = await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'cara@cand.org', to: ME, subject: 'Buy', text: 'spam', folder: 'spam', date: '2025-03-01T12:00:00Z' });
});
afterAll(() => sim.close());

const list = async (query: Record<string, string | string[]>) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) u.append(k, x);
  return sim.api(token, 'GET', `/gmail/v1/users/me/messages?${u}`);
};

describe('messages.list', () => {
  it('pages to the end with nextPageToken, newest first, default 100 and max 500', async () => {
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const r = await list({ ...(pageToken ? { pageToken } : {}) });
      expect(r.status).toBe(200);
      seen.push(...r.body.messages.map((m: { id: string }) => m.id));
      expect(r.body.messages.length).toBeLessThanOrEqual(100);
      pageToken = r.body.nextPageToken;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(252); // spam excluded
    expect(seen).not.toContain(ids.spam.id);
    const dates = seen.map((id) => sim.state.mail.message(ME, id)!.internalDate.getTime());
    expect(dates).toEqual([...dates].sort((a, b) => b - a));
    const big = await list({ maxResults: '1000' });
    expect(big.body.messages.length).toBe(252);
    expect(big.body.nextPageToken).toBeUndefined();
  });

  it('filters with q: after/before in epoch seconds and dates, address operators, OR-groups, negation, in:/label:', async () => {
    const since = Math.floor(new Date('2025-02-28T00:00:00Z').getTime() / 1000);
    const after = await list({ q: `after:${since}` });
    // three newsletters (Mar 2, Mar 1, Feb 28 at noon) and the two candidate messages; spam is excluded
    expect(after.body.messages).toHaveLength(5);
    expect(after.body.messages.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining([ids.cand.id, ids.reply.id]));
    const both = await list({ q: `{from:cara@cand.org to:cara@cand.org cc:cara@cand.org}` });
    expect(both.body.messages.map((m: { id: string }) => m.id).sort()).toEqual([ids.cand.id, ids.reply.id].sort());
    const withSpam = await list({ q: 'from:cara@cand.org', includeSpamTrash: 'true' });
    expect(withSpam.body.messages.map((m: { id: string }) => m.id).sort()).toEqual([ids.cand.id, ids.spam.id].sort());
    const inSpam = await list({ q: 'in:spam' });
    expect(inSpam.body.messages.map((m: { id: string }) => m.id)).toEqual([ids.spam.id]);
    const sent = await list({ labelIds: 'SENT' });
    expect(sent.body.messages.map((m: { id: string }) => m.id)).toEqual([ids.reply.id]);
    const notNews = await list({ q: 'after:2025/02/01 -from:letters.io' });
    expect(notNews.body.messages.map((m: { id: string }) => m.id).sort()).toEqual([ids.cand.id, ids.reply.id].sort());
    const orWords = await list({ q: 'from:news0@letters.io OR from:news1@letters.io before:2024/08/01' });
    expect(orWords.body.resultSizeEstimate).toBeGreaterThan(0);
    const window = await list({ q: `after:${since - 3 * 86400} before:${since}` });
    expect(window.body.messages.length).toBe(3);
    const none = await list({ q: 'from:nobody@nowhere.test' });
    expect(none.body).toEqual({ resultSizeEstimate: 0 });
    const bad = await list({ maxResults: 'ten' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe(400);
  });
});

describe('messages.get', () => {
  it('serves minimal, metadata, full and raw as Gmail shapes them', async () => {
    const path = `/gmail/v1/users/me/messages/${ids.reply.id}`;
    const minimal = await sim.api(token, 'GET', `${path}?format=minimal`);
    expect(Object.keys(minimal.body).sort()).toEqual(['historyId', 'id', 'internalDate', 'labelIds', 'sizeEstimate', 'snippet', 'threadId']);
    expect(minimal.body.internalDate).toBe(String(Date.parse('2025-03-01T11:00:00Z')));
    expect(minimal.body.labelIds).toEqual(['SENT']);
    expect(minimal.body.threadId).toBe(ids.cand.id);
    expect(minimal.body.snippet).toBe('Thanks Cara');

    const meta = await sim.api(token, 'GET', `${path}?format=metadata&metadataHeaders=From&metadataHeaders=cc&metadataHeaders=Subject`);
    expect(meta.body.payload.headers.map((h: { name: string }) => h.name.toLowerCase()).sort()).toEqual(['cc', 'from', 'subject']);
    expect(meta.body.payload.headers.find((h: { name: string }) => h.name === 'Subject').value).toBe('Re: Application');

    const full = await sim.api(token, 'GET', `/gmail/v1/users/me/messages/${ids.cand.id}?format=full`);
    expect(full.body.payload.mimeType).toBe('text/plain');
    expect(Buffer.from(full.body.payload.body.data, 'base64url').toString().trimEnd()).toBe("Hello, I'd like to apply.\n\nCara");
    expect(full.body.payload.body.data).not.toMatch(/[+/=]/);
    expect(full.body.snippet).toBe('Hello, I&#39;d like to apply. Cara');

    const raw = await sim.api(token, 'GET', `${path}?format=raw`);
    const text = Buffer.from(raw.body.raw, 'base64url').toString();
    expect(text).toContain('In-Reply-To: ' + ids.cand.messageId);
    expect(raw.body.payload).toBeUndefined();

    const missing = await sim.api(token, 'GET', '/gmail/v1/users/me/messages/0000000000000001');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 404, status: 'NOT_FOUND', errors: [{ reason: 'notFound', domain: 'global' }] });
  });

  it('serves threads.get with every message of the thread', async () => {
    const t = await sim.api(token, 'GET', `/gmail/v1/users/me/threads/${ids.cand.threadId}?format=minimal`);
    expect(t.body.messages.map((m: { id: string }) => m.id)).toEqual([ids.cand.id, ids.reply.id]);
  });

  it('reports the profile, aliases and labels', async () => {
    const p = await sim.api(token, 'GET', '/gmail/v1/users/me/profile');
    expect(p.body).toMatchObject({ emailAddress: ME, messagesTotal: 253 });
    expect(Number(p.body.historyId)).toBeGreaterThan(0);
    const sendAs = await sim.api(token, 'GET', '/gmail/v1/users/me/settings/sendAs');
    expect(sendAs.body.sendAs[0]).toMatchObject({ sendAsEmail: ME, isPrimary: true });
    const labels = await sim.api(token, 'GET', '/gmail/v1/users/me/labels');
    expect(labels.body.labels.map((l: { id: string }) => l.id)).toContain('INBOX');
  });

  it('refuses a token without a Gmail scope', async () => {
    const t = await sim.authorize(ME, ['openid', 'email', 'https://www.googleapis.com/auth/calendar.events']);
    const r = await sim.api(t.access_token!, 'GET', '/gmail/v1/users/me/messages');
    expect(r.status).toBe(403);
    expect(r.body.error.errors[0].reason).toBe('insufficientPermissions');
    expect(READ).toContain('gmail.readonly');
  });
});

describe('history.list', () => {
  it('reports additions, trashing and permanent deletion since a historyId', async () => {
    const start = (await sim.api(token, 'GET', '/gmail/v1/users/me/profile')).body.historyId as string;
    const a = await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'x@y.org', subject: 'one', text: '1' });
    const b = await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'x@y.org', subject: 'two', text: '2' });
    await sim.ok('DELETE', `/_sim/mailboxes/${ME}/messages/${a.id}?mode=trash`);
    await sim.ok('DELETE', `/_sim/mailboxes/${ME}/messages/${b.id}?mode=permanent`);
    const h = await sim.api(token, 'GET', `/gmail/v1/users/me/history?startHistoryId=${start}`);
    expect(h.status).toBe(200);
    const recs = h.body.history;
    expect(recs).toHaveLength(4);
    expect(recs[0].messagesAdded[0].message).toMatchObject({ id: a.id, labelIds: expect.arrayContaining(['INBOX']) });
    expect(recs[2].labelsAdded[0]).toMatchObject({ message: { id: a.id }, labelIds: ['TRASH'] });
    expect(recs[2].labelsRemoved[0].labelIds).toContain('INBOX');
    expect(recs[3].messagesDeleted[0].message).toEqual({ id: b.id, threadId: b.threadId });
    expect(h.body.historyId).toBe(recs[3].id);
    // paging and filters
    const p1 = await sim.api(token, 'GET', `/gmail/v1/users/me/history?startHistoryId=${start}&maxResults=3`);
    expect(p1.body.history).toHaveLength(3);
    const p2 = await sim.api(token, 'GET', `/gmail/v1/users/me/history?startHistoryId=${start}&maxResults=3&pageToken=${p1.body.nextPageToken}`);
    expect(p2.body.history.map((r: { id: string }) => r.id)).toEqual([recs[3].id]);
    const deletedOnly = await sim.api(token, 'GET', `/gmail/v1/users/me/history?startHistoryId=${start}&historyTypes=messageDeleted`);
    expect(deletedOnly.body.history).toHaveLength(1);
    const inbox = await sim.api(token, 'GET', `/gmail/v1/users/me/history?startHistoryId=${start}&labelId=SENT`);
    expect(inbox.body.history).toBeUndefined();
    // the trashed message is still readable with TRASH, the deleted one is gone
    expect((await sim.api(token, 'GET', `/gmail/v1/users/me/messages/${a.id}?format=minimal`)).body.labelIds).toContain('TRASH');
    expect((await sim.api(token, 'GET', `/gmail/v1/users/me/messages/${b.id}`)).status).toBe(404);
  });

  it('answers 404 for a startHistoryId older than the retention, and on an injected cursor_expired', async () => {
    const start = (await sim.api(token, 'GET', '/gmail/v1/users/me/profile')).body.historyId as string;
    await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'x@y.org', subject: 'three', text: '3' });
    expect((await sim.api(token, 'GET', `/gmail/v1/users/me/history?startHistoryId=${start}`)).status).toBe(200);
    await sim.ok('POST', '/_sim/faults', { provider: 'google', match: { path: '/history' }, fault: 'cursor_expired' });
    expect((await sim.api(token, 'GET', `/gmail/v1/users/me/history?startHistoryId=${start}`)).status).toBe(404);
    sim.state.clock.advance(8 * 86400e3);
    const t = (await sim.tokenRequest({ grant_type: 'refresh_token', refresh_token: (await sim.authorize(ME, [READ])).refresh_token! })).body.access_token!;
    await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'x@y.org', subject: 'four', text: '4' });
    const old = await sim.api(t, 'GET', `/gmail/v1/users/me/history?startHistoryId=${start}`);
    expect(old.status).toBe(404);
    expect(old.body.error.errors[0].reason).toBe('notFound');
    const fresh = (await sim.api(t, 'GET', '/gmail/v1/users/me/profile')).body.historyId as string;
    expect((await sim.api(t, 'GET', `/gmail/v1/users/me/history?startHistoryId=${fresh}`)).status).toBe(200);
    token = t;
  });
});
