import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../logging.ts';
import type { Database } from '../store/database.ts';
import type { DB } from '../store/schema.ts';
import { rawSqlBossDb, transactionBossDb, type BossDb } from './boss-db.ts';
import { BOSS_SCHEMA, QueueClock } from './queue-clock.ts';
import { QUEUES, QUEUE_NAMES, UnknownQueueError, isQueueName, parsePayload, type Payload, type QueueName } from './queues.ts';
import { parseRecurrence, recurrence, type Every } from './schedules.ts';

export { QUEUES, QUEUE_NAMES, type Payload, type QueueName } from './queues.ts';
export type { Every } from './schedules.ts';

export type JobsRole = 'web' | 'worker' | 'all';

export interface JobContext<Q extends QueueName = QueueName> {
  id: string;
  queue: Q;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
}

export type JobHandler<Q extends QueueName> = (payload: Payload<Q>, job: JobContext<Q>) => Promise<void>;

export interface SendOptions {
  /**
   * At most one job with this key waits in the queue: a send while one is waiting (not yet started) is
   * dropped and returns null. A job that is running does not block a new one.
   */
  singletonKey?: string;
  /** Not before this instant by the product clock. */
  startAfter?: Date;
  retryLimit?: number;
  retryDelaySeconds?: number;
  retryBackoff?: boolean;
  expireInSeconds?: number;
  priority?: number;
  /** Enqueue inside this transaction: the job exists only if the transaction commits. */
  transaction?: Kysely<DB>;
}

export interface WorkOptions {
  /** Jobs claimed per fetch. */
  batchSize?: number;
  /** Fetch loops run in parallel in this process (each runs its batch one job at a time). */
  concurrency?: number;
  /**
   * How often an idle loop looks for jobs sent by other processes (a send in this process wakes it at once); the
   * queue's default otherwise. Short for queues whose jobs someone waits for (a push notification's sync).
   */
  pollIntervalMs?: number;
}

/**
 * Thrown by a handler that must not run again before `at` (a provider's Retry-After, a quota window).
 * The run ends without using up a retry, and the job is enqueued again for `at` by the product clock.
 */
export class RetryLaterError extends Error {
  constructor(
    readonly at: Date,
    reason = 'retry later',
  ) {
    super(reason);
    this.name = 'RetryLaterError';
  }
}

