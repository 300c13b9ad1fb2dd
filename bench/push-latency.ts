/**
 * Push-to-visible latency (DESIGN "Performance" 4, R-21): new candidate mail arrives in a simulated mailbox, the
 * provider announces it (Pub/Sub push of a Gmail watch, a Graph change notification) to the product's webhook, and
 * the product's workers (in process, as `serve --role all` and the demo run them) sync it; the figure is the time
 * from the notification's arrival at the webhook to the message being readable through
 * `GET /api/v1/candidates/{id}/messages`. The poll is removed, so only push can bring the mail.
 *
 * Two settings: one mailbox at a time (`push.<provider>.*`), and a fleet (`push.fleet.*`): many connected
 * incremental mailboxes on Postgres (1,000 with --full), half Gmail and half Microsoft 365, with bursts of mail
 * for 200 different mailboxes delivered within a second, so that 200 notifications arrive at once.
 */
import net from 'node:net';
import os from 'node:os';
import pino from 'pino';
import { startSimulators } from '../sim/server.ts';
import { createJobs, type Jobs } from '../src/jobs/index.ts';
import { pollScheduleName } from '../src/sync/workers.ts';
import { registerWorkers } from '../src/workers.ts';
import { startTestApi } from '../test/helpers/app.ts';
import { createCompany } from '../test/helpers/fixtures.ts';
import type { Kysely } from 'kysely';
import type { DB } from '../src/store/schema.ts';
import { connectSeat, controlOf, countingDb, openBenchDatabase, percentile, postgresReachable, type BenchContext, type Provider } from './world.ts';

const TOPIC = 'projects/recruiter-sync-bench/topics/gmail-push';
/** Gmail sends at most one notification per mailbox per second: samples are spaced so that none waits for that. */
const GMAIL_PUSH_SPACING_MS = 1_100;

