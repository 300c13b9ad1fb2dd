import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliver, graph, mailbox, makeSim, setClock, signIn, T0, type Sim } from './harness.ts';

let sim: Sim;
let g: ReturnType<typeof graph>;
const ME = 'rita@contoso.com';

beforeEach(async () => {
  sim = await makeSim();
  await mailbox(sim, ME);
  const t = await signIn(sim, ME, ['offline_access', 'User.Read', 'Mail.ReadWrite', 'Mail.Send']);
  g = graph(sim, t.access_token);
});
afterEach(() => sim.close());

const at = (minutes: number) => new Date(T0.getTime() - minutes * 60_000).toISOString();

async function drain(first: string, headers: Record<string, string> = {}) {
  const items: Array<Record<string, unknown>> = [];
  let url: string | undefined = first;
  let pages = 0;
  let deltaLink = '';
  while (url) {
    const res = await g.get(url, headers);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    items.push(...body.value);
    pages++;
    url = body['@odata.nextLink'];
    if (body['@odata.deltaLink']) deltaLink = body['@odata.deltaLink'];
  }
  return { items, pages, deltaLink };
}

describe('mail folders and messages/delta', () => {
  it('lists well-known folders and resolves names and ids', async () => {
    const list = await g.get('/me/mailFolders');
    expect(list.statusCode).toBe(200);
    const names = list.json().value.map((f: { displayName: string }) => f.displayName);
    expect(names).toEqual(expect.arrayContaining(['Inbox', 'Sent Items', 'Deleted Items', 'Drafts', 'Junk Email']));
    const inbox = (await g.get('/me/mailFolders/inbox')).json();
    expect((await g.get(`/me/mailFolders/${inbox.id}`)).json().displayName).toBe('Inbox');
    expect((await g.get("/me/mailFolders('SentItems')")).json().displayName).toBe('Sent Items');
  });

  it('initial round pages to the end, then the deltaLink reports deliveries, moves and deletions', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await deliver(sim, ME, { from: `c${i}@example.org`, subject: `m${i}`, text: `body ${i}`, date: at(100 - i) })).id);
    await deliver(sim, ME, { from: 'spam@example.org', subject: 'junk', text: 'x', folder: 'spam' });
    const first = await drain('/me/mailFolders/inbox/messages/delta?$select=subject,from,receivedDateTime', { prefer: 'odata.maxpagesize=3, IdType="ImmutableId"' });
    expect(first.pages).toBe(3);
    expect(first.items.map((m) => m.subject)).toEqual(['m6', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0']);
    expect(first.items[0]).toMatchObject({ '@odata.type': '#microsoft.graph.message', from: { emailAddress: { address: 'c6@example.org' } } });
    expect(first.items[0]).not.toHaveProperty('body');
    expect(first.items.map((m) => m.id)).toEqual([...ids].reverse());
    expect(first.deltaLink).toContain('$deltatoken=');

    // Nothing changed: empty round.
    const idle = await g.get(first.deltaLink, { prefer: 'IdType="ImmutableId"' });
    expect(idle.json().value).toEqual([]);
    expect(idle.json()['@odata.deltaLink']).toBeTruthy();

    const fresh = await deliver(sim, ME, { from: 'new@example.org', subject: 'new', text: 'hi' });
    await sim.app.inject({ method: 'DELETE', url: `/_sim/mailboxes/${ME}/messages/${ids[0]}?mode=trash` });
    await sim.app.inject({ method: 'DELETE', url: `/_sim/mailboxes/${ME}/messages/${ids[1]}?mode=permanent` });
    const second = await drain(idle.json()['@odata.deltaLink'], { prefer: 'IdType="ImmutableId"' });
    const byId = new Map(second.items.map((m) => [m.id as string, m]));
    expect(byId.get(fresh.id)).toMatchObject({ subject: 'new' });
    expect(byId.get(ids[0]!)).toEqual({ '@odata.type': '#microsoft.graph.message', id: ids[0], '@removed': { reason: 'deleted' } });
    expect(byId.get(ids[1]!)).toEqual({ '@odata.type': '#microsoft.graph.message', id: ids[1], '@removed': { reason: 'deleted' } });
    expect(second.items).toHaveLength(3);

    // The trashed message shows up in Deleted Items' own delta.
    const trash = await drain('/me/mailFolders/deleteditems/messages/delta?$select=subject', { prefer: 'IdType="ImmutableId"' });
    expect(trash.items.map((m) => m.id)).toEqual([ids[0]]);
  });

  it('without ImmutableId the id changes when a message moves folders; the old id no longer resolves', async () => {
    const d = await deliver(sim, ME, { from: 'a@example.org', subject: 'moving', text: 'x' });
    const inbox = await drain('/me/mailFolders/inbox/messages/delta?$select=subject');
    const regularId = inbox.items[0]!.id as string;
    expect(regularId).not.toBe(d.id);
    expect(regularId).toMatch(/^AAMkA[A-Za-z0-9_-]+=*$/);
    expect((await g.get(`/me/messages/${regularId}?$select=subject`)).statusCode).toBe(200);
    const moved = await g.post(`/me/messages/${regularId}/move`, { destinationId: 'deleteditems' });
    expect(moved.statusCode).toBe(201);
    expect(moved.json().id).not.toBe(regularId);
    const stale = await g.get(`/me/messages/${regularId}`);
    expect(stale.statusCode).toBe(404);
    expect(stale.json().error.code).toBe('ErrorItemNotFound');
    const changes = await drain(inbox.deltaLink);
    expect(changes.items).toEqual([{ '@odata.type': '#microsoft.graph.message', id: regularId, '@removed': { reason: 'deleted' } }]);
    // The immutable id keeps working across the move.
    expect((await g.get(`/me/messages/${d.id}?$select=parentFolderId`, { prefer: 'IdType="ImmutableId"' })).json().id).toBe(d.id);
  });

  it('$filter=receivedDateTime ge caps the initial round at 5,000 messages (newest), later rounds are not capped', async () => {
    // Raw bytes keep bulk delivery cheap (no MIME composition per message).
    const raw = (from: string, subject: string, date: Date) =>
      Buffer.from(`From: ${from}\r\nTo: ${ME}\r\nSubject: ${subject}\r\nDate: ${date.toUTCString()}\r\nMessage-ID: <${subject}.${date.getTime()}@example.org>\r\n\r\nt\r\n`);
    const inputs = Array.from({ length: 5003 }, (_, i) => {
      const date = new Date(T0.getTime() - (6000 - i) * 60_000);
      return { raw: raw(`p${i}@example.org`, `s${i}`, date), date };
    });
    await sim.state.mail.deliverMany(ME, inputs);
    const since = new Date(T0.getTime() - 7000 * 60_000).toISOString();
    const round = await drain(`/me/mailFolders/inbox/messages/delta?$select=subject&$filter=receivedDateTime ge ${since}`, { prefer: 'odata.maxpagesize=1000, IdType="ImmutableId"' });
    expect(round.items).toHaveLength(5000);
    expect(round.items[0]!.subject).toBe('s5002');
    expect(round.items.at(-1)!.subject).toBe('s3');
    const cutoff = new Date(T0.getTime() - (6000 - 5000) * 60_000).toISOString();
    const filtered = await drain(`/me/mailFolders/inbox/messages/delta?$select=subject&$filter=receivedDateTime ge ${cutoff}`, { prefer: 'odata.maxpagesize=1000' });
    expect(filtered.items.map((m) => m.subject)).toEqual(['s5002', 's5001', 's5000']);
    await sim.state.mail.deliverMany(ME, Array.from({ length: 5003 }, (_, i) => ({ raw: raw(`q${i}@example.org`, `n${i}`, T0), date: T0 })));
    const next = await drain(round.deltaLink, { prefer: 'odata.maxpagesize=1000' });
    expect(next.items).toHaveLength(5003);
  }, 60_000);

  it('410 SyncStateNotFound when the token has expired by the sim clock, is tampered with, or a cursor_expired fault hits', async () => {
    await deliver(sim, ME, { from: 'a@example.org', subject: 'x', text: 'x' });
    const round = await drain('/me/mailFolders/inbox/messages/delta?$select=subject');
    const tampered = round.deltaLink.replace(/\$deltatoken=(.)/, (_m, c) => `$deltatoken=${c === 'A' ? 'B' : 'A'}`);
    const bad = await g.get(tampered);
    expect(bad.statusCode).toBe(410);
    expect(bad.json().error).toMatchObject({ code: 'SyncStateNotFound' });
    expect(Object.keys(bad.json().error.innerError)).toEqual(expect.arrayContaining(['date', 'request-id', 'client-request-id']));
    await sim.app.inject({ method: 'POST', url: '/_sim/faults', payload: { provider: 'microsoft', match: { path: 'messages/delta' }, fault: 'cursor_expired' } });
    expect((await g.get(round.deltaLink)).statusCode).toBe(410);
    expect((await g.get(round.deltaLink)).statusCode).toBe(200);
    await sim.app.inject({ method: 'PUT', url: '/_sim/microsoft/config', payload: { deltaTokenLifetimeSeconds: 3600 } });
    await setClock(sim, new Date(T0.getTime() + 3601_000));
    const t2 = await signIn(sim, ME, ['User.Read', 'Mail.Read']);
    const expired = await graph(sim, t2.access_token).get(round.deltaLink);
    expect(expired.statusCode).toBe(410);
  });
});

