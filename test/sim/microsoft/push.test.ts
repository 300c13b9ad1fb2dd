import { createServer, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliver, graph, mailbox, makeSim, setClock, signIn, T0, type Sim } from './harness.ts';

/** A tiny webhook receiver: echoes validation tokens (unless told not to) and records notifications. */
interface Receiver {
  url: string;
  received: Array<{ path: string; body: { value: Array<Record<string, unknown>> } }>;
  validations: string[];
  echo: boolean;
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const r = { received: [], validations: [], echo: true } as unknown as Receiver;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const token = url.searchParams.get('validationToken');
      if (token !== null) {
        r.validations.push(url.pathname);
        if (!r.echo) return res.writeHead(404).end();
        return res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
      }
      r.received.push({ path: url.pathname, body: JSON.parse(data) });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const a = server.address();
  r.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  r.close = () => new Promise((ok) => server.close(() => ok()));
  return r;
}

let sim: Sim;
let rx: Receiver;
let g: ReturnType<typeof graph>;
const ME = 'rita@contoso.com';
const flush = () => sim.app.inject({ method: 'POST', url: '/_sim/microsoft/flush' });
const expiry = (minutes: number) => new Date(T0.getTime() + minutes * 60_000).toISOString();

beforeEach(async () => {
  sim = await makeSim();
  rx = await receiver();
  await mailbox(sim, ME);
  g = graph(sim, (await signIn(sim, ME)).access_token);
});
afterEach(async () => {
  await sim.close();
  await rx.close();
});

async function subscribe(extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return g.post('/subscriptions', {
    changeType: 'created,updated,deleted',
    notificationUrl: `${rx.url}/notify`,
    lifecycleNotificationUrl: `${rx.url}/lifecycle`,
    resource: "me/mailFolders('Inbox')/messages",
    expirationDateTime: expiry(4000),
    clientState: 'secret-state',
    ...extra,
  }, headers);
}

