import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { parseAddressList, parseHeaders } from '../../../sim/core/headers.ts';
import { createSimState, type SimState } from '../../../sim/core/state.ts';
import { buildSimApp } from '../../../sim/server.ts';

let state: SimState;
let app: FastifyInstance;
const T0 = new Date('2025-01-01T00:00:00Z');

beforeAll(async () => {
  state = createSimState({ now: T0 });
  app = buildSimApp(state);
  await app.ready();
});
afterAll(() => app.close());

const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
  const res = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
};

describe('control API', () => {
  it('creates mailboxes once (409 after) and validates bodies with a clear 400', async () => {
    expect((await call('POST', '/_sim/mailboxes', { provider: 'google', address: 'a@acme.com', aliases: ['al@acme.com'] })).status).toBe(201);
    expect((await call('POST', '/_sim/mailboxes', { provider: 'google', address: 'A@acme.com' })).status).toBe(409);
    const bad = await call('POST', '/_sim/mailboxes', { provider: 'yahoo', address: 'nope' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.message).toMatch(/provider/);
    expect(bad.body.error.message).toMatch(/address/);
    expect((await call('POST', '/_sim/mailboxes/nobody@acme.com/messages', { subject: 'x' })).status).toBe(404);
    expect((await call('POST', '/_sim/mailboxes/a@acme.com/messages', { raw: 'abc', subject: 'both' })).status).toBe(400);
    expect((await call('POST', '/_sim/mailboxes/a@acme.com/messages', { folder: ' / ' })).status).toBe(400);
    expect((await call('POST', '/_sim/clock', { now: 'yesterday' })).status).toBe(400);
    expect((await call('PUT', '/_sim/push', { provider: 'google' })).status).toBe(400);
    expect((await call('PUT', '/_sim/tenants/unknown.com', { grantedScopes: [] })).status).toBe(404);
    expect((await call('DELETE', '/_sim/mailboxes/a@acme.com/messages/ffff?mode=shred')).status).toBe(400);
  });

  it('delivers composed and raw messages, threading by threadKey and by inReplyTo', async () => {
    const m1 = (await call('POST', '/_sim/mailboxes/a@acme.com/messages', { from: 'Bob <bob@x.org>', subject: 'Hi', text: 'one', threadKey: 'T' })).body;
    expect(m1.id).toMatch(/^[0-9a-f]{16}$/);
    expect(m1.threadId).toBe(m1.id);
    expect(m1.messageId).toMatch(/^<.+@x\.org>$/);
    const m2 = (await call('POST', '/_sim/mailboxes/a@acme.com/messages', { from: 'bob@x.org', subject: 'Again', text: 'two', threadKey: 'T' })).body;
    expect(m2.threadId).toBe(m1.id);
    const m3 = (await call('POST', '/_sim/mailboxes/a@acme.com/messages', { to: 'bob@x.org', subject: 'Re: Hi', text: 'three', folder: 'sent', inReplyTo: m1.messageId })).body;
    expect(m3.threadId).toBe(m1.id);
    const raw = Buffer.from('From: c@y.org\r\nTo: a@acme.com\r\nSubject: raw\r\nDate: Tue, 31 Dec 2024 10:00:00 +0000\r\n\r\nhello\r\n').toString('base64');
    const m4 = (await call('POST', '/_sim/mailboxes/a@acme.com/messages', { raw })).body;
    expect(m4.threadId).toBe(m4.id);
    const stored = state.mail.message('a@acme.com', m4.id)!;
    expect(stored.internalDate.toISOString()).toBe('2024-12-31T10:00:00.000Z');
    expect(stored.messageId).toMatch(/^<.+>$/); // added when missing
    const sent = state.mail.message('a@acme.com', m3.id)!;
    expect(sent.headers.from?.address).toBe('a@acme.com');
    expect(sent.headers.references).toEqual([m1.messageId]);
  });

  it('deletes to trash or permanently and logs the changes', async () => {
    const m = (await call('POST', '/_sim/mailboxes/a@acme.com/messages', { from: 'd@y.org', subject: 'del', text: 'x' })).body;
    const before = state.mail.currentSeq('a@acme.com');
    expect((await call('DELETE', `/_sim/mailboxes/a@acme.com/messages/${m.id}?mode=trash`)).status).toBe(200);
    expect(state.mail.message('a@acme.com', m.id)!.folder).toBe('trash');
    expect((await call('DELETE', `/_sim/mailboxes/a@acme.com/messages/${m.id}?mode=permanent`)).status).toBe(200);
    expect(state.mail.message('a@acme.com', m.id)).toBeUndefined();
    expect(state.mail.changes('a@acme.com', before).map((c) => [c.kind, c.previousFolder, c.folder])).toEqual([
      ['moved', 'inbox', 'trash'],
      ['deleted', 'trash', null],
    ]);
    expect((await call('DELETE', `/_sim/mailboxes/a@acme.com/messages/${m.id}?mode=permanent`)).status).toBe(404);
  });

  it('moves the clock, sets limits, tenants, clients and push', async () => {
    expect((await call('POST', '/_sim/clock', { now: '2025-02-01T00:00:00Z' })).body.now).toBe('2025-02-01T00:00:00.000Z');
    expect(state.clock.now().toISOString()).toBe('2025-02-01T00:00:00.000Z');
    expect((await call('PUT', '/_sim/limits', { provider: 'microsoft', requestsPerWindow: 50 })).body.requestsPerWindow).toBe(50);
    expect((await call('PUT', '/_sim/limits', { provider: 'google', units: { 'messages.get': 20 } })).body.units['messages.get']).toBe(20);
    expect((await call('PUT', '/_sim/limits', { provider: 'google', bogus: 1 })).status).toBe(400);
    expect((await call('POST', '/_sim/tenants', { provider: 'microsoft', domain: 'Contoso.com', grantedScopes: ['Mail.Read'] })).status).toBe(201);
    expect(state.tenants.grantedScopes('contoso.com')).toEqual(['Mail.Read']);
    expect((await call('PUT', '/_sim/tenants/contoso.com', { grantedScopes: ['Mail.Read', 'Mail.Send'] })).body.grantedScopes).toHaveLength(2);
    expect((await call('POST', '/_sim/clients', { provider: 'google', clientId: 'other', clientSecret: 's', redirectUris: ['https://app.example/cb'] })).status).toBe(201);
    expect(state.clients.redirectAllowed('google', 'other', 'https://app.example/cb')).toBe(true);
    expect(state.clients.redirectAllowed('google', 'other', 'http://localhost/cb')).toBe(false);
    expect(state.clients.redirectAllowed('microsoft', 'recruiter-sync-local', 'http://localhost:9999/x')).toBe(true);
    expect(state.clients.redirectAllowed('microsoft', 'recruiter-sync-local', 'https://evil.example/x')).toBe(false);
    expect((await call('PUT', '/_sim/push', { provider: 'microsoft', enabled: false })).body).toEqual({ google: true, microsoft: false });
  });
});

describe('mail store', () => {
  it('bulk-delivers quickly with Graph-styled ids for Microsoft mailboxes', async () => {
    state.mail.createMailbox({ provider: 'microsoft', address: 'm@contoso.com' });
    const raws = Array.from({ length: 2000 }, (_, i) =>
      ({ raw: Buffer.from(`From: p${i % 50}@x.org\r\nTo: m@contoso.com\r\nSubject: n${i}\r\nMessage-ID: <n${i}@x.org>\r\nDate: ${new Date(T0.getTime() - i * 3600e3).toUTCString()}\r\n\r\nbody ${i}\r\n`).toString('base64'), folder: 'inbox' as const, threadKey: `t${i % 300}`, date: new Date(T0.getTime() - i * 3600e3).toISOString() }),
    );
    const ids = await state.mail.deliverMany('m@contoso.com', raws);
    expect(ids).toHaveLength(2000);
    expect(new Set(ids.map((x) => x.id)).size).toBe(2000);
    expect(new Set(ids.map((x) => x.threadId)).size).toBe(300);
    expect(ids[0]!.id).toMatch(/^AAkALg[A-Za-z0-9_-]{60,}$/);
    expect(ids[0]!.threadId).toMatch(/^AAQkAD[A-Za-z0-9_-]+=$/);
    const listed = state.mail.messages('m@contoso.com');
    expect(listed[0]!.headers.subject).toBe('n0');
    expect(state.mail.byMessageId('m@contoso.com', '<n5@x.org>')!.id).toBe(ids[5]!.id);
  });

  it('fires change listeners and retains the log by time', () => {
    const seen: string[] = [];
    state.mail.onChange((address, change) => seen.push(`${address}:${change.kind}`));
    state.mail.createMailbox({ provider: 'google', address: 'l@acme.com' });
    state.mail.deliverRaw('l@acme.com', { raw: Buffer.from('From: a@b.c\r\nSubject: x\r\n\r\nx') });
    expect(seen).toEqual(['l@acme.com:added']);
    const seq = state.mail.currentSeq('l@acme.com');
    state.clock.advance(3600e3);
    expect(state.mail.lastSeqBefore('l@acme.com', state.clock.now())).toBe(seq);
    expect(state.mail.lastSeqBefore('l@acme.com', new Date(0))).toBe(0);
  });
});

describe('headers', () => {
  it('parses address lists with quoted names, comments, groups and encoded words', () => {
    expect(parseAddressList('"Doe, Jane" <jane@x.com>, bob@y.org (Bob B), team: c@d.e, f@g.h;, =?UTF-8?B?SsO8cmdlbg==?= <j@z.de>')).toEqual([
      { name: 'Doe, Jane', address: 'jane@x.com' },
      { name: 'Bob B', address: 'bob@y.org' },
      { name: '', address: 'c@d.e' },
      { name: '', address: 'f@g.h' },
      { name: 'Jürgen', address: 'j@z.de' },
    ]);
    const h = parseHeaders(Buffer.from('Subject: =?utf-8?Q?Caf=C3=A9?=\r\n =?utf-8?Q?_ok?=\r\nReferences: <a@b> <c@d>\r\nIn-Reply-To: <c@d>\r\n\r\nbody'));
    expect(h.subject).toBe('Café ok');
    expect(h.references).toEqual(['<a@b>', '<c@d>']);
    expect(h.inReplyTo).toBe('<c@d>');
  });
});