export interface Jobs {
  start(options: { role: JobsRole }): Promise<void>;
  send<Q extends QueueName>(queue: Q, payload: Payload<Q>, options?: SendOptions): Promise<string | null>;
  work<Q extends QueueName>(queue: Q, handler: JobHandler<Q>, options?: WorkOptions): void;
  /** A recurring job, due by the product clock. Registering again with the same name updates it. */
  schedule<Q extends QueueName>(name: string, every: Every, queue: Q, payload: Payload<Q>): Promise<void>;
  unschedule(name: string): Promise<void>;
  /** Enqueues the recurring jobs that are due by the product clock; returns how many were enqueued. */
  runDueSchedules(): Promise<number>;
  /**
   * Runs in this process every job that is due by the product clock — including jobs those jobs enqueue —
   * until none is left, and returns the number run (failures included).
   */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

export interface CreateJobsOptions {
  database: Database;
  clock: Clock;
  logger?: Logger | undefined;
  /** Idle workers look for new jobs this often (a send in the same process wakes them at once). */
  pollIntervalMs?: number;
  /** How often the worker role enqueues due recurring jobs and checks the product clock. */
  tickIntervalMs?: number;
  /** Follow a product clock that may jump (test mode); defaults to true for any clock but the system clock. */
  followClock?: boolean;
}

interface Registration<Q extends QueueName = QueueName> {
  queue: Q;
  handler: JobHandler<Q>;
  batchSize: number;
  concurrency: number;
  pollIntervalMs: number | undefined;
}

interface FetchedJob {
  id: string;
  data: unknown;
  retryCount: number;
}

const DRAIN_LIMIT = 100_000;
/**
 * Postgres channel a send announces its queue on (`pg_notify`, delivered at commit), so that worker processes
 * waiting for work pick up a job sent by another process at once instead of at their next poll.
 */
export const WAKE_CHANNEL = 'recruiter_sync_jobs';
const ERROR_MESSAGE_LIMIT = 500;

type JobsLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
const noopLogger: JobsLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export function createJobs(options: CreateJobsOptions): Jobs {
  return new PgBossJobs(options);
}

class PgBossJobs implements Jobs {
  private readonly database: Database;
  private readonly clock: Clock;
  private readonly log: JobsLogger;
  private readonly pollIntervalMs: number;
  private readonly tickIntervalMs: number;
  private readonly queueClock: QueueClock;
  private boss: PgBoss | undefined;
  private role: JobsRole | undefined;
  private stopping = false;
  private readonly registrations = new Map<QueueName, Registration>();
  private readonly loops: Promise<void>[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly sleepers = new Map<QueueName, Set<() => void>>();
  private tickTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** The LISTEN connection of a working process on Postgres (polling remains the fallback without it). */
  private listener: pg.Client | undefined;

  constructor(options: CreateJobsOptions) {
    this.database = options.database;
    this.clock = options.clock;
    this.log = options.logger ? options.logger.child({ component: 'jobs' }) : noopLogger;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.tickIntervalMs = options.tickIntervalMs ?? 5000;
    this.queueClock = new QueueClock(options.database.raw, options.clock, options.followClock ?? options.clock !== systemClock);
  }

  async start({ role }: { role: JobsRole }): Promise<void> {
    if (this.boss) throw new Error('the job queue is already started');
    const works = role !== 'web';
    const common = {
      schema: BOSS_SCHEMA,
      // Recurring jobs are ours (job_schedules), due by the product clock, not pg-boss's cron.
      schedule: false,
      // Maintenance (expiring runs that outlived expireIn, archiving) belongs to processes that work.
      supervise: works,
      migrate: true,
    };
    const boss =
      this.database.backend === 'pglite'
        ? new PgBoss({ ...common, db: rawSqlBossDb(this.database.raw) })
        : new PgBoss({ ...common, connectionString: this.requireConnectionString(), max: 4, application_name: 'recruiter-sync-jobs' });
    boss.on('error', (error: Error) => this.log.error({ err: { message: error.message } }, 'job queue error'));
    await boss.start();
    // pg-boss drops jobs sent to a queue that does not exist: every queue exists before the first send.
    for (const queue of QUEUE_NAMES) {
      const policy = QUEUES[queue].policy;
      const settings = {
        name: queue,
        // `short`: one waiting job per singleton key; keyless sends get a unique key (see send()).
        policy: 'short' as const,
        retryLimit: policy.retryLimit,
        retryDelay: policy.retryDelaySeconds,
        retryBackoff: policy.retryBackoff,
        expireInSeconds: policy.expireInSeconds,
      };
      await boss.createQueue(queue, settings);
      await boss.updateQueue(queue, settings);
    }
    this.boss = boss;
    this.role = role;
    await this.queueClock.load();
    if (works) {
      await this.listen();
      for (const registration of this.registrations.values()) this.startLoops(registration);
      this.scheduleTick();
    }
    this.log.info({ role, backend: this.database.backend }, 'job queue started');
  }

  private requireConnectionString(): string {
    if (!this.database.connectionString) throw new Error('a Postgres database without a connection string');
    return this.database.connectionString;
  }

  private requireBoss(): PgBoss {
    if (!this.boss || this.stopping) throw new Error('the job queue is not running');
    return this.boss;
  }

  async send<Q extends QueueName>(queue: Q, payload: Payload<Q>, options: SendOptions = {}): Promise<string | null> {
    const boss = this.requireBoss();
    const data = parsePayload(queue, payload) as object;
    let startAfter: Date | undefined;
    if (options.startAfter) {
      await this.queueClock.sync();
      startAfter = this.queueClock.toQueueTime(options.startAfter);
    }
    const db: BossDb | undefined = options.transaction ? transactionBossDb(options.transaction) : undefined;
    const id = await boss.send(queue, data, {
      // The queues use the `short` policy, whose unique index also covers keyless jobs: a unique key
      // keeps a keyless job from colliding with another.
      singletonKey: options.singletonKey ?? `job:${randomUUID()}`,
      ...(startAfter ? { startAfter } : {}),
      ...(options.retryLimit !== undefined ? { retryLimit: options.retryLimit } : {}),
      ...(options.retryDelaySeconds !== undefined ? { retryDelay: options.retryDelaySeconds } : {}),
      ...(options.retryBackoff !== undefined ? { retryBackoff: options.retryBackoff } : {}),
      ...(options.expireInSeconds !== undefined ? { expireInSeconds: options.expireInSeconds } : {}),
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(db ? { db } : {}),
    });
    if (id) {
      this.log.debug({ queue, jobId: id, startAfter: options.startAfter?.toISOString() }, 'job enqueued');
      // Inside a transaction the announcement is part of it; otherwise the send does not wait for it.
      if (!options.startAfter) {
        if (options.transaction) await this.announce(queue, options.transaction);
        else void this.announce(queue);
      }
      if (!options.transaction && !options.startAfter) this.wake(queue);
    } else {
      this.log.debug({ queue, singletonKey: options.singletonKey }, 'job not enqueued: one with this key is waiting');
    }
    return id;
  }

  work<Q extends QueueName>(queue: Q, handler: JobHandler<Q>, options: WorkOptions = {}): void {
    if (!isQueueName(queue)) throw new UnknownQueueError(queue);
    if (this.registrations.has(queue)) throw new Error(`a handler for ${queue} is already registered`);
    const registration: Registration<Q> = {
      queue,
      handler,
      batchSize: Math.max(1, Math.floor(options.batchSize ?? 1)),
      concurrency: Math.max(1, Math.floor(options.concurrency ?? 1)),
      pollIntervalMs: options.pollIntervalMs,
    };
    this.registrations.set(queue, registration as unknown as Registration);
    // The web role only sends; its handlers run only through drain() (test mode).
    if (this.boss && this.role !== 'web') this.startLoops(registration as unknown as Registration);
  }

  async schedule<Q extends QueueName>(name: string, every: Every, queue: Q, payload: Payload<Q>): Promise<void> {
    if (!isQueueName(queue)) throw new UnknownQueueError(queue);
    const data = parsePayload(queue, payload);
    const rule = recurrence(every);
    const now = this.clock.now();
    await this.database.raw.query(
      `INSERT INTO job_schedules (name, queue, payload, every, next_run_at, updated_at)
       VALUES ($1, $2, $3::jsonb, $4, $5::timestamptz, $6::timestamptz)
       ON CONFLICT (name) DO UPDATE SET
         queue = EXCLUDED.queue,
         payload = EXCLUDED.payload,
         -- re-registering at every start keeps the schedule's phase unless the recurrence changed
         next_run_at = CASE WHEN job_schedules.every = EXCLUDED.every THEN job_schedules.next_run_at ELSE EXCLUDED.next_run_at END,
         every = EXCLUDED.every,
         updated_at = EXCLUDED.updated_at`,
      [name, queue, JSON.stringify(data), rule.text, rule.first(now).toISOString(), now.toISOString()],
    );
  }

  async unschedule(name: string): Promise<void> {
    await this.database.raw.query('DELETE FROM job_schedules WHERE name = $1', [name]);
  }

  async runDueSchedules(): Promise<number> {
    const boss = this.requireBoss();
    const now = this.clock.now();
    const { rows } = await this.database.raw.query<{ name: string; queue: string; payload: unknown; every: string; next_run_at: Date | string }>(
      'SELECT name, queue, payload, every, next_run_at FROM job_schedules WHERE next_run_at <= $1::timestamptz ORDER BY next_run_at',
      [now.toISOString()],
    );
    let enqueued = 0;
    for (const row of rows) {
      const due = new Date(row.next_run_at);
      if (!isQueueName(row.queue)) {
        this.log.error({ schedule: row.name, queue: row.queue }, 'schedule names an unknown queue');
        continue;
      }
      const queue = row.queue;
      const next = parseRecurrence(row.every).following(due, now);
      // Claiming the run and enqueueing it commit together: however many processes tick at once, a run is
      // enqueued exactly once. The schedule's singleton key also keeps runs from piling up behind a late one.
      const sent = await this.database.db.transaction().execute(async (trx) => {
        const claimed = await sql<{ name: string }>`
          UPDATE job_schedules SET next_run_at = ${next.toISOString()}::timestamptz, last_run_at = ${now.toISOString()}::timestamptz
          WHERE name = ${row.name} AND next_run_at = ${due.toISOString()}::timestamptz
          RETURNING name`.execute(trx);
        if (claimed.rows.length === 0) return false;
        const id = await boss.send(queue, parsePayload(queue, row.payload) as object, {
          singletonKey: `schedule:${row.name}`,
          db: transactionBossDb(trx),
        });
        if (id) await this.announce(queue, trx);
        return true;
      });
      if (sent) {
        enqueued++;
        this.log.info({ schedule: row.name, queue, due: due.toISOString(), next: next.toISOString() }, 'recurring job enqueued');
        this.wake(queue);
      }
    }
    return enqueued;
  }

  async drain(): Promise<number> {
    const boss = this.requireBoss();
    let ran = 0;
    for (;;) {
      await this.queueClock.sync();
      await this.runDueSchedules();
      const queues = [...this.registrations.keys()];
      if (queues.length > 0) await this.queueClock.releaseDue(queues);
      let fetched = 0;
      for (const registration of this.registrations.values()) {
        const jobs = await this.fetch(boss, registration.queue, 50);
        fetched += jobs.length;
        for (const job of jobs) {
          await this.run(boss, registration, job);
          ran++;
        }
      }
      if (fetched > 0) {
        if (ran >= DRAIN_LIMIT) {
          this.log.error({ ran }, 'drain stopped: jobs keep enqueueing jobs that are due at once');
          return ran;
        }
        continue;
      }
      // Jobs this process's workers are running may still enqueue follow-ups.
      if (this.inFlight.size > 0) {
        await Promise.allSettled([...this.inFlight]);
        continue;
      }
      return ran;
    }
  }

  async stop(): Promise<void> {
    if (!this.boss || this.stopping) return;
    this.stopping = true;
    if (this.tickTimer) clearTimeout(this.tickTimer);
    for (const sleepers of this.sleepers.values()) for (const wake of sleepers) wake();
    await Promise.allSettled(this.loops);
    await Promise.allSettled([...this.inFlight]);
    await this.ticking;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => {});
    await this.boss.stop({ graceful: true, close: true, wait: true, timeout: 5000 });
    this.boss = undefined;
    this.log.info('job queue stopped');
  }

