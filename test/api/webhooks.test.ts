import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOSS_SCHEMA } from '../../src/jobs/queue-clock.ts';
import type { TestApi } from '../helpers/app.ts';
import { connectMailbox } from '../helpers/connect.ts';
import { createCompany } from '../helpers/fixtures.ts';
import { startTestProduct, TEST_PUBSUB_TOPIC, type TestProduct } from '../helpers/product.ts';
import type { TestSimulators } from '../helpers/simulators.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * API.md "Provider webhooks" (R-21, N-3): every push is authenticated the provider's way before it can cause any
 * work — Pub/Sub's OIDC token (signature, issuer, audience, expiry), Graph's clientState per notification — bodies
 * are validated, the Graph handshake echoes its token, and notifications for one grant collapse into one sync.
 */

interface Captured {
  authorization: string;
  body: { message: { data: string; messageId: string }; subscription: string };
}

/** A stand-in push endpoint: keeps what Pub/Sub sends it, so that genuine tokens can be replayed at the product. */
async function captureServer() {
  const received = new Map<string, Captured[]>();
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
    req.on('end', () => {
      const list = received.get(req.url ?? '') ?? [];
      list.push({ authorization: req.headers.authorization ?? '', body: JSON.parse(data) });
      received.set(req.url ?? '', list);
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const pubsubBody = (emailAddress: string, historyId: number | string) => ({
  message: { data: Buffer.from(JSON.stringify({ emailAddress, historyId })).toString('base64'), messageId: '1', publishTime: new Date().toISOString() },
  subscription: 'projects/recruiter-sync-test/subscriptions/replayed',
});

describe('provider webhooks', () => {
  let product: TestProduct;
  let api: TestApi;
  let sim: TestSimulators;
  let capture: Awaited<ReturnType<typeof captureServer>>;
  const google = { domain: 'hooks-google.test', address: 'rita@hooks-google.test', grantId: '' };
  const microsoft = { domain: 'hooks-microsoft.test', address: 'rita@hooks-microsoft.test', grantId: '' };

  const drain = async () => (await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' })).json().ran as number;
  const jobsOf = async (queue: string, grantId: string, trigger?: string) =>
    Number(
      (
        await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(`${BOSS_SCHEMA}.job`)}
          WHERE name = ${queue} AND data->>'authorizationId' = ${grantId} AND (${trigger ?? null}::text IS NULL OR data->>'trigger' = ${trigger ?? null})`.execute(api.ctx.db)
      ).rows[0]!.n,
    );
  const syncs = (grantId: string) => jobsOf('sync.mailbox', grantId, 'notification');
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    api.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });

  async function connect(provider: 'google' | 'microsoft', who: typeof google) {
    const c = await createCompany(api, `Hooks ${provider}`, who.domain);
    await sim.control('POST', '/_sim/tenants', { provider, domain: who.domain });
    await sim.control('POST', '/_sim/mailboxes', { provider, address: who.address });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
    await connectMailbox(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, kind: 'email', address: who.address });
    await drain();
    who.grantId = (await api.ctx.db.selectFrom('mailbox_authorizations').select('id').where('seat_id', '=', c.seat.id).executeTakeFirstOrThrow()).id;
  }

  beforeAll(async () => {
    product = await startTestProduct({ jobs: true, push: true });
    ({ api, sim } = product);
    capture = await captureServer();
    await connect('google', google);
    await connect('microsoft', microsoft);
    // Genuine Pub/Sub tokens: one meant for the product's webhook, one for somebody else's endpoint.
    await sim.control('POST', '/_sim/google/pubsub-subscriptions', { topicName: TEST_PUBSUB_TOPIC, pushEndpoint: `${capture.url}/ours`, audience: `${api.publicUrl}/webhooks/google/pubsub` });
    await sim.control('POST', '/_sim/google/pubsub-subscriptions', { topicName: TEST_PUBSUB_TOPIC, pushEndpoint: `${capture.url}/theirs`, audience: 'https://elsewhere.example/push' });
    await sim.control('POST', `/_sim/mailboxes/${encodeURIComponent(google.address)}/messages`, { from: 'carla@mail.example', to: google.address, subject: 'Hello', text: 'Hi' });
    await waitFor('pushes to every subscription', async () => capture.received.get('/ours')?.length && capture.received.get('/theirs')?.length);
    await waitFor('the push to the product answered', async () => {
      const pushes: Array<{ pushEndpoint: string; status: number | null }> = await sim.control('GET', '/_sim/google/pushes');
      return pushes.some((p) => p.pushEndpoint.startsWith(api.publicUrl) && p.status === 204);
    });
    await drain();
  });
  afterAll(async () => {
    await capture?.close();
    await product?.close();
  });

  describe('Gmail through Pub/Sub push', () => {
    const url = '/webhooks/google/pubsub';

    it('a genuine push for a change the sync already read is acknowledged and wakes nothing; one beyond the cursor queues a sync', async () => {
      const genuine = capture.received.get('/ours')![0]!;
      const before = await syncs(google.grantId);
      const replay = await post(url, genuine.body, { authorization: genuine.authorization });
      expect(replay.statusCode, replay.body).toBe(204);
      expect(await syncs(google.grantId)).toBe(before);
      const ahead = await post(url, pubsubBody(google.address.toUpperCase(), 10_000_000), { authorization: genuine.authorization });
      expect(ahead.statusCode, ahead.body).toBe(204);
      expect(await syncs(google.grantId)).toBe(before + 1);
      await drain();
    });

    it('an address no grant watches is acknowledged (so Pub/Sub stops retrying) and wakes nothing', async () => {
      const genuine = capture.received.get('/ours')![0]!;
      const before = await syncs(google.grantId);
      const res = await post(url, pubsubBody('nobody@elsewhere.example', 10_000_000), { authorization: genuine.authorization });
      expect(res.statusCode, res.body).toBe(204);
      expect(await syncs(google.grantId)).toBe(before);
    });

    it('refuses a push without a token, with a token signed by another key, or meant for another audience', async () => {
      const before = await syncs(google.grantId);
      const body = pubsubBody(google.address, 10_000_001);
      expect((await post(url, body)).statusCode).toBe(401);
      expect((await post(url, body, { authorization: 'Basic cm9vdDpyb290' })).statusCode).toBe(401);

      const { kid } = (await (await fetch(`${sim.url}/google/oauth2/v3/certs`)).json()).keys[0];
      const forger = await generateKeyPair('RS256');
      const now = Math.floor(api.clock.now().getTime() / 1000);
      for (const header of [{ alg: 'RS256', kid }, { alg: 'RS256', kid: 'not-a-google-key' }]) {
        const forged = await new SignJWT({ email: 'pubsub-push@recruiter-sync-test.iam.gserviceaccount.com', email_verified: true })
          .setProtectedHeader(header)
          .setIssuer('https://accounts.google.com')
          .setAudience(`${api.publicUrl}/webhooks/google/pubsub`)
          .setIssuedAt(now)
          .setExpirationTime(now + 3600)
          .sign(forger.privateKey);
        const res = await post(url, body, { authorization: `Bearer ${forged}` });
        expect(res.statusCode, res.body).toBe(401);
        expect(res.json().error.code).toBe('unauthenticated');
      }
      // An unsigned token ("alg": "none") is no token.
      const jwk = await exportJWK(forger.publicKey);
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://accounts.google.com', aud: `${api.publicUrl}/webhooks/google/pubsub`, exp: now + 3600, iat: now, jwk })).toString('base64url')}.`;
      expect((await post(url, body, { authorization: `Bearer ${unsigned}` })).statusCode).toBe(401);

      const theirs = capture.received.get('/theirs')![0]!;
      const misdirected = await post(url, body, { authorization: theirs.authorization });
      expect(misdirected.statusCode, misdirected.body).toBe(403);
      expect(misdirected.json().error.code).toBe('forbidden');
      expect(await syncs(google.grantId)).toBe(before);
    });

    it('validates the body of a genuine push', async () => {
      const { authorization } = capture.received.get('/ours')![0]!;
      const before = await syncs(google.grantId);
      for (const body of [{}, { message: {} }, { message: { data: Buffer.from('not json').toString('base64') } }, { message: { data: Buffer.from(JSON.stringify({ emailAddress: google.address })).toString('base64') } }]) {
        const res = await post(url, body, { authorization });
        expect(res.statusCode, res.body).toBe(400);
        expect(res.json().error.code).toBe('validation_failed');
      }
      const huge = await post(url, { message: { data: 'A'.repeat(70_000) } }, { authorization });
      expect(huge.statusCode).toBe(413);
      expect(await syncs(google.grantId)).toBe(before);
    });

    it('refuses an expired token (the last test here: it moves the product clock past the tokens’ hour)', async () => {
      const genuine = capture.received.get('/ours')![0]!;
      const before = await syncs(google.grantId);
      api.clock.set(new Date(api.clock.now().getTime() + 2 * 3600_000));
      const res = await post(url, pubsubBody(google.address, 10_000_002), { authorization: genuine.authorization });
      expect(res.statusCode, res.body).toBe(401);
      expect(await syncs(google.grantId)).toBe(before);
    });
  });

  describe('Microsoft Graph notifications', () => {
    const changes = '/webhooks/microsoft/notifications';
    const lifecycle = '/webhooks/microsoft/lifecycle';
    const subscriptions = async (): Promise<Array<{ id: string; clientState: string; resource: string }>> =>
      (await sim.control('GET', '/_sim/microsoft/subscriptions')).filter((s: { address: string }) => s.address === microsoft.address);
    const item = (s: { id: string }, clientState: string | undefined, extra: Record<string, unknown> = {}) => ({
      subscriptionId: s.id,
      ...(clientState === undefined ? {} : { clientState }),
      changeType: 'created',
      resource: 'Users/abc/Messages/xyz',
      resourceData: { '@odata.type': '#Microsoft.Graph.Message', id: 'xyz' },
      tenantId: '00000000-0000-0000-0000-000000000000',
      ...extra,
    });

    it('echoes the validation token as plain text on both URLs', async () => {
      const token = 'Validation: Testing client application reachability for subscription Request-Id: 8d3e9f1c <b>&amp;</b>';
      for (const url of [changes, lifecycle]) {
        const res = await api.app.inject({ method: 'POST', url: `${url}?validationToken=${encodeURIComponent(token)}`, headers: { 'content-type': 'text/plain; charset=utf-8' }, payload: '' });
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/plain/);
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(res.body).toBe(token);
      }
      const tooLong = await api.app.inject({ method: 'POST', url: `${changes}?validationToken=${'x'.repeat(5000)}`, payload: '' });
      expect(tooLong.statusCode).toBe(400);
    });

    it('acts only on notifications whose clientState matches their subscription; many for one grant make one sync', async () => {
      const [sub] = await subscriptions();
      const before = await syncs(microsoft.grantId);
      const forged = await post(changes, { value: [item(sub!, 'guessed'), item(sub!, undefined), item(sub!, `${sub!.clientState}x`), item({ id: 'no-such-subscription' }, sub!.clientState)] });
      expect(forged.statusCode).toBe(202);
      expect(forged.body).toBe('');
      expect(await syncs(microsoft.grantId)).toBe(before);

      const genuine = await post(changes, { value: Array.from({ length: 50 }, () => item(sub!, sub!.clientState)) });
      expect(genuine.statusCode).toBe(202);
      expect(await syncs(microsoft.grantId)).toBe(before + 1);
      // More while that sync waits: collapsed into it.
      await post(changes, { value: [item(sub!, sub!.clientState)] });
      expect(await syncs(microsoft.grantId)).toBe(before + 1);
    });

    it('a notification arriving while the grant’s sync runs queues one more run after it', async () => {
      const [sub] = await subscriptions();
      const waiting = sql`SELECT id FROM ${sql.table(`${BOSS_SCHEMA}.job`)} WHERE name = 'sync.mailbox' AND data->>'authorizationId' = ${microsoft.grantId} AND state = 'created'`;
      const before = await syncs(microsoft.grantId);
      if ((await waiting.execute(api.ctx.db)).rows.length === 0) await post(changes, { value: [item(sub!, sub!.clientState)] });
      // The waiting sync starts (is claimed by a worker) …
      const [job] = (await sql<{ id: string }>`UPDATE ${sql.table(`${BOSS_SCHEMA}.job`)} SET state = 'active', started_on = now()
        WHERE name = 'sync.mailbox' AND data->>'authorizationId' = ${microsoft.grantId} AND state = 'created' RETURNING id`.execute(api.ctx.db)).rows;
      expect(job).toBeDefined();
      const started = await syncs(microsoft.grantId);
      // … and a change announced now is not lost: it waits for its own run.
      await post(changes, { value: [item(sub!, sub!.clientState)] });
      expect(await syncs(microsoft.grantId)).toBe(started + 1);
      expect((await waiting.execute(api.ctx.db)).rows).toHaveLength(1);
      expect(started).toBeGreaterThanOrEqual(before);
      await sql`UPDATE ${sql.table(`${BOSS_SCHEMA}.job`)} SET state = 'completed', completed_on = now() WHERE name = 'sync.mailbox' AND id = ${job!.id}::uuid`.execute(api.ctx.db);
      await drain();
    });

    it('a lifecycle notification with a wrong clientState changes nothing', async () => {
      const [sub] = await subscriptions();
      const upkeep = await jobsOf('subscriptions.renew', microsoft.grantId);
      const res = await post(lifecycle, { value: [{ subscriptionId: sub!.id, clientState: 'guessed', lifecycleEvent: 'subscriptionRemoved', tenantId: 'x', subscriptionExpirationDateTime: new Date().toISOString() }] });
      expect(res.statusCode).toBe(202);
      expect(await api.ctx.db.selectFrom('push_subscriptions').select('id').where('external_id', '=', sub!.id).execute()).toHaveLength(1);
      expect(await jobsOf('subscriptions.renew', microsoft.grantId)).toBe(upkeep);
    });

    it('refuses bodies that are no notification collection', async () => {
      for (const body of ['{"value": "nope"}', '[]', '{}', '{"value": [1, 2', 'subscriptionId=abc']) {
        const res = await api.app.inject({ method: 'POST', url: changes, headers: { 'content-type': 'application/json' }, payload: body });
        expect(res.statusCode, body).toBe(400);
      }
      const huge = await post(changes, { value: [{ subscriptionId: 'x'.repeat(1_100_000) }] });
      expect(huge.statusCode).toBe(413);
    });
  });

  it('the webhooks are in the OpenAPI document', async () => {
    const doc = (await api.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of ['/webhooks/google/pubsub', '/webhooks/microsoft/notifications', '/webhooks/microsoft/lifecycle']) expect(doc.paths[path]?.post, path).toBeDefined();
  });
});