describe('subscriptions and change notifications', () => {
  it('validates both URLs, then notifies with clientState; renew, get and delete (recorded)', async () => {
    const res = await subscribe({}, { prefer: 'IdType="ImmutableId"' });
    expect(res.statusCode).toBe(201);
    const sub = res.json();
    expect(sub).toMatchObject({ resource: "me/mailFolders('Inbox')/messages", changeType: 'created,updated,deleted', clientState: 'secret-state', notificationUrl: `${rx.url}/notify` });
    expect(rx.validations).toEqual(['/notify', '/lifecycle']);

    const d = await deliver(sim, ME, { from: 'cara@example.org', subject: 'hi', text: 'x' });
    await sim.app.inject({ method: 'DELETE', url: `/_sim/mailboxes/${ME}/messages/${d.id}?mode=trash` });
    await deliver(sim, ME, { from: 'spam@example.org', subject: 'junk', text: 'x', folder: 'spam' });
    await flush();
    const notes = rx.received.filter((x) => x.path === '/notify').flatMap((x) => x.body.value);
    expect(notes.map((n) => n.changeType)).toEqual(['created', 'deleted']);
    const n = notes[0]!;
    expect(n).toMatchObject({ subscriptionId: sub.id, clientState: 'secret-state', changeType: 'created' });
    expect(n.tenantId).toMatch(/^[0-9a-f-]{36}$/);
    expect(n.subscriptionExpirationDateTime).toBeTruthy();
    expect(n.resource).toMatch(/^Users\/[0-9a-f-]{36}\/Messages\//);
    expect(n.resourceData).toMatchObject({ '@odata.type': '#Microsoft.Graph.Message', id: d.id, '@odata.id': n.resource });
    expect(n.resourceData).toHaveProperty('@odata.etag');

    const renewed = await g.patch(`/subscriptions/${sub.id}`, { expirationDateTime: expiry(10_000) });
    expect(renewed.statusCode).toBe(200);
    expect(new Date(renewed.json().expirationDateTime).toISOString()).toBe(expiry(10_000));
    expect((await g.patch(`/subscriptions/${sub.id}`, { expirationDateTime: expiry(10_081) })).statusCode).toBe(400);
    expect((await g.get(`/subscriptions/${sub.id}`)).json().id).toBe(sub.id);
    expect((await g.get('/subscriptions')).json().value).toHaveLength(1);
    expect((await g.del(`/subscriptions/${sub.id}`)).statusCode).toBe(204);
    expect((await g.get(`/subscriptions/${sub.id}`)).statusCode).toBe(404);
    const rev = (await sim.app.inject({ method: 'GET', url: '/_sim/revocations' })).json()[ME];
    expect(rev).toEqual([expect.objectContaining({ provider: 'microsoft', kind: 'subscription', id: sub.id })]);
  });

  it('refuses a subscription whose endpoint does not echo the token, or that lasts longer than 10,080 minutes', async () => {
    const tooLong = await subscribe({ expirationDateTime: expiry(10_081) });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().error.message).toMatch(/10080 minutes/);
    rx.echo = false;
    const res = await subscribe();
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'InvalidRequest', message: expect.stringMatching(/^Subscription validation request failed/) });
  });

  it('drops notifications while push is disabled', async () => {
    await subscribe();
    await sim.app.inject({ method: 'PUT', url: '/_sim/push', payload: { provider: 'microsoft', enabled: false } });
    await deliver(sim, ME, { from: 'cara@example.org', subject: 'lost', text: 'x' });
    await sim.app.inject({ method: 'PUT', url: '/_sim/push', payload: { provider: 'microsoft', enabled: true } });
    await deliver(sim, ME, { from: 'cara@example.org', subject: 'seen', text: 'x' });
    await flush();
    expect(rx.received.filter((x) => x.path === '/notify').flatMap((x) => x.body.value)).toHaveLength(1);
  });

  it('lifecycle: reauthorizationRequired near expiry, removal at expiry, and after the user is signed out everywhere', async () => {
    const sub = (await subscribe({ expirationDateTime: expiry(120) })).json();
    await setClock(sim, new Date(T0.getTime() + 61 * 60_000));
    await flush();
    const life = () => rx.received.filter((x) => x.path === '/lifecycle').flatMap((x) => x.body.value);
    expect(life()).toEqual([expect.objectContaining({ lifecycleEvent: 'reauthorizationRequired', subscriptionId: sub.id, clientState: 'secret-state' })]);
    await setClock(sim, new Date(T0.getTime() + 121 * 60_000));
    await flush();
    const admin = (await sim.app.inject({ method: 'GET', url: '/_sim/microsoft/subscriptions' })).json();
    expect(admin).toEqual([]);

    await setClock(sim, T0);
    const t = await signIn(sim, ME);
    g = graph(sim, t.access_token);
    const sub2 = (await subscribe()).json();
    await g.post('/me/revokeSignInSessions');
    await flush();
    expect(life().at(-1)).toMatchObject({ lifecycleEvent: 'reauthorizationRequired', subscriptionId: sub2.id });
    // Paused until reauthorized with a fresh token.
    await deliver(sim, ME, { from: 'cara@example.org', subject: 'during pause', text: 'x' });
    await flush();
    expect(rx.received.filter((x) => x.path === '/notify')).toHaveLength(0);
    g = graph(sim, (await signIn(sim, ME)).access_token);
    expect((await g.post(`/subscriptions/${sub2.id}/reauthorize`)).statusCode).toBe(200);
    await deliver(sim, ME, { from: 'cara@example.org', subject: 'after', text: 'x' });
    await flush();
    expect(rx.received.filter((x) => x.path === '/notify')).toHaveLength(1);

    await sim.app.inject({ method: 'POST', url: `/_sim/microsoft/subscriptions/${sub2.id}/lifecycle`, payload: { event: 'subscriptionRemoved' } });
    expect(life().at(-1)).toMatchObject({ lifecycleEvent: 'subscriptionRemoved' });
    expect((await g.get(`/subscriptions/${sub2.id}`)).statusCode).toBe(404);
  });

  it('lifecycle follows each subscription: a renewal to an earlier expiry is noticed at the next Graph request', async () => {
    const a = (await subscribe({ expirationDateTime: expiry(120) })).json();
    const b = (await subscribe({ expirationDateTime: expiry(600) })).json();
    const life = () => rx.received.filter((x) => x.path === '/lifecycle').flatMap((x) => x.body.value);
    await setClock(sim, new Date(T0.getTime() + 61 * 60_000));
    await flush();
    expect(life().map((x) => x.subscriptionId)).toEqual([a.id]);
    // The clock stays put: B, renewed to end within the hour, is due now, and the next request sees it.
    g = graph(sim, (await signIn(sim, ME)).access_token);
    expect((await g.patch(`/subscriptions/${b.id}`, { expirationDateTime: expiry(100) })).statusCode).toBe(200);
    await g.get(`/subscriptions/${b.id}`);
    await flush();
    expect(life().map((x) => [x.subscriptionId, x.lifecycleEvent])).toEqual([[a.id, 'reauthorizationRequired'], [b.id, 'reauthorizationRequired']]);
  });

  it('sends a missed lifecycle notification when a change notification cannot be delivered', async () => {
    await subscribe({ notificationUrl: `${rx.url}/notify` });
    await rx.close();
    const other = await receiver();
    // The lifecycle URL stays reachable on a new receiver: point the subscription there through the state.
    const [s] = [...(await sim.app.inject({ method: 'GET', url: '/_sim/microsoft/subscriptions' })).json()];
    expect(s).toBeTruthy();
    rx = other;
    await deliver(sim, ME, { from: 'cara@example.org', subject: 'x', text: 'x' });
    await flush();
    const deliveries = (await sim.app.inject({ method: 'GET', url: '/_sim/microsoft/deliveries' })).json();
    expect(deliveries.some((d: { kind: string; status: unknown }) => d.kind === 'change' && d.status === 'error')).toBe(true);
    expect(deliveries.some((d: { kind: string; payload: { value: Array<{ lifecycleEvent?: string }> } }) => d.kind === 'lifecycle' && d.payload.value[0]?.lifecycleEvent === 'missed')).toBe(true);
  });
});