  private async fetch(boss: PgBoss, queue: QueueName, batchSize: number): Promise<FetchedJob[]> {
    const jobs = await boss.fetch<unknown>(queue, { batchSize, includeMetadata: true });
    return jobs.map((job) => ({ id: job.id, data: job.data, retryCount: job.retryCount }));
  }

  private run(boss: PgBoss, registration: Registration, job: FetchedJob): Promise<void> {
    const execution = this.execute(boss, registration, job);
    this.inFlight.add(execution);
    return execution.finally(() => this.inFlight.delete(execution));
  }

  private async execute(boss: PgBoss, { queue, handler }: Registration, job: FetchedJob): Promise<void> {
    const context: JobContext = { id: job.id, queue, attempt: job.retryCount + 1 };
    const started = performance.now();
    try {
      const payload = parsePayload(queue, job.data);
      await handler(payload as never, context);
    } catch (error) {
      let failure = describeError(error);
      if (error instanceof RetryLaterError) {
        try {
          await this.defer(boss, queue, job, error.at);
          this.log.info({ queue, jobId: job.id, attempt: context.attempt, at: error.at.toISOString(), reason: error.message }, 'job deferred');
          return;
        } catch (deferError) {
          // Could not re-enqueue: fail the run instead, so the retry policy brings it back.
          failure = describeError(deferError);
        }
      }
      try {
        await boss.fail(queue, job.id, failure);
      } catch (failError) {
        this.log.error({ queue, jobId: job.id, err: describeError(failError) }, 'could not record a job failure');
      }
      this.log.warn({ queue, jobId: job.id, attempt: context.attempt, err: failure }, 'job failed');
      return;
    }
    try {
      await boss.complete(queue, job.id);
    } catch (error) {
      this.log.error({ queue, jobId: job.id, err: describeError(error) }, 'could not record a job completion');
      return;
    }
    this.log.debug({ queue, jobId: job.id, attempt: context.attempt, ms: Math.round(performance.now() - started) }, 'job completed');
  }

