/**
 * Push-to-visible latency (DESIGN "Performance" 4, R-21): new candidate mail arrives in a simulated mailbox, the
 * provider announces it (Pub/Sub push of a Gmail watch, a Graph change notification) to the product's webhook, and
 * the product's workers (in process, as `serve --role all` and the demo run them) sync it; the figure is the time
 * from the notification's arrival at the webhook to the message being readable through
 * `GET /api/v1/candidates/{id}/messages`. The poll is removed, so only push can bring the mail.
 */
import net from 'node:net';
import pino from 'pino';
import { startSimulators } from '../sim/server.ts';
import { createJobs, type Jobs } from '../src/jobs/index.ts';
import { pollScheduleName } from '../src/sync/workers.ts';
import { registerWorkers } from '../src/workers.ts';
import { startTestApi } from '../test/helpers/app.ts';
import { createCompany } from '../test/helpers/fixtures.ts';
import { connectSeat, controlOf, openBenchDatabase, percentile, type BenchContext, type Provider } from './world.ts';

const TOPIC = 'projects/recruiter-sync-bench/topics/gmail-push';
/** Gmail sends at most one notification per mailbox per second: samples are spaced so that none waits for that. */
const GMAIL_PUSH_SPACING_MS = 1_100;

export async function benchPushLatency({ full, report }: BenchContext): Promise<void> {
  const samples = full ? 50 : 20;
  for (const provider of ['google', 'microsoft'] as const) {
    const figures = await measure(provider, samples);
    const fromNotification = [...figures.fromNotification].sort((a, b) => a - b);
    const fromDelivery = [...figures.fromDelivery].sort((a, b) => a - b);
    const note = `${samples} messages, embedded database, workers in process`;
    report(`push.${provider}.notificationToVisible.p50`, percentile(fromNotification, 50), 'ms', note);
    report(`push.${provider}.notificationToVisible.p99`, percentile(fromNotification, 99), 'ms', note);
    report(`push.${provider}.deliveryToVisible.p50`, percentile(fromDelivery, 50), 'ms', 'mail arriving at the provider → readable in the API');
    report(`push.${provider}.deliveryToVisible.p99`, percentile(fromDelivery, 99), 'ms', 'mail arriving at the provider → readable in the API');
  }
}

async function measure(provider: Provider, samples: number): Promise<{ fromNotification: number[]; fromDelivery: number[] }> {
  // Both clocks at real time: Pub/Sub tokens are checked against the product's clock.
  const sim = await startSimulators({ port: 0, host: '127.0.0.1' });
  const control = controlOf(sim.url);
  const database = await openBenchDatabase('pglite');
  const port = await freePort();
  const arrivals: number[] = [];
  const ref: { jobs?: Jobs } = {};
  const api = await startTestApi(database, {
    simulatorUrl: sim.url,
    publicUrl: `http://127.0.0.1:${port}`,
    push: { pubsubTopic: TOPIC },
    jobs: { send: (...args) => ref.jobs!.send(...args) },
    beforeReady: (app) =>
      app.addHook('onRequest', async (request) => {
        if (request.url.startsWith('/webhooks/') && !request.url.includes('validationToken')) arrivals.push(performance.now());
      }),
  });
  const jobs = createJobs({ database, clock: api.clock });
  ref.jobs = jobs;
  try {
    await jobs.start({ role: 'all' });
    await registerWorkers(jobs, { ...api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl }, pino({ level: 'silent' }));
    await api.app.listen({ port, host: '127.0.0.1' });
    await control('POST', '/_sim/google/pubsub-subscriptions', { topicName: TOPIC, pushEndpoint: `${api.publicUrl}/webhooks/google/pubsub` });

    const domain = `push-bench-${provider}.test`;
    const address = `rita@${domain}`;
    const c = await createCompany(api, 'Push bench', domain);
    await control('POST', '/_sim/tenants', { provider, domain });
    await control('POST', '/_sim/mailboxes', { provider, address });
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
    const grantId = await connectSeat(api, { seatId: c.seat.id, userId: c.recruiter.id, token: c.contractToken, address });
    const channels = provider === 'google' ? 1 : 2;
    await until(async () => (await api.ctx.db.selectFrom('push_subscriptions').select('id').where('authorization_id', '=', grantId).execute()).length === channels, 60_000);
    await jobs.unschedule(pollScheduleName(grantId));

    const visible = async (subject: string) => {
      const res = await api.call('GET', `/api/v1/candidates/${c.candidate.id}/messages`, { token: c.contractToken, actAs: c.recruiter.id });
      return (res.json() as Array<{ messages: Array<{ subject: string }> }>).some((t) => t.messages.some((m) => m.subject === subject));
    };
    const fromNotification: number[] = [];
    const fromDelivery: number[] = [];
    let lastDelivery = 0;
    for (let i = 0; i < samples; i++) {
      if (provider === 'google') await sleep(Math.max(0, lastDelivery + GMAIL_PUSH_SPACING_MS - performance.now()));
      const subject = `Push sample ${i}`;
      const before = arrivals.length;
      lastDelivery = performance.now();
      await control('POST', `/_sim/mailboxes/${encodeURIComponent(address)}/messages`, { from: 'Carla <carla@mail.example>', to: address, subject, text: `Sample ${i}` });
      await until(() => visible(subject), 30_000, 2);
      const seen = performance.now();
      const arrival = arrivals[before];
      if (arrival === undefined) throw new Error(`sample ${i} became visible without a notification`);
      fromNotification.push(seen - arrival);
      fromDelivery.push(seen - lastDelivery);
    }
    return { fromNotification, fromDelivery };
  } finally {
    await api.close();
    await jobs.stop();
    await database.close();
    await sim.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(probe: () => Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error('push bench: timed out');
    await sleep(stepMs);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
