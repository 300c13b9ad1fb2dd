/**
 * Fleet onboarding (DESIGN "Performance"; issue figure 3): many seats of several companies — half of the companies
 * on Gmail, half on Microsoft 365, every seat with a small generated mailbox — connect through the full OAuth round
 * trip within a minute, and `recruiter-sync serve --role worker` processes on one Postgres run every historical sync
 * from the job queue (the OAuth completion enqueues it, as in production).
 *
 * Figures: how long the connections took; the time until every seat is incremental; per-seat completion (from the
 * seat's connection to its historical sync's end) at p50, p99 and max (a starved seat shows as a max far beyond
 * p99); rate-limit answers the simulators gave; historical runs that ran twice; and the total against the
 * quota-bound minimum of the slowest mailbox.
 *
 * Mailboxes: each company's seat i gets the mailbox generated for seat i of a template company (its candidates and
 * projects shared by the company's seats, as the generator's `contract` option makes them), composed once and
 * delivered with the company's domain in place of the template's (same length, so the MIME stays valid). Message-IDs
 * repeat across companies only, never within one contract, so no two seats of a contract see the same message.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { generateMailbox, summarize, toDeliverInputs, type GeneratedMailbox } from '../sim/generator/index.ts';
import { startSimulators } from '../sim/server.ts';
import { systemClock } from '../src/clock.ts';
import { TokenCipher } from '../src/crypto/token-cipher.ts';
import { createJobs } from '../src/jobs/index.ts';
import { BOSS_SCHEMA } from '../src/jobs/queue-clock.ts';
import { HISTORICAL_SYNC_CONCURRENCY } from '../src/sync/workers.ts';
import { startTestApi } from '../test/helpers/app.ts';
import { createCompany } from '../test/helpers/fixtures.ts';
import { machineCpu, processCpuSeconds, startWorker, stopProcess, workerEnv } from './scale-out.ts';
import { connectSeat, controlOf, openBenchDatabase, percentile, postgresReachable, type BenchContext, type Provider } from './world.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The simulators' default per-mailbox quotas (sim/core/limits.ts), for the quota-bound minimum. */
const QUOTA: Record<Provider, { perWindow: number; windowSeconds: number }> = {
  google: { perWindow: 15_000, windowSeconds: 60 },
  microsoft: { perWindow: 10_000, windowSeconds: 600 },
};

export interface FleetShape {
  companies: number;
  seatsPerCompany: number;
  messagesPerSeat: number;
  workers: number;
  /** OAuth round trips in flight at once while the fleet connects. */
  connectConcurrency: number;
  /** The run stops waiting after this long and reports what finished. */
  limitMinutes: number;
}

export const fleetShape = (full: boolean): FleetShape =>
  full
    ? { companies: 10, seatsPerCompany: 100, messagesPerSeat: 200, workers: 2, connectConcurrency: 16, limitMinutes: 60 }
    : { companies: 4, seatsPerCompany: 25, messagesPerSeat: 200, workers: 2, connectConcurrency: 16, limitMinutes: 20 };

interface FleetSeat {
  company: number;
  index: number;
  provider: Provider;
  address: string;
  seatId: string;
  userId: string;
  token: string;
  authorizationId?: string;
  connectedAt?: number;
}

const domainOf = (company: number) => `fleet-${String(company).padStart(3, '0')}.test`;
const recruiterAddress = (index: number, domain: string) => `r${String(index).padStart(4, '0')}@${domain}`;