  /** Ends this run and enqueues the same payload for `at`, atomically, without using up a retry. */
  private async defer(boss: PgBoss, queue: QueueName, job: FetchedJob, at: Date): Promise<void> {
    await this.queueClock.sync();
    const startAfter = this.queueClock.toQueueTime(at);
    const { rows } = await this.database.raw.query<{ singleton_key: string | null }>(
      `SELECT singleton_key FROM ${BOSS_SCHEMA}.job WHERE name = $1 AND id = $2`,
      [queue, job.id],
    );
    const key = rows[0]?.singleton_key;
    await this.database.db.transaction().execute(async (trx) => {
      const db = transactionBossDb(trx);
      await boss.complete(queue, job.id, { deferredTo: at.toISOString() }, { db });
      await boss.send(queue, job.data as object, {
        singletonKey: key && !key.startsWith('job:') ? key : `job:${randomUUID()}`,
        startAfter,
        db,
      });
    });
  }

  private startLoops(registration: Registration): void {
    for (let i = 0; i < registration.concurrency; i++) this.loops.push(this.loop(registration));
  }

  private async loop(registration: Registration): Promise<void> {
    while (!this.stopping && this.boss) {
      let jobs: FetchedJob[] = [];
      try {
        jobs = await this.fetch(this.boss, registration.queue, registration.batchSize);
      } catch (error) {
        this.log.error({ queue: registration.queue, err: describeError(error) }, 'could not fetch jobs');
      }
      if (jobs.length === 0) {
        await this.sleep(registration.queue, registration.pollIntervalMs);
        continue;
      }
      for (const job of jobs) {
        if (!this.boss) break;
        try {
          await this.run(this.boss, registration, job);
        } catch (error) {
          this.log.error({ queue: registration.queue, jobId: job.id, err: describeError(error) }, 'job run failed unexpectedly');
        }
      }
    }
  }