export async function benchPushLatency({ full, report }: BenchContext): Promise<void> {
  const samples = full ? 50 : 20;
  // BENCH_PUSH_FLEET_ONLY=1: the fleet figures alone (before/after comparisons run back to back).
  const providers = process.env.BENCH_PUSH_FLEET_ONLY === '1' ? [] : (['google', 'microsoft'] as const);
  for (const provider of providers) {
    const figures = await measure(provider, samples);
    const fromNotification = [...figures.fromNotification].sort((a, b) => a - b);
    const fromDelivery = [...figures.fromDelivery].sort((a, b) => a - b);
    const note = `${samples} messages, embedded database, workers in process`;
    report(`push.${provider}.notificationToVisible.p50`, percentile(fromNotification, 50), 'ms', note);
    report(`push.${provider}.notificationToVisible.p99`, percentile(fromNotification, 99), 'ms', note);
    report(`push.${provider}.deliveryToVisible.p50`, percentile(fromDelivery, 50), 'ms', 'mail arriving at the provider → readable in the API');
    report(`push.${provider}.deliveryToVisible.p99`, percentile(fromDelivery, 99), 'ms', 'mail arriving at the provider → readable in the API');
  }
  await benchPushFleet({ full, report });
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
    await startPushedProduct(jobs, api, port, control);

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

/** The fleet's shape: mailboxes connected (in companies of `perCompany` seats), bursts of `burst` messages within a second. */
const fleetShape = (full: boolean) => (full ? { mailboxes: 1_000, perCompany: 100, bursts: 5, burst: 200 } : { mailboxes: 200, perCompany: 50, bursts: 2, burst: 200 });

export async function benchPushFleet({ full, report }: BenchContext): Promise<void> {
  const postgres = await postgresReachable();
  if (!postgres.ok) {
    console.log(`push.fleet: skipped (${postgres.reason})`);
    return;
  }
  const shape = fleetShape(full);
  const progress = (text: string) => console.log(`  … push fleet: ${text}`);
  const sim = await startSimulators({ port: 0, host: '127.0.0.1' });
  const control = controlOf(sim.url);
  const database = await openBenchDatabase('postgres', 10);
  const port = await freePort();
  // Each webhook request: when it arrived, and the mailboxes it announces (read from its body).
  const arrivals = new Map<string, number[]>();
  const arrivedAt = new WeakMap<object, number>();
  const graphChannels = new Map<string, string>();
  const ref: { jobs?: Jobs } = {};
  const api = await startTestApi(database, {
    simulatorUrl: sim.url,
    publicUrl: `http://127.0.0.1:${port}`,
    push: { pubsubTopic: TOPIC },
    jobs: { send: (...args) => ref.jobs!.send(...args) },
    beforeReady: (app) => {
      app.addHook('onRequest', async (request) => {
        if (request.url.startsWith('/webhooks/') && !request.url.includes('validationToken')) arrivedAt.set(request, performance.now());
      });
      app.addHook('preHandler', async (request) => {
        const at = arrivedAt.get(request);
        if (at === undefined) return;
        for (const address of announced(request.body, graphChannels)) {
          const list = arrivals.get(address) ?? [];
          list.push(at);
          arrivals.set(address, list);
        }
      });
    },
  });
  const jobs = createJobs({ database, clock: api.clock });
  ref.jobs = jobs;
  // The workers' statements are counted (the queue's own, pg-boss's, are not), to give them per notification sync.
  const counting = countingDb(api.ctx.db);
  try {
    await startPushedProduct(jobs, api, port, control, counting.db);

    // Companies of recruiters, each connected by OAuth; the candidate who writes to them is the company's.
    let started = performance.now();
    const seats: Array<{ provider: Provider; address: string; userId: string; token: string; candidateId: string; grantId: string }> = [];
    const companies = shape.mailboxes / shape.perCompany;
    for (let k = 0; k < companies; k++) {
      const provider: Provider = k % 2 === 0 ? 'google' : 'microsoft';
      const domain = `push-fleet-${k}.test`;
      const c = await createCompany(api, `Push fleet ${k}`, domain);
      await control('POST', '/_sim/tenants', { provider, domain });
      await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
      await inParallel(Array.from({ length: shape.perCompany }, (_, i) => i), 16, async (i) => {
        const address = `r${i}@${domain}`;
        await control('POST', '/_sim/mailboxes', { provider, address });
        const user = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: address, name: `Recruiter ${i}`, role: 'recruiter' });
        const seat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: user.id });
        const grantId = await connectSeat(api, { seatId: seat.id, userId: user.id, token: c.contractToken, address });
        seats.push({ provider, address, userId: user.id, token: c.contractToken, candidateId: c.candidate.id, grantId });
      });
      progress(`company ${k + 1}/${companies} (${provider}): ${shape.perCompany} mailboxes connected`);
    }
    // Every grant incremental with its push channels (Gmail: a watch; Graph: Inbox and Sent Items).
    await until(async () => {
      const { rows } = await database.raw.query<{ n: string }>(
        `SELECT count(*) AS n FROM sync_states s WHERE s.phase = 'incremental' AND (SELECT count(*) FROM push_subscriptions p WHERE p.authorization_id = s.authorization_id) = (SELECT CASE WHEN a.provider = 'google' THEN 1 ELSE 2 END FROM mailbox_authorizations a WHERE a.id = s.authorization_id)`,
      );
      return Number(rows[0]!.n) === seats.length;
    }, 15 * 60_000, 500);
    // Only push brings mail from here on.
    await database.raw.query(`DELETE FROM job_schedules WHERE name LIKE 'sync.poll:%'`);
    const { rows: channels } = await database.raw.query<{ external_id: string; address: string }>(
      `SELECT p.external_id, a.address FROM push_subscriptions p JOIN mailbox_authorizations a ON a.id = p.authorization_id WHERE p.provider = 'microsoft'`,
    );
    for (const ch of channels) graphChannels.set(ch.external_id, ch.address.toLowerCase());
    progress(`${seats.length} mailboxes incremental with push channels in ${((performance.now() - started) / 1000).toFixed(0)} s`);

    const fromNotification: number[] = [];
    const fromDelivery: number[] = [];
    let missing = 0;
    // Work per notification sync over the bursts: the workers' statements and the process's CPU (simulators, API and this benchmark's polling included).
    const statementsBefore = counting.statements();
    const cpuBefore = process.cpuUsage();
    const burstsStarted = new Date();
    const burstStarts: Date[] = [];
    for (let b = 0; b < shape.bursts; b++) {
      burstStarts.push(new Date());
      // 200 different mailboxes (a mailbox is announced at most once a second), mail delivered 5 ms apart.
      const chosen = shuffle(seats, b).slice(0, shape.burst);
      const samples = chosen.map((seat, i) => ({ seat, subject: `Burst ${b} message ${i} ${Math.random().toString(36).slice(2, 8)}`, delivered: 0, visible: 0 }));
      started = performance.now();
      const deliveries = samples.map(async (sample, i) => {
        await sleep(Math.max(0, started + i * (1000 / shape.burst) - performance.now()));
        sample.delivered = performance.now();
        await control('POST', `/_sim/mailboxes/${encodeURIComponent(sample.seat.address)}/messages`, { from: 'Carla <carla@mail.example>', to: sample.seat.address, subject: sample.subject, text: `Burst ${b}` });
      });
      // Readable: found in the store, then confirmed through the API as the seat's user.
      const pending = new Map(samples.map((s) => [s.subject, s]));
      const deadline = performance.now() + 60_000;
      const confirming = new Set<Promise<void>>();
      while (pending.size > 0 && performance.now() < deadline) {
        const { rows } = await database.raw.query<{ subject: string }>('SELECT subject FROM mail_messages WHERE subject = ANY($1)', [[...pending.keys()]]);
        for (const { subject } of rows) {
          const sample = pending.get(subject)!;
          pending.delete(subject);
          const check = (async () => {
            for (;;) {
              const res = await api.call('GET', `/api/v1/candidates/${sample.seat.candidateId}/messages`, { token: sample.seat.token, actAs: sample.seat.userId });
              if ((res.json() as Array<{ messages: Array<{ subject: string }> }>).some((t) => t.messages.some((m) => m.subject === subject))) break;
              await sleep(5);
            }
            sample.visible = performance.now();
          })();
          confirming.add(check);
          void check.finally(() => confirming.delete(check));
        }
        await sleep(5);
      }
      await Promise.all(deliveries);
      await Promise.all([...confirming]);
      missing += pending.size;
      for (const sample of samples) {
        if (!sample.visible) continue;
        const arrival = (arrivals.get(sample.seat.address) ?? []).find((t) => t >= sample.delivered);
        if (arrival === undefined) {
          missing++;
          continue;
        }
        fromNotification.push(sample.visible - arrival);
        fromDelivery.push(sample.visible - sample.delivered);
      }
      progress(`burst ${b + 1}/${shape.bursts}: ${samples.length - pending.size} of ${samples.length} messages readable`);
      // Past Gmail's one notification per mailbox per second before the next burst.
      await sleep(1500);
    }
    const statements = counting.statements() - statementsBefore;
    const cpu = process.cpuUsage(cpuBefore);
    fromNotification.sort((a, b) => a - b);
    fromDelivery.sort((a, b) => a - b);
    // Where the time goes: the notification syncs' wait in the queue and their run (pg-boss's job rows).
    const { rows: syncJobs } = await database.raw.query<{ wait: number; run: number; created_on: Date; completed_on: Date }>(
      `SELECT extract(epoch FROM started_on - created_on) * 1000 AS wait, extract(epoch FROM completed_on - started_on) * 1000 AS run, created_on, completed_on FROM pgboss.job WHERE name = 'sync.mailbox' AND data->>'trigger' = 'notification' AND completed_on IS NOT NULL AND created_on >= $1`,
      [burstsStarted],
    );
    // Capacity: the notification syncs of each burst over the time from its first job's creation to its last one's
    // completion. A burst of 200 within a second waits in the queue unless this is at least 200 a second.
    let span = 0;
    for (let b = 0; b < burstStarts.length; b++) {
      const of = syncJobs.filter((j) => j.created_on >= burstStarts[b]! && (b + 1 === burstStarts.length || j.created_on < burstStarts[b + 1]!));
      if (of.length === 0) continue;
      span += Math.max(...of.map((j) => j.completed_on.getTime())) - Math.min(...of.map((j) => j.created_on.getTime()));
    }
    const waits = syncJobs.map((j) => Number(j.wait)).sort((a, b) => a - b);
    const runs = syncJobs.map((j) => Number(j.run)).sort((a, b) => a - b);
    progress(`${syncJobs.length} notification syncs: queued p50 ${percentile(waits, 50).toFixed(0)} / p99 ${percentile(waits, 99).toFixed(0)} ms, ran p50 ${percentile(runs, 50).toFixed(0)} / p99 ${percentile(runs, 99).toFixed(0)} ms`);
    const perSync = (n: number) => (syncJobs.length ? n / syncJobs.length : 0);
    report('push.fleet.statementsPerNotificationSync', perSync(statements), 'statements', `${statements.toLocaleString('en')} statements through the workers' Kysely (queries, and BEGIN and COMMIT of each transaction) over ${syncJobs.length} notification syncs`);
    if (span > 0) report('push.fleet.syncsPerSecond', syncJobs.length / (span / 1000), 'syncs/s', `notification syncs completed a second while a burst was being worked off (${syncJobs.length} syncs in ${(span / 1000).toFixed(1)} s over ${burstStarts.length} bursts; a burst of ${shape.burst} within a second needs ${shape.burst} a second for no sync to wait)`);
    report('push.fleet.cpuPerNotificationSync', perSync((cpu.user + cpu.system) / 1000), 'ms', `the benchmark process's CPU over the bursts (workers, API, simulators, the readability polling) per notification sync; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')}`);
    const note = `${shape.mailboxes.toLocaleString('en')} connected incremental mailboxes (half Gmail, half Microsoft 365) on Postgres, ${shape.bursts} bursts of ${shape.burst} messages to different mailboxes within a second, workers in process; ${fromNotification.length} samples${missing ? `, ${missing} not readable within 60 s or without a notification` : ''}`;
    report('push.fleet.notificationToVisible.p50', percentile(fromNotification, 50), 'ms', note);
    report('push.fleet.notificationToVisible.p99', percentile(fromNotification, 99), 'ms', note);
    report('push.fleet.deliveryToVisible.p50', percentile(fromDelivery, 50), 'ms', 'mail arriving at the provider → readable in the API');
    report('push.fleet.deliveryToVisible.p99', percentile(fromDelivery, 99), 'ms', 'mail arriving at the provider → readable in the API');
  } finally {
    await api.close();
    await jobs.stop();
    await database.close();
    await sim.close();
  }
}