export async function benchFleet({ full, report }: BenchContext): Promise<void> {
  const postgres = await postgresReachable();
  if (!postgres.ok) {
    console.log(`fleet: skipped (${postgres.reason})`);
    return;
  }
  const shape = fleetShape(full);
  const seatCount = shape.companies * shape.seatsPerCompany;
  const progress = (text: string) => console.log(`  … fleet: ${text}`);
  const now = new Date();

  // Templates: seat i's mailbox of the template company, candidates and projects shared by its seats.
  let started = performance.now();
  const templateDomain = domainOf(0);
  const templates: GeneratedMailbox[] = [];
  for (let i = 0; i < shape.seatsPerCompany; i++) {
    const first = templates[0];
    templates.push(
      generateMailbox({
        seed: `fleet-${i}`,
        owner: { address: recruiterAddress(i, templateDomain), name: `Recruiter ${i}` },
        companyDomain: templateDomain,
        now,
        size: shape.messagesPerSeat,
        candidateShare: 0.2,
        ...(first ? { contract: { candidates: first.candidates, projects: first.projects }, colleagues: first.colleagues } : {}),
      }),
    );
  }
  const composed: Array<Array<{ raw: Buffer; folder: GeneratedMailbox['messages'][number]['folder']; threadKey: string; date: string }>> = [];
  for (const template of templates) composed.push((await toDeliverInputs(template.messages)).map((m) => ({ ...m, raw: Buffer.from(m.raw, 'base64') })));
  const expectedPerTemplate = templates.map((t) => summarize(t).byRule.ingested ?? 0);
  progress(`${templates.length} template mailboxes of ${shape.messagesPerSeat} messages generated and composed in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const sim = await startSimulators({ port: 0, host: '127.0.0.1' });
  const control = controlOf(sim.url);
  const key = randomBytes(32);
  const database = await openBenchDatabase('postgres', 10);
  const jobs = createJobs({ database, clock: systemClock });
  const children: ChildProcess[] = [];
  const api = await startTestApi(database, { simulatorUrl: sim.url, cipher: new TokenCipher(key), jobs: { send: (...args) => jobs.send(...args) } });
  try {
    await jobs.start({ role: 'web' });
    // Companies, users, seats and candidates through the API; every mailbox delivered into the simulator.
    started = performance.now();
    const seats: FleetSeat[] = [];
    const first = templates[0]!;
    for (let company = 0; company < shape.companies; company++) {
      const provider: Provider = company % 2 === 0 ? 'google' : 'microsoft';
      const domain = domainOf(company);
      const c = await createCompany(api, `Fleet ${company}`, domain);
      await control('POST', '/_sim/tenants', { provider, domain });
      const candidateIds = new Map<string, string>();
      await inBatches(first.candidates, 8, async (cand) => {
        const created = await c.json('POST', `/api/v1/contracts/${c.contract.id}/candidates`, { name: cand.name, emails: cand.emails, emailDiscovery: cand.discovery });
        candidateIds.set(cand.key, created.id);
      });
      for (const project of first.projects) {
        const created = await c.json('POST', `/api/v1/contracts/${c.contract.id}/projects`, { name: project.name });
        await inBatches(project.candidateKeys, 8, (k) => c.json('POST', `/api/v1/projects/${created.id}/candidates`, { candidateId: candidateIds.get(k) }));
        if (project.status === 'closed') await c.json('PATCH', `/api/v1/projects/${created.id}`, { status: 'closed' });
      }
      await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
      const indexes = Array.from({ length: shape.seatsPerCompany }, (_, i) => i);
      await inBatches(indexes, 8, async (index) => {
        const address = recruiterAddress(index, domain);
        const user = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: address, name: `Recruiter ${index}`, role: 'recruiter' });
        const seat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: user.id });
        // The network degree this recruiter has with each candidate, as generated for the mailbox.
        for (const cand of first.candidates) {
          if (cand.degree !== null) await c.json('PUT', `/api/v1/candidates/${candidateIds.get(cand.key)}/connections`, { userId: user.id, degree: cand.degree });
        }
        sim.state.mail.createMailbox({ provider, address, aliases: [], displayName: `Recruiter ${index}` });
        const inputs = composed[index]!.map((m) => ({ ...m, raw: company === 0 ? m.raw : Buffer.from(m.raw.toString('latin1').replaceAll(templateDomain, domain), 'latin1') }));
        await sim.state.mail.deliverMany(address, inputs);
        seats.push({ company, index, provider, address, seatId: seat.id, userId: user.id, token: c.contractToken });
      });
      progress(`company ${company + 1}/${shape.companies} (${provider}) set up: ${shape.seatsPerCompany} seats, ${first.candidates.length} candidates, mailboxes delivered`);
    }
    progress(`set-up took ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // The workers, then every seat connected through OAuth; each completion enqueues its historical sync.
    const env = workerEnv(database.connectionString!, sim.url, key);
    for (let i = 0; i < shape.workers; i++) children.push(await startWorker(env));
    const workersBefore = children.map((c) => processCpuSeconds(c.pid));
    const cpuBefore = machineCpu();
    const ownBefore = process.cpuUsage();
    const t0 = performance.now();
    const wall0 = Date.now();
    // Seats in an interleaved order, companies and providers mixed, as recruiters would click.
    const order = [...seats].sort((a, b) => a.index - b.index || a.company - b.company);
    await inBatches(order, shape.connectConcurrency, async (s) => {
      s.authorizationId = await connectSeat(api, { seatId: s.seatId, userId: s.userId, token: s.token, address: s.address });
      s.connectedAt = performance.now();
    });
    const connectSeconds = (performance.now() - t0) / 1000;
    // Whose CPU the connections had: this process (API and simulators) against the workers meanwhile.
    const ownConnect = process.cpuUsage(ownBefore);
    const ownConnectSeconds = (ownConnect.user + ownConnect.system) / 1e6;
    const workersConnectSeconds = children.reduce((sum, c, i) => sum + processCpuSeconds(c.pid) - workersBefore[i]!, 0);
    progress(`${seatCount} seats connected in ${connectSeconds.toFixed(1)} s`);
    report('fleet.connect', connectSeconds, 's', `${seatCount.toLocaleString('en')} seats of ${shape.companies} companies (half Gmail, half Microsoft 365) through the OAuth round trip, ${shape.connectConcurrency} at a time; ${shape.workers} worker processes syncing meanwhile (CPU meanwhile: API and simulators ${ownConnectSeconds.toFixed(1)} s, ${((100 * ownConnectSeconds) / connectSeconds).toFixed(0)} % of a core; workers ${workersConnectSeconds.toFixed(1)} s); load average ${os.loadavg()[0]!.toFixed(1)}`);

    // Until every seat is incremental, with progress.
    const states = () => database.db.selectFrom('sync_states').select(['authorization_id', 'phase', 'messages_examined', 'messages_ingested', 'historical_completed_at', 'last_error']).execute();
    let lastProgress = performance.now();
    let done = await states();
    // A run that does not finish in time still reports what it measured, on the seats that finished.
    let unfinished = 0;
    for (;;) {
      const incremental = done.filter((s) => s.phase === 'incremental').length;
      if (incremental === seatCount) break;
      if (performance.now() - t0 > shape.limitMinutes * 60_000) {
        unfinished = seatCount - incremental;
        progress(`stopped after ${shape.limitMinutes} minutes with ${unfinished} seats not yet incremental`);
        break;
      }
      if (performance.now() - lastProgress > 10_000) {
        lastProgress = performance.now();
        const ingested = done.reduce((sum, s) => sum + s.messages_ingested, 0);
        progress(`${incremental}/${seatCount} seats incremental, ${ingested.toLocaleString('en')} messages ingested, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
      await sleep(250);
      done = await states();
    }
    const totalSeconds = (performance.now() - t0) / 1000;
    const workerCpu = children.reduce((sum, c, i) => sum + processCpuSeconds(c.pid) - workersBefore[i]!, 0);
    const own = process.cpuUsage(ownBefore);
    const cpuAfter = machineCpu();
    const busy = cpuBefore && cpuAfter ? (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total) : NaN;

    // Per-seat completion: from its connection to the end of its historical sync (system clock in the workers).
    const byGrant = new Map(done.map((s) => [s.authorization_id, s]));
    const perSeat: number[] = [];
    const fromStart: number[] = [];
    for (const s of seats) {
      const completed = byGrant.get(s.authorizationId!)?.historical_completed_at?.getTime();
      if (completed === undefined) continue;
      const connectedWall = wall0 + (s.connectedAt! - t0);
      perSeat.push((completed - connectedWall) / 1000);
      fromStart.push((completed - wall0) / 1000);
    }
    perSeat.sort((a, b) => a - b);
    fromStart.sort((a, b) => a - b);
    const ingested = done.reduce((sum, s) => sum + s.messages_ingested, 0);
    const examined = done.reduce((sum, s) => sum + s.messages_examined, 0);
    const expected = seats.reduce((sum, s) => sum + expectedPerTemplate[s.index]!, 0);
    // The workers' other work meanwhile: every seat is polled once a minute from its historical sync's start (R-21;
    // Gmail has no push topic here), and an incremental seat's poll is a sync of its own.
    const { rows: polls } = await database.raw.query<{ n: string }>(`SELECT count(*) AS n FROM ${BOSS_SCHEMA}.job WHERE name = 'sync.mailbox' AND started_on IS NOT NULL`);
    const machine = `machine CPU ${(busy * 100).toFixed(0)} % busy; CPU time: workers ${workerCpu.toFixed(0)} s (${((workerCpu * 1000) / Math.max(1, ingested)).toFixed(1)} ms per stored message, ${Number(polls[0]?.n ?? 0).toLocaleString('en')} poll syncs run beside the historical ones), API and simulators (this process) ${((own.user + own.system) / 1e6).toFixed(0)} s; load average ${os.loadavg()[0]!.toFixed(1)}`;
    const stopped = unfinished > 0 ? `NOT FINISHED: ${unfinished} of ${seatCount} seats still in their historical sync when stopped; ` : '';
    report(unfinished > 0 ? 'fleet.stoppedAfter' : 'fleet.untilAllIncremental', totalSeconds, 's', `${stopped}from the first connection; ${ingested.toLocaleString('en')} messages ingested (oracle ${expected.toLocaleString('en')}) of ${examined.toLocaleString('en')} examined, ${shape.messagesPerSeat} messages a mailbox, ${shape.workers} worker processes on one Postgres; ${machine}`);
    const spread = `${unfinished > 0 ? `the ${perSeat.length} seats that finished, ` : ''}from the seat's connection to the end of its historical sync; from the first connection: p50 ${percentile(fromStart, 50).toFixed(1)} s, max ${fromStart.at(-1)!.toFixed(1)} s`;
    report('fleet.seatCompletion.p50', percentile(perSeat, 50), 's', spread);
    report('fleet.seatCompletion.p99', percentile(perSeat, 99), 's', spread);
    report('fleet.seatCompletion.max', perSeat.at(-1)!, 's', spread);

    // Rate-limit answers and the quota-bound minimum of the slowest mailbox, from the simulators' accounting.
    const usage = (await control('GET', '/_sim/usage')) as Record<Provider, Record<string, { units: number; rateLimited: number }>>;
    let rateLimited = 0;
    let slowest = { address: '', seconds: 0, sustained: 0, units: 0, provider: 'google' as Provider };
    for (const s of seats) {
      const u = usage[s.provider][s.address] ?? { units: 0, rateLimited: 0 };
      rateLimited += u.rateLimited;
      const q = QUOTA[s.provider];
      const seconds = (Math.max(1, Math.ceil(u.units / q.perWindow)) - 1) * q.windowSeconds;
      const sustained = (u.units / q.perWindow) * q.windowSeconds;
      if (seconds > slowest.seconds || (seconds === slowest.seconds && sustained > slowest.sustained)) slowest = { address: s.address, seconds, sustained, units: u.units, provider: s.provider };
    }
    report('fleet.rateLimited', rateLimited, 'answers', 'requests the simulators refused for quota or concurrency, all seats, default limits');
    report(
      'fleet.quotaMinimumSlowest',
      slowest.seconds,
      's',
      `the slowest mailbox by quota spent ${slowest.units.toLocaleString('en')} ${slowest.provider === 'google' ? 'units' : 'requests'} (${slowest.provider}): ${slowest.seconds === 0 ? 'fits one window' : `${slowest.seconds} s of whole windows`}, ${slowest.sustained.toFixed(1)} s at the sustained rate; the fleet took ${totalSeconds.toFixed(0)} s`,
    );

    // Historical runs: twice, deferred, retried (pg-boss's job rows: every run of the queue, deferred ones included).
    const { rows: runs } = await database.raw.query<{ grant: string; started_on: Date | null; completed_on: Date | null; retry_count: number; state: string; deferred: string | null }>(
      `SELECT data->>'authorizationId' AS grant, started_on, completed_on, retry_count, state, output->>'deferredTo' AS deferred FROM ${BOSS_SCHEMA}.job WHERE name = 'sync.historical'`,
    );
    const twice = countRunsTwice(runs, byGrant);
    const deferred = runs.filter((r) => r.deferred !== null).length;
    const retried = runs.filter((r) => r.retry_count > 0).length;
    const ran = runs.filter((r) => r.started_on !== null).length;
    report('fleet.jobsRunTwice', twice.overlapping + twice.afterCompletion, 'runs', `historical runs of one grant at the same time: ${twice.overlapping} (and ${twice.waited} that found the grant's run going and re-queued at once); started after the grant's historical sync had completed: ${twice.afterCompletion}; of ${ran.toLocaleString('en')} runs (${deferred} re-queued to wait for quota or a lease, ${retried} retries after a failure)`);
    const slots = shape.workers * HISTORICAL_SYNC_CONCURRENCY;
    const busyShare = workerBusyShare(runs, slots, totalSeconds);
    report('fleet.workerSlotsBusy', busyShare * 100, '%', `share of the ${slots} historical-sync slots (${HISTORICAL_SYNC_CONCURRENCY} in each of ${shape.workers} worker processes) spent in a run, from the first connection until every seat was incremental; a run waiting on quota re-queues and frees its slot`);
  } finally {
    for (const child of children) await stopProcess(child);
    await jobs.stop();
    await api.close();
    try {
      await database.close();
    } catch (error) {
      console.log(`fleet: could not drop the scratch database: ${(error as Error).message}`);
    }
    await sim.close();
  }
}

/**
 * Historical runs that ran twice: a run started while another run of the same grant was active and did not step
 * aside (a run that finds the grant's lease held re-queues itself at once: `waited`), and runs started after the
 * grant's historical sync had completed (a finished sync started again).
 */
export function countRunsTwice(
  runs: ReadonlyArray<{ grant: string; started_on: Date | null; completed_on: Date | null; deferred: string | null }>,
  states: ReadonlyMap<string, { historical_completed_at: Date | null }>,
): { overlapping: number; waited: number; afterCompletion: number } {
  const byGrant = new Map<string, Array<{ start: number; end: number; deferred: boolean }>>();
  for (const r of runs) {
    if (!r.started_on) continue;
    const spans = byGrant.get(r.grant) ?? [];
    spans.push({ start: r.started_on.getTime(), end: r.completed_on?.getTime() ?? Infinity, deferred: r.deferred !== null });
    byGrant.set(r.grant, spans);
  }
  let overlapping = 0;
  let waited = 0;
  let afterCompletion = 0;
  for (const [grant, spans] of byGrant) {
    spans.sort((a, b) => a.start - b.start);
    let end = -Infinity;
    for (const span of spans) {
      if (span.start < end) {
        if (span.deferred) waited++;
        else overlapping++;
      }
      end = Math.max(end, span.end);
    }
    const completed = states.get(grant)?.historical_completed_at?.getTime();
    if (completed !== undefined) afterCompletion += spans.filter((s) => s.start > completed).length;
  }
  return { overlapping, waited, afterCompletion };
}

function workerBusyShare(runs: ReadonlyArray<{ started_on: Date | null; completed_on: Date | null }>, slots: number, seconds: number): number {
  let busyMs = 0;
  for (const r of runs) if (r.started_on && r.completed_on) busyMs += r.completed_on.getTime() - r.started_on.getTime();
  return busyMs / 1000 / (slots * seconds);
}

/** Runs `each` over `items`, `width` at a time. */
async function inBatches<T>(items: readonly T[], width: number, each: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await each(items[next++]!);
    }),
  );
}
