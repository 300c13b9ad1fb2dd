import { QUEUE_NAMES } from '../../src/jobs/queues.ts';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { AdjustableClock } from '../../src/clock.ts';
import { createJobs, RetryLaterError, type Jobs, type JobsRole } from '../../src/jobs/index.ts';
import type { Database } from '../../src/store/database.ts';
import { backends } from '../helpers/databases.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

const later = (clock: AdjustableClock, ms: number) => new Date(clock.now().getTime() + ms);
const advance = (clock: AdjustableClock, ms: number) => clock.set(later(clock, ms));

/** Resolves when `predicate` holds, polling briefly; fails the test after a few seconds. */
async function eventually(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each(backends)('job queue on $name', (backend) => {
  let database: Database;
  const running: Jobs[] = [];

  beforeAll(async () => {
    database = await backend.open();
  });
  afterAll(async () => {
    await database?.close();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((jobs) => jobs.stop()));
    await database.raw.exec('DELETE FROM pgboss.job; DELETE FROM job_schedules;');
  });

  async function startJobs(role: JobsRole, clock = new AdjustableClock()): Promise<{ jobs: Jobs; clock: AdjustableClock }> {
    const jobs = createJobs({ database, clock, pollIntervalMs: 50, tickIntervalMs: 50 });
    running.push(jobs);
    await jobs.start({ role });
    return { jobs, clock };
  }

  const jobState = async (id: string) =>
    (await database.raw.query<{ state: string; retry_count: number }>('SELECT state, retry_count FROM pgboss.job WHERE id = $1', [id])).rows[0];

  const backfill = () => ({ contractId: randomUUID(), candidateId: randomUUID() });

  it('creates every queue of the registry at start', async () => {
    await startJobs('web');
    const { rows } = await database.raw.query<{ name: string; policy: string }>('SELECT name, policy FROM pgboss.queue ORDER BY name');
    expect(rows.map((r) => r.name)).toEqual([...QUEUE_NAMES].sort());
    expect(rows.map((r) => r.name)).toContain('sync.mailbox');
  });

  it('a worker runs what is sent (round trip) and records the job completed', async () => {
    const { jobs } = await startJobs('all');
    const seen: { payload: unknown; attempt: number; id: string }[] = [];
    jobs.work('candidate.backfill', async (payload, job) => {
      seen.push({ payload, attempt: job.attempt, id: job.id });
    });
    const payload = backfill();
    const id = await jobs.send('candidate.backfill', payload);
    expect(id).toBeTruthy();
    await eventually(async () => (await jobState(id!))?.state === 'completed', 'the job to complete');
    expect(seen).toEqual([{ payload, attempt: 1, id }]);
  });

  it('refuses payloads that do not match the queue, and unknown queues', async () => {
    const { jobs } = await startJobs('web');
    await expect(jobs.send('candidate.backfill', { contractId: 'nope' } as never)).rejects.toThrow();
    await expect(jobs.send('no.such.queue' as never, {} as never)).rejects.toThrow(/no queue named/);
    expect(() => jobs.work('no.such.queue' as never, async () => {})).toThrow(/no queue named/);
    const { rows } = await database.raw.query('SELECT id FROM pgboss.job');
    expect(rows).toHaveLength(0);
  });

  it('keeps one waiting job per singleton key; a keyless send is never deduplicated', async () => {
    const { jobs } = await startJobs('web');
    const payload = { authorizationId: randomUUID(), trigger: 'notification' as const };
    const first = await jobs.send('sync.mailbox', payload, { singletonKey: payload.authorizationId });
    const second = await jobs.send('sync.mailbox', { ...payload, trigger: 'poll' }, { singletonKey: payload.authorizationId });
    const other = await jobs.send('sync.mailbox', { authorizationId: randomUUID(), trigger: 'poll' }, { singletonKey: 'another' });
    expect(first).toBeTruthy();
    expect(second).toBeNull();
    expect(other).toBeTruthy();
    expect(await jobs.send('candidate.backfill', backfill())).toBeTruthy();
    expect(await jobs.send('candidate.backfill', backfill())).toBeTruthy();

    const ran: string[] = [];
    jobs.work('sync.mailbox', async (p) => {
      ran.push(p.trigger);
    });
    jobs.work('candidate.backfill', async () => {});
    expect(await jobs.drain()).toBe(4);
    expect(ran.sort()).toEqual(['notification', 'poll']);
    // Once the waiting job has run, the key is free again.
    expect(await jobs.send('sync.mailbox', payload, { singletonKey: payload.authorizationId })).toBeTruthy();
  });

  it('drain runs due jobs and their follow-ups, and leaves jobs that are not due by the product clock', async () => {
    const { jobs, clock } = await startJobs('web');
    const ran: string[] = [];
    jobs.work('candidate.backfill', async (payload) => {
      ran.push(`backfill ${payload.candidateId}`);
      await jobs.send('tokens.revoke', {});
    });
    jobs.work('tokens.revoke', async () => {
      ran.push('revoke');
      await jobs.send('subscriptions.renew', {});
    });
    jobs.work('subscriptions.renew', async () => {
      ran.push('renew');
    });
    const now = backfill();
    const inAnHour = backfill();
    await jobs.send('candidate.backfill', now);
    await jobs.send('candidate.backfill', inAnHour, { startAfter: later(clock, HOUR) });

    expect(await jobs.drain()).toBe(3);
    expect(ran).toEqual([`backfill ${now.candidateId}`, 'revoke', 'renew']);
    expect(await jobs.drain()).toBe(0);

    advance(clock, 59 * 60_000);
    expect(await jobs.drain()).toBe(0);
    advance(clock, 2 * 60_000);
    expect(await jobs.drain()).toBe(3);
    expect(ran.slice(3)).toEqual([`backfill ${inAnHour.candidateId}`, 'revoke', 'renew']);
  });

  it('a job is due the moment the product clock reaches its start, however small the step', async () => {
    const { jobs, clock } = await startJobs('web');
    let runs = 0;
    jobs.work('tokens.revoke', async () => {
      runs++;
    });
    const at = later(clock, 40);
    await jobs.send('tokens.revoke', {}, { startAfter: at });
    clock.set(at);
    expect(await jobs.drain()).toBe(1);
    expect(runs).toBe(1);
  });

  it('delays stay due by the product clock across a jump of months', async () => {
    const { jobs, clock } = await startJobs('web');
    const ran: string[] = [];
    jobs.work('contract.suspend', async (payload) => {
      ran.push(payload.contractId);
    });
    const a = randomUUID();
    const b = randomUUID();
    await jobs.send('contract.suspend', { contractId: a }, { startAfter: later(clock, 30 * DAY) });
    advance(clock, 180 * DAY);
    // Sent after the jump: due one day after the new "now", not at once.
    await jobs.send('contract.suspend', { contractId: b }, { startAfter: later(clock, DAY) });
    expect(await jobs.drain()).toBe(1);
    expect(ran).toEqual([a]);
    advance(clock, DAY - 60_000);
    expect(await jobs.drain()).toBe(0);
    advance(clock, 2 * 60_000);
    expect(await jobs.drain()).toBe(1);
    expect(ran).toEqual([a, b]);
  });

  it('after a restart with a fresh clock, waiting jobs keep their distance in real time', async () => {
    const before = await startJobs('web');
    advance(before.clock, 180 * DAY);
    const soon = randomUUID();
    const now = randomUUID();
    await before.jobs.send('contract.suspend', { contractId: soon }, { startAfter: later(before.clock, 60_000) });
    await before.jobs.send('contract.suspend', { contractId: now });
    await before.jobs.stop();

    const { jobs, clock } = await startJobs('web');
    const ran: string[] = [];
    jobs.work('contract.suspend', async (payload) => {
      ran.push(payload.contractId);
    });
    expect(await jobs.drain()).toBe(1);
    expect(ran).toEqual([now]);
    advance(clock, 2 * 60_000);
    expect(await jobs.drain()).toBe(1);
    expect(ran).toEqual([now, soon]);
  });

  it('a failure counts as run and is retried per its policy only when due again, also after a jump', async () => {
    const { jobs, clock } = await startJobs('web');
    advance(clock, 200 * DAY);
    let attempts = 0;
    jobs.work('sync.historical', async (_payload, job) => {
      attempts++;
      expect(job.attempt).toBe(attempts);
      if (attempts < 3) throw new Error('provider unavailable');
    });
    const id = (await jobs.send('sync.historical', { authorizationId: randomUUID() }))!;

    expect(await jobs.drain()).toBe(1);
    expect(await jobState(id)).toMatchObject({ state: 'retry', retry_count: 0 });
    // The back-off (30 s doubling, with jitter) has not passed by the product clock.
    expect(await jobs.drain()).toBe(0);
    advance(clock, 10 * 60_000);
    expect(await jobs.drain()).toBe(1);
    expect(await jobs.drain()).toBe(0);
    advance(clock, 10 * 60_000);
    expect(await jobs.drain()).toBe(1);
    expect(attempts).toBe(3);
    expect((await jobState(id))?.state).toBe('completed');
  });

  it('gives up after the retry limit and marks the job failed', async () => {
    const { jobs, clock } = await startJobs('web');
    let attempts = 0;
    jobs.work('candidate.backfill', async () => {
      attempts++;
      throw new Error('always broken');
    });
    const id = (await jobs.send('candidate.backfill', backfill(), { retryLimit: 2, retryDelaySeconds: 60, retryBackoff: false }))!;
    let ran = 0;
    for (let i = 0; i < 5; i++) {
      ran += await jobs.drain();
      advance(clock, 2 * 60_000);
    }
    expect(ran).toBe(3);
    expect(attempts).toBe(3);
    expect((await jobState(id))?.state).toBe('failed');
  });

  it('RetryLaterError re-enqueues the job for the given time without using up a retry', async () => {
    const { jobs, clock } = await startJobs('web');
    const until = later(clock, 2 * HOUR);
    const attempts: number[] = [];
    jobs.work('sync.mailbox', async (_payload, job) => {
      attempts.push(job.attempt);
      if (clock.now() < until) throw new RetryLaterError(until, 'Retry-After');
    });
    await jobs.send('sync.mailbox', { authorizationId: randomUUID(), trigger: 'poll' }, { singletonKey: 'mbx', retryLimit: 0 });
    expect(await jobs.drain()).toBe(1);
    expect(await jobs.drain()).toBe(0);
    // The deferred job keeps its singleton key: a new send for the mailbox is not queued twice.
    expect(await jobs.send('sync.mailbox', { authorizationId: randomUUID(), trigger: 'poll' }, { singletonKey: 'mbx' })).toBeNull();
    advance(clock, HOUR);
    expect(await jobs.drain()).toBe(0);
    advance(clock, HOUR + 1000);
    expect(await jobs.drain()).toBe(1);
    expect(attempts).toEqual([1, 1]);
    const { rows } = await database.raw.query<{ state: string }>("SELECT state FROM pgboss.job WHERE name = 'sync.mailbox' ORDER BY created_on");
    expect(rows.map((r) => r.state)).toEqual(['completed', 'completed']);
  });

  it('a run deferred by RetryLaterError gives up its slot: a worker of one slot runs the other mailboxes meanwhile', async () => {
    const { jobs, clock } = await startJobs('all');
    const until = later(clock, HOUR);
    const waiting = randomUUID();
    const order: string[] = [];
    jobs.work(
      'sync.historical',
      async ({ authorizationId }) => {
        order.push(authorizationId);
        // This mailbox's quota is spent until `until`: the run ends and comes back then.
        if (authorizationId === waiting && clock.now() < until) throw new RetryLaterError(until, 'quota window');
      },
      { concurrency: 1 },
    );
    await jobs.send('sync.historical', { authorizationId: waiting }, { singletonKey: `sync.historical:${waiting}` });
    await eventually(() => order.length === 1, 'the first run');
    const others = [randomUUID(), randomUUID(), randomUUID()];
    for (const id of others) await jobs.send('sync.historical', { authorizationId: id }, { singletonKey: `sync.historical:${id}` });
    // The one slot runs every other mailbox while the first waits for its quota.
    await eventually(() => others.every((id) => order.includes(id)), 'the other mailboxes to run');
    expect(order.filter((id) => id === waiting)).toHaveLength(1);
    advance(clock, HOUR + 1000);
    await eventually(() => order.filter((id) => id === waiting).length === 2, 'the deferred run to come back');
    expect(order).toEqual([waiting, ...others, waiting]);
    const { rows } = await database.raw.query<{ state: string; deferred: string | null }>(
      "SELECT state, output->>'deferredTo' AS deferred FROM pgboss.job WHERE name = 'sync.historical' AND data->>'authorizationId' = $1 ORDER BY created_on",
      [waiting],
    );
    expect(rows).toEqual([
      { state: 'completed', deferred: until.toISOString() },
      { state: 'completed', deferred: null },
    ]);
  });

  it('a recurring schedule fires once per interval by the product clock', async () => {
    const { jobs, clock } = await startJobs('web');
    let runs = 0;
    jobs.work('retention.purge', async () => {
      runs++;
    });
    await jobs.schedule('inactivity-purge', { seconds: 24 * 3600 }, 'retention.purge', {});
    expect(await jobs.drain()).toBe(0);
    advance(clock, 12 * HOUR);
    expect(await jobs.drain()).toBe(0);
    advance(clock, 12 * HOUR + 1000);
    expect(await jobs.drain()).toBe(1);
    expect(await jobs.drain()).toBe(0);
    // Registering again (every start does) keeps the schedule's phase.
    await jobs.schedule('inactivity-purge', { seconds: 24 * 3600 }, 'retention.purge', {});
    advance(clock, 23 * HOUR);
    expect(await jobs.drain()).toBe(0);
    advance(clock, HOUR);
    expect(await jobs.drain()).toBe(1);
    // Six months at once: one run covers them, then the schedule continues from "now".
    advance(clock, 183 * DAY);
    expect(await jobs.drain()).toBe(1);
    expect(await jobs.drain()).toBe(0);
    advance(clock, DAY);
    expect(await jobs.drain()).toBe(1);
    expect(runs).toBe(4);

    await jobs.unschedule('inactivity-purge');
    advance(clock, 3 * DAY);
    expect(await jobs.drain()).toBe(0);
  });

  it('cron schedules follow the product clock', async () => {
    const { jobs, clock } = await startJobs('web');
    const start = new Date(Date.UTC(2031, 0, 1, 10, 0, 0));
    clock.set(start);
    let runs = 0;
    jobs.work('subscriptions.renew', async () => {
      runs++;
    });
    await jobs.schedule('renew-nightly', { cron: '30 3 * * *' }, 'subscriptions.renew', {});
    clock.set(new Date(Date.UTC(2031, 0, 2, 3, 29)));
    expect(await jobs.drain()).toBe(0);
    clock.set(new Date(Date.UTC(2031, 0, 2, 3, 30, 5)));
    expect(await jobs.drain()).toBe(1);
    clock.set(new Date(Date.UTC(2031, 0, 3, 3, 0)));
    expect(await jobs.drain()).toBe(0);
    clock.set(new Date(Date.UTC(2031, 0, 3, 3, 31)));
    expect(await jobs.drain()).toBe(1);
    expect(runs).toBe(2);
  });

  it('several processes ticking the same schedule enqueue each run once', async () => {
    const clock = new AdjustableClock();
    const instances = await Promise.all([startJobs('web', clock), startJobs('web', clock), startJobs('web', clock)]);
    const [first] = instances;
    await first.jobs.schedule('renew', { seconds: 600 }, 'subscriptions.renew', {});
    advance(clock, 11 * 60_000);
    const enqueued = await Promise.all(instances.map(({ jobs }) => jobs.runDueSchedules()));
    expect(enqueued.reduce((a, b) => a + b, 0)).toBe(1);
    const { rows } = await database.raw.query("SELECT id FROM pgboss.job WHERE name = 'subscriptions.renew'");
    expect(rows).toHaveLength(1);
  });

  it('background workers follow a jump of the product clock without a drain', async () => {
    const { jobs, clock } = await startJobs('worker');
    const ran: string[] = [];
    jobs.work('contract.suspend', async (payload) => {
      ran.push(payload.contractId);
    });
    const contractId = randomUUID();
    await jobs.send('contract.suspend', { contractId }, { startAfter: later(clock, 7 * DAY) });
    advance(clock, 8 * DAY);
    await eventually(() => ran.length === 1, 'the worker to run the job');
    expect(ran).toEqual([contractId]);
  });

  it('the web role only sends: its handlers run through drain, not in the background', async () => {
    const { jobs } = await startJobs('web');
    let runs = 0;
    jobs.work('tokens.revoke', async () => {
      runs++;
    });
    const id = (await jobs.send('tokens.revoke', {}))!;
    // Several poll intervals of a worker.
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(runs).toBe(0);
    expect((await jobState(id))?.state).toBe('created');
    expect(await jobs.drain()).toBe(1);
    expect(runs).toBe(1);
  });

  it('logs queues and job ids, never payloads', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const clock = new AdjustableClock();
    const jobs = createJobs({ database, clock, logger: pino({ level: 'debug' }, sink) });
    running.push(jobs);
    await jobs.start({ role: 'web' });
    jobs.work('candidate.backfill', async () => {
      throw new Error('provider said no');
    });
    const payload = backfill();
    const id = (await jobs.send('candidate.backfill', payload))!;
    expect(await jobs.drain()).toBe(1);
    const log = lines.join('');
    expect(log).toContain(id);
    expect(log).toContain('provider said no');
    expect(log).not.toContain(payload.candidateId);
    expect(log).not.toContain(payload.contractId);
  });

  it('sends inside a transaction only when it commits', async () => {
    const { jobs } = await startJobs('web');
    await database.db.transaction().execute(async (trx) => {
      await jobs.send('contract.suspend', { contractId: randomUUID() }, { transaction: trx });
    });
    await expect(
      database.db.transaction().execute(async (trx) => {
        await jobs.send('contract.suspend', { contractId: randomUUID() }, { transaction: trx });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const { rows } = await database.raw.query("SELECT id FROM pgboss.job WHERE name = 'contract.suspend'");
    expect(rows).toHaveLength(1);
  });
});