/** The mailboxes a webhook body announces: a Pub/Sub push names the Gmail address, a Graph notification its subscription. */
/** Starts the product's queue and workers, listens, and points the Pub/Sub topic at the product's webhook. */
async function startPushedProduct(jobs: Jobs, api: Awaited<ReturnType<typeof startTestApi>>, port: number, control: ReturnType<typeof controlOf>, db: Kysely<DB> = api.ctx.db): Promise<void> {
  await jobs.start({ role: 'all' });
  await registerWorkers(jobs, { ...api.ctx, db, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl }, pino({ level: 'silent' }));
  await api.app.listen({ port, host: '127.0.0.1' });
  await control('POST', '/_sim/google/pubsub-subscriptions', { topicName: TOPIC, pushEndpoint: `${api.publicUrl}/webhooks/google/pubsub` });
}

function announced(body: unknown, graphChannels: ReadonlyMap<string, string>): string[] {
  const b = body as { message?: { data?: string }; value?: Array<{ subscriptionId?: string }> } | undefined;
  if (b?.message?.data) {
    try {
      const data = JSON.parse(Buffer.from(b.message.data, 'base64').toString('utf8')) as { emailAddress?: string };
      return data.emailAddress ? [data.emailAddress.toLowerCase()] : [];
    } catch {
      return [];
    }
  }
  return (b?.value ?? []).map((v) => graphChannels.get(v.subscriptionId ?? '')).filter((a): a is string => a !== undefined);
}

/** A deterministic shuffle (the burst's mailboxes), seeded by the burst's number. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed * 7919 + 17;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function inParallel<T>(items: readonly T[], width: number, each: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await each(items[next++]!);
    }),
  );
}

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