describe('messages', () => {
  it('GET with $select, the full default shape, uniqueBody and internetMessageHeaders when selected, $value MIME', async () => {
    const orig = await deliver(sim, ME, { from: 'Cara Cand <cara@example.org>', to: ME, cc: 'x@example.org', subject: 'Hello', html: '<p>Hi Rita</p>' });
    const reply = await deliver(sim, ME, { from: 'cara@example.org', to: ME, subject: 'RE: Hello', text: 'New part\n\nOn Mon, Rita wrote:\n> old part', inReplyTo: orig.messageId });
    expect(reply.threadId).toBe(orig.threadId);
    const h = { prefer: 'IdType="ImmutableId"' };
    const sel = await g.get(`/me/messages/${orig.id}?$select=subject,from,toRecipients,ccRecipients,internetMessageId,conversationId`, h);
    expect(sel.statusCode).toBe(200);
    const m = sel.json();
    expect(m).toMatchObject({
      id: orig.id, subject: 'Hello', internetMessageId: orig.messageId, conversationId: orig.threadId,
      from: { emailAddress: { name: 'Cara Cand', address: 'cara@example.org' } },
      toRecipients: [{ emailAddress: { address: ME } }], ccRecipients: [{ emailAddress: { address: 'x@example.org' } }],
    });
    expect(m).not.toHaveProperty('body');
    expect(m['@odata.etag']).toMatch(/^W\/"/);
    let usage = (await sim.app.inject({ method: 'GET', url: '/_sim/usage' })).json().microsoft[ME];
    expect(usage.bodiesServed).toBe(0);
    const full = (await g.get(`/me/messages/${orig.id}`, h)).json();
    for (const k of ['body', 'sender', 'from', 'receivedDateTime', 'sentDateTime', 'parentFolderId', 'isDraft', 'bodyPreview', 'conversationId', 'internetMessageId', 'bccRecipients']) expect(full).toHaveProperty(k);
    expect(full).not.toHaveProperty('uniqueBody');
    expect(full).not.toHaveProperty('internetMessageHeaders');
    expect(full.body).toEqual({ contentType: 'html', content: expect.stringContaining('<p>Hi Rita</p>') });
    expect(full.receivedDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(full.isDraft).toBe(false);
    const u = (await g.get(`/me/messages/${reply.id}?$select=uniqueBody,internetMessageHeaders`, h)).json();
    expect(u.uniqueBody).toEqual({ contentType: 'text', content: 'New part' });
    expect(u.internetMessageHeaders).toEqual(expect.arrayContaining([{ name: 'In-Reply-To', value: orig.messageId }]));
    const text = (await g.get(`/me/messages/${orig.id}?$select=body`, { prefer: 'IdType="ImmutableId", outlook.body-content-type="text"' })).json();
    expect(text.body).toEqual({ contentType: 'text', content: 'Hi Rita' });
    const mime = await g.get(`/me/messages/${orig.id}/$value`);
    expect(mime.statusCode).toBe(200);
    expect(mime.body).toContain(`Message-ID: ${orig.messageId}`);
    expect(mime.body).toContain('Subject: Hello');
    expect((await g.get(`/me/messages/${orig.id}?$select=nope`)).statusCode).toBe(400);
    usage = (await sim.app.inject({ method: 'GET', url: '/_sim/usage' })).json().microsoft[ME];
    expect(usage.bodiesServed).toBe(2);
    expect(usage.requests['messages.get']).toBe(5);
    expect(usage.requests['messages.getMime']).toBe(1);
  });

  it('sendMail: 202 with no body, saved to Sent Items and listed by the control API', async () => {
    const res = await g.post('/me/sendMail', {
      message: { subject: 'Interview', body: { contentType: 'HTML', content: '<p>Are you free?</p>' }, toRecipients: [{ emailAddress: { address: 'cara@example.org', name: 'Cara' } }] },
      saveToSentItems: true,
    });
    expect(res.statusCode).toBe(202);
    expect(res.body).toBe('');
    const sent = (await sim.app.inject({ method: 'GET', url: `/_sim/mailboxes/${ME}/sent` })).json();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ subject: 'Interview', to: ['cara@example.org'], from: ME, html: expect.stringContaining('Are you free?') });
    expect(sent[0].messageId).toMatch(/^<.+@.+\.prod\.outlook\.com>$/);
    const items = (await g.get('/me/mailFolders/sentitems/messages?$select=subject,internetMessageId')).json().value;
    expect(items).toEqual([expect.objectContaining({ subject: 'Interview', internetMessageId: sent[0].messageId })]);
    const bad = await g.post('/me/sendMail', { message: { subject: 'x', toRecipients: [] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('ErrorInvalidRecipients');
  });

  it('createReply → PATCH → send threads into the conversation with RE:, In-Reply-To and References', async () => {
    const orig = await deliver(sim, ME, { from: 'Cara <cara@example.org>', to: ME, subject: 'Application', text: 'Hello, I applied.' });
    const created = await g.post(`/me/messages/${orig.id}/createReply`, { comment: 'Thanks for applying' }, { prefer: 'IdType="ImmutableId"' });
    expect(created.statusCode).toBe(201);
    const draft = created.json();
    expect(draft).toMatchObject({ subject: 'RE: Application', isDraft: true, conversationId: orig.threadId, toRecipients: [{ emailAddress: { address: 'cara@example.org' } }] });
    const patched = await g.patch(`/me/messages/${draft.id}`, { body: { contentType: 'text', content: 'Thanks — can we talk Monday?' } }, { prefer: 'IdType="ImmutableId"' });
    expect(patched.statusCode).toBe(200);
    expect((await g.get(`/me/messages/${draft.id}?$select=subject,body`)).json().body.content).toContain('Monday');
    const send = await g.post(`/me/messages/${draft.id}/send`);
    expect(send.statusCode).toBe(202);
    expect((await g.get(`/me/messages/${draft.id}`)).statusCode).toBe(404);
    const [s] = (await sim.app.inject({ method: 'GET', url: `/_sim/mailboxes/${ME}/sent` })).json();
    expect(s).toMatchObject({ subject: 'RE: Application', inReplyTo: orig.messageId, references: [orig.messageId], threadId: orig.threadId, to: ['cara@example.org'] });
    const thread = (await g.get('/me/mailFolders/sentitems/messages?$select=conversationId,subject')).json().value;
    expect(thread[0].conversationId).toBe(orig.threadId);
  });

  it('POST /me/messages draft + send; reply with Mail.Send alone; createReply needs Mail.ReadWrite', async () => {
    const draft = (await g.post('/me/messages', { subject: 'Hi', body: { contentType: 'text', content: 'x' }, toRecipients: [{ emailAddress: { address: 'dan@example.org' } }] })).json();
    expect(draft.isDraft).toBe(true);
    expect((await g.post(`/me/messages/${draft.id}/send`)).statusCode).toBe(202);
    const orig = await deliver(sim, ME, { from: 'cara@example.org', to: ME, subject: 'Q', text: 'q' });
    const t = await signIn(sim, ME, ['User.Read', 'Mail.Read', 'Mail.Send']);
    const narrow = graph(sim, t.access_token);
    const denied = await narrow.post(`/me/messages/${orig.id}/createReply`, {});
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error.code).toBe('ErrorAccessDenied');
    expect((await narrow.post(`/me/messages/${orig.id}/reply`, { comment: 'Sure' })).statusCode).toBe(202);
    const sent = (await sim.app.inject({ method: 'GET', url: `/_sim/mailboxes/${ME}/sent` })).json();
    expect(sent.map((x: { subject: string }) => x.subject)).toEqual(['Hi', 'RE: Q']);
    expect(sent[1].inReplyTo).toBe(orig.messageId);
  });

  it('delivers sent mail to a recipient that is a simulated mailbox', async () => {
    await mailbox(sim, 'dan@fabrikam.com');
    await g.post('/me/sendMail', { message: { subject: 'Ping', body: { contentType: 'text', content: 'x' }, toRecipients: [{ emailAddress: { address: 'dan@fabrikam.com' } }], bccRecipients: [{ emailAddress: { address: 'hidden@example.org' } }] } });
    const got = sim.state.mail.messages('dan@fabrikam.com');
    expect(got).toHaveLength(1);
    expect(got[0]!.folder).toBe('inbox');
    expect(got[0]!.raw.toString()).not.toMatch(/^Bcc:/m);
    expect(sim.state.mail.messages(ME)[0]!.raw.toString()).toMatch(/^Bcc:/m);
  });
});