  private sleep(queue: QueueName, pollIntervalMs = this.pollIntervalMs): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      let sleepers = this.sleepers.get(queue);
      if (!sleepers) this.sleepers.set(queue, (sleepers = new Set()));
      const set = sleepers;
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, pollIntervalMs);
      set.add(wake);
    });
  }

  private wake(queue: QueueName): void {
    const sleepers = this.sleepers.get(queue);
    if (sleepers) for (const wake of [...sleepers]) wake();
  }

  /** One idle loop of the queue looks for work now (a job announced by another process is one job). */
  private wakeOne(queue: QueueName): void {
    const sleepers = this.sleepers.get(queue);
    const first = sleepers?.values().next();
    if (first && !first.done) first.value();
  }

  /**
   * Tells processes working `queue` that a job is due now (Postgres only; inside `transaction`, at its commit). A
   * failed announcement loses nothing: the job is found at the next poll.
   */
  private async announce(queue: QueueName, transaction?: Kysely<DB>): Promise<void> {
    if (this.database.backend !== 'postgres') return;
    if (transaction) {
      await sql`SELECT pg_notify(${WAKE_CHANNEL}, ${queue})`.execute(transaction);
      return;
    }
    try {
      await this.database.raw.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, queue]);
    } catch (error) {
      this.log.warn({ queue, err: describeError(error) }, 'could not announce a job; workers find it at their next poll');
    }
  }

  /** A working process on Postgres listens for announced jobs; without the connection it polls (and retries at each tick). */
  private async listen(): Promise<void> {
    if (this.database.backend !== 'postgres' || this.listener || this.stopping) return;
    const client = new pg.Client({ connectionString: this.requireConnectionString(), application_name: 'recruiter-sync-wake' });
    client.on('notification', (message) => {
      if (message.channel === WAKE_CHANNEL && message.payload && isQueueName(message.payload)) this.wakeOne(message.payload);
    });
    client.on('error', (error) => {
      this.log.warn({ err: describeError(error) }, 'job announcements lost; polling until reconnected');
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => {});
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${WAKE_CHANNEL}`);
      this.listener = client;
    } catch (error) {
      this.log.warn({ err: describeError(error) }, 'could not listen for job announcements; polling');
      await client.end().catch(() => {});
    }
  }

  private scheduleTick(): void {
    if (this.stopping) return;
    this.tickTimer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.scheduleTick();
      });
    }, this.tickIntervalMs);
  }

  private async tick(): Promise<void> {
    try {
      await this.listen();
      const moved = await this.queueClock.sync();
      if (moved !== 0) {
        this.log.info({ movedMs: moved }, 'product clock moved: waiting jobs follow it');
        for (const queue of this.registrations.keys()) this.wake(queue);
      }
      await this.runDueSchedules();
    } catch (error) {
      if (!this.stopping) this.log.error({ err: describeError(error) }, 'schedule tick failed');
    }
  }
}

/** What is kept of a failure: its kind and message, never a payload or a stack with values in it. */
function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message.slice(0, ERROR_MESSAGE_LIMIT) };
  return { name: 'Error', message: String(error).slice(0, ERROR_MESSAGE_LIMIT) };
}
