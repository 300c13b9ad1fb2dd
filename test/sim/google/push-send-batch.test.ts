import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAL, READ, SEND, startGoogleSim, type GoogleSim } from './harness.ts';

let sim: GoogleSim;
let token: string;
const ME = 'sam@acme.com';
let receiver: Server;
let receiverUrl: string;
const received: Array<{ auth: string; body: { message: { data: string; messageId: string; publishTime: string }; subscription: string } }> = [];
let waiters: Array<() => void> = [];

beforeAll(async () => {
  sim = await startGoogleSim();
  token = await sim.mailboxWithToken(ME, [READ, SEND, CAL]);
  await sim.ok('POST', '/_sim/mailboxes', { provider: 'google', address: 'cand@gmail.com' });
  receiver = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      received.push({ auth: req.headers.authorization ?? '', body: JSON.parse(data) });
      res.writeHead(204).end();
      waiters.forEach((w) => w());
      waiters = [];
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/google/pubsub`;
});
afterAll(async () => {
  await sim.close();
  await new Promise((r) => receiver.close(r));
});

const until = async (pred: () => boolean) => {
  while (!pred()) await new Promise<void>((r) => waiters.push(r));
};

describe('watch and Pub/Sub push', () => {
  it('pushes coalesced notifications with an OIDC token verifiable against the served JWKS', async () => {
    await sim.ok('PUT', '/_sim/limits', { provider: 'google', pushIntervalMs: 1000 });
    await sim.ok('POST', '/_sim/google/pubsub-subscriptions', { topicName: 'projects/acme/topics/gmail', pushEndpoint: receiverUrl, audience: 'https://app.example/push' });
    const bad = await sim.api(token, 'POST', '/gmail/v1/users/me/watch', { topicName: 'gmail' });
    expect(bad.status).toBe(400);
    const w = await sim.api(token, 'POST', '/gmail/v1/users/me/watch', { topicName: 'projects/acme/topics/gmail', labelIds: ['INBOX'] });
    expect(w.status).toBe(200);
    expect(Number(w.body.expiration)).toBe(sim.state.clock.now().getTime() + 7 * 86400e3);
    // five arrivals in one burst: at most one notification per second, the last one carrying the latest historyId
    await sim.state.mail.deliverMany(ME, [1, 2, 3, 4, 5].map((i) => ({ from: 'a@b.org', subject: `m${i}`, text: 'x' })));
    const dataOf = (i: number) => JSON.parse(Buffer.from(received[i]!.body.message.data, 'base64').toString());
    await until(() => received.length >= 1 && dataOf(received.length - 1).historyId === sim.state.mail.currentSeq(ME));
    expect(received.length).toBeLessThanOrEqual(2);
    const burst = received.length;
    const first = received[0]!;
    expect(dataOf(burst - 1)).toEqual({ emailAddress: ME, historyId: sim.state.mail.currentSeq(ME) });
    expect(first.body.subscription).toMatch(/^projects\/acme\/subscriptions\//);
    expect(first.body.message.messageId).toMatch(/^\d+$/);
    const jwks = createRemoteJWKSet(new URL(`${sim.G}/oauth2/v3/certs`));
    const { payload } = await jwtVerify(first.auth.replace(/^Bearer /, ''), jwks, { issuer: 'https://accounts.google.com', audience: 'https://app.example/push', currentDate: sim.state.clock.now() });
    expect(payload.email).toMatch(/gserviceaccount\.com$/);
    expect(payload.email_verified).toBe(true);
    // a sent message does not carry INBOX: filtered out by the watch's labelIds
    await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { to: 'x@y.org', subject: 'out', text: 'x', folder: 'sent' });
    await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'a@b.org', subject: 'later', text: 'x' });
    await until(() => received.length >= burst + 1);
    expect(dataOf(burst).historyId).toBe(sim.state.mail.currentSeq(ME));
    expect(received).toHaveLength(burst + 1);
    // push disabled → dropped
    await sim.ok('PUT', '/_sim/push', { provider: 'google', enabled: false });
    await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'a@b.org', subject: 'dropped', text: 'x' });
    await sim.ok('PUT', '/_sim/push', { provider: 'google', enabled: true });
    expect((await sim.api(token, 'POST', '/gmail/v1/users/me/stop')).status).toBe(204);
    const rev = await sim.ok('GET', '/_sim/revocations');
    expect(rev[ME].some((r: { kind: string }) => r.kind === 'watch')).toBe(true);
  });
});

describe('messages.send', () => {
  const raw = (lines: string[]) => Buffer.from(lines.join('\r\n')).toString('base64url');

  it('sends, records, delivers to simulated recipients and threads only with threadId + references + subject', async () => {
    const inbound = await sim.ok('POST', `/_sim/mailboxes/${ME}/messages`, { from: 'cand@gmail.com', subject: 'Question', text: 'hi' });
    const first = await sim.api(token, 'POST', '/gmail/v1/users/me/messages/send', {
      raw: raw(['To: cand@gmail.com', 'Subject: Re: Question', `In-Reply-To: ${inbound.messageId}`, `References: ${inbound.messageId}`, 'Content-Type: text/plain; charset=utf-8', '', 'Answer']),
      threadId: inbound.threadId,
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ threadId: inbound.threadId, labelIds: ['SENT'] });
    // threadId without matching headers → new thread
    const noRefs = await sim.api(token, 'POST', '/gmail/v1/users/me/messages/send', { raw: raw(['To: cand@gmail.com', 'Subject: Re: Question', '', 'x']), threadId: inbound.threadId });
    expect(noRefs.body.threadId).not.toBe(inbound.threadId);
    // headers but another subject → new thread
    const otherSubject = await sim.api(token, 'POST', '/gmail/v1/users/me/messages/send', {
      raw: raw(['To: cand@gmail.com', 'Subject: Something else', `In-Reply-To: ${inbound.messageId}`, '', 'x']),
      threadId: inbound.threadId,
    });
    expect(otherSubject.body.threadId).not.toBe(inbound.threadId);
    // headers but no threadId → new thread
    const noThreadId = await sim.api(token, 'POST', '/gmail/v1/users/me/messages/send', { raw: raw(['To: cand@gmail.com', 'Subject: Re: Question', `In-Reply-To: ${inbound.messageId}`, '', 'x']) });
    expect(noThreadId.body.threadId).not.toBe(inbound.threadId);

    const sent = await sim.ok('GET', `/_sim/mailboxes/${ME}/sent`);
    expect(sent[0]).toMatchObject({ id: first.body.id, threadId: inbound.threadId, inReplyTo: inbound.messageId, from: ME, to: ['cand@gmail.com'], subject: 'Re: Question' });
    expect(sent[0].text.trim()).toBe('Answer');
    expect(sent[0].messageId).toMatch(/^<.+@mail\.gmail\.com>$/);
    // the recipient's mailbox received it
    expect(sim.state.mail.messages('cand@gmail.com').some((m) => m.headers.subject === 'Re: Question')).toBe(true);
    const missing = await sim.api(token, 'POST', '/gmail/v1/users/me/messages/send', {});
    expect(missing.status).toBe(400);
  });
});

describe('batch', () => {
  it('runs up to 100 application/http parts and answers multipart/mixed with response- Content-IDs', async () => {
    const ids = (await sim.api(token, 'GET', '/gmail/v1/users/me/messages?maxResults=3')).body.messages.map((m: { id: string }) => m.id) as string[];
    const boundary = 'batch_foo';
    const parts = [...ids, '0000000000000001'].map((id, i) => `--${boundary}\r\nContent-Type: application/http\r\nContent-ID: <item${i}>\r\n\r\nGET /gmail/v1/users/me/messages/${id}?format=raw\r\n\r\n`);
    const body = parts.join('') + `--${boundary}--`;
    await sim.ok('DELETE', '/_sim/usage');
    const res = await fetch(`${sim.G}/batch/gmail/v1`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/mixed; boundary=${boundary}` }, body });
    expect(res.status).toBe(200);
    const ct = res.headers.get('content-type')!;
    expect(ct).toMatch(/^multipart\/mixed; boundary=/);
    const text = await res.text();
    const rb = ct.split('boundary=')[1]!;
    const chunks = text.split(`--${rb}`).slice(1, -1);
    expect(chunks).toHaveLength(4);
    expect(chunks[0]).toContain('Content-ID: <response-item0>');
    expect(chunks[0]).toContain('HTTP/1.1 200 OK');
    expect(chunks[3]).toContain('HTTP/1.1 404 Not Found');
    const usage = await sim.ok('GET', '/_sim/usage');
    expect(usage.google[ME]).toMatchObject({ units: 20, requests: { 'messages.get': 4 }, bodiesServed: 3 });

    const tooMany = Array.from({ length: 101 }, (_, i) => `--${boundary}\r\nContent-Type: application/http\r\nContent-ID: <i${i}>\r\n\r\nGET /gmail/v1/users/me/profile\r\n\r\n`).join('') + `--${boundary}--`;
    const refused = await fetch(`${sim.G}/batch/gmail/v1`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/mixed; boundary=${boundary}` }, body: tooMany });
    expect(refused.status).toBe(400);
  });
});

describe('calendar', () => {
  it('creates an event with a Google Meet link through conferenceDataVersion=1', async () => {
    const body = {
      summary: 'Screening',
      start: { dateTime: '2025-03-10T10:00:00Z' },
      end: { dateTime: '2025-03-10T10:30:00Z' },
      attendees: [{ email: 'cand@gmail.com' }],
      conferenceData: { createRequest: { requestId: 'req-1', conferenceSolutionKey: { type: 'hangoutsMeet' } } },
    };
    const created = await sim.api(token, 'POST', '/calendar/v3/calendars/primary/events?conferenceDataVersion=1&sendUpdates=all', body);
    expect(created.status).toBe(200);
    expect(created.body.hangoutLink).toMatch(/^https:\/\/meet\.google\.com\/[a-z]{3}-[a-z]{4}-[a-z]{3}$/);
    expect(created.body.conferenceData.entryPoints[0]).toMatchObject({ entryPointType: 'video', uri: created.body.hangoutLink });
    expect(created.body.conferenceData.createRequest.status.statusCode).toBe('success');
    expect(created.body.attendees[0]).toMatchObject({ email: 'cand@gmail.com', responseStatus: 'needsAction' });
    const got = await sim.api(token, 'GET', `/calendar/v3/calendars/primary/events/${created.body.id}`);
    expect(got.body).toEqual(created.body);
    const plain = await sim.api(token, 'POST', '/calendar/v3/calendars/primary/events', body);
    expect(plain.body.hangoutLink).toBeUndefined();
    const noEnd = await sim.api(token, 'POST', '/calendar/v3/calendars/primary/events', { start: body.start });
    expect(noEnd.status).toBe(400);
  });
});
