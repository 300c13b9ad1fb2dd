import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import { createRng, oracle, type Rng } from '../../sim/generator/index.ts';
import type { GeneratedMailbox } from '../../sim/generator/index.ts';
import { startSimulators } from '../../sim/server.ts';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { BOSS_SCHEMA } from '../../src/jobs/queue-clock.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { scratchDatabaseOn } from '../helpers/databases.ts';
import { freePort, TEST_PUBSUB_TOPIC } from '../helpers/product.ts';
import { canonical, mailboxCompany, type MailboxCompany, type Provider, type World } from '../sync/helpers.ts';

/**
 * The permanent chaos test of R-26 ("nothing is lost and nothing is duplicated"): a Postgres database, the
 * simulators, one web process (the API, listening, with the provider webhooks; this process) and two worker
 * processes (test/chaos/worker.ts). A run connects a generated mailbox and, while its historical and incremental
 * syncs go on, follows a seeded schedule of provider faults, new mail, deletions and moves at the provider,
 * duplicated / reordered / dropped push notifications, worker processes killed with SIGKILL and restarted, and
 * jumps of the product clock. Then the faults stop, push is on, and once the grant is incremental and idle what
 * the owner sees through the API is compared with the oracle: nothing missing, duplicated or extra, deleted mail
 * gone. The same seed gives the same schedule (the product's own timing still varies from run to run).
 */

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.ts');
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The simulator faults the schedule injects (invalid_grant and http_400 end a grant or a job for good: not chaos R-26 promises to survive). */
export const CHAOS_FAULTS = ['http_429', 'http_500', 'http_503', 'timeout', 'reset', 'cursor_expired'] as const;
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

/** Request paths (literal pieces, sim/README.md) a fault is aimed at; `undefined` = the next request of any kind. */
const FAULT_PATHS: Record<Provider, Array<string | undefined>> = {
  google: [undefined, '/messages', '/history', '/batch', '/watch'],
  microsoft: [undefined, '/delta', '$skiptoken', '/messages/', '/subscriptions'],
};

export interface RunOptions {
  provider: Provider;
  seed: string;
  /** Mailbox size for the generator (`demo`, `tiny` or a message count). */
  size?: number | 'tiny' | 'demo';
  /** Events in the chaos phase. */
  steps?: number;
  /** How long the schedule may go on waiting for the incremental phase. */
  chaosMs?: number;
  /** Moves of synced mail to other folders at the provider (on by default). */
  moves?: boolean;
  /** How long convergence may take before the run fails. */
  convergeMs?: number;
}

export interface RunReport {
  provider: Provider;
  seed: string;
  ok: boolean;
  seconds: number;
  /** Faults injected by kind (each `count` requests), and how many of those requests met one. */
  faults: Record<string, number>;
  faultsMet: number;
  notifications: { duplicated: number; reordered: number; dropWindows: number };
  /** Seconds into the chaos phase when the grant was first incremental with its push channels up (null: never). */
  pushUpAfter: number | null;
  /** Events of the chaos phase that met the incremental sync with push up. */
  incrementalEvents: number;
  kills: number;
  clockJumps: number;
  delivered: number;
  deleted: number;
  moved: number;
  /** Messages the owner should see, compared with what the API shows. */
  compared: number;
  missing: string[];
  duplicated: string[];
  extra: string[];
  /** Of `extra`: mail deleted at the provider that the API still shows. */
  deletedStillVisible: string[];
  error?: string;
}

interface WorkerSlot {
  child: ChildProcess | null;
  exited: Promise<void>;
  output: string;
}

/** A Pub/Sub push endpoint of our own, on the same topic: the pushes it records are replayed to the product's webhook. */
interface Capture {
  url: string;
  pushes: Array<{ body: string; authorization: string; emailAddress: string; historyId: number }>;
  close(): Promise<void>;
}

async function startCapture(): Promise<Capture> {
  const pushes: Capture['pushes'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      try {
        const data = JSON.parse(Buffer.from(JSON.parse(body).message.data, 'base64').toString()) as { emailAddress: string; historyId: number };
        pushes.push({ body, authorization: String(req.headers.authorization ?? ''), emailAddress: data.emailAddress.toLowerCase(), historyId: Number(data.historyId) });
      } catch {
        // Not a Pub/Sub push: nothing to replay.
      }
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/push`, pushes, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export type ChaosWorld = Awaited<ReturnType<typeof startChaosWorld>>;

/** Whether a Postgres server answers at `url` (the chaos test needs one: its workers are other processes). */
export async function postgresReachable(url: string | undefined): Promise<boolean> {
  if (!url) return false;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startChaosWorld(options: { serverUrl: string; pageSize?: number; leaseMs?: number }) {
  const scratch = await scratchDatabaseOn(options.serverUrl, 'rs_chaos');
  const database: Database = await openDatabase({ url: scratch.url, poolSize: 6 });
  await migrateToLatest(database);
  const start = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
  const sim = await startSimulators({ port: 0, host: '127.0.0.1', now: start });
  const control = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${sim.url}${p}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  // The simulators' clock runs (quota windows and delta tokens age as they do in life); a hung request is dropped
  // after two seconds, so a timeout fault costs the run seconds, not half a minute.
  await control('POST', '/_sim/clock', { now: start.toISOString(), frozen: false });
  await control('PUT', '/_sim/limits', { provider: 'google', timeoutHangMs: 2000 });
  await control('PUT', '/_sim/microsoft/config', { faultHangMs: 2000 });

  const key = randomBytes(32);
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const ref: { jobs?: Jobs } = {};
  const api: TestApi = await startTestApi(database, {
    simulatorUrl: sim.url,
    cipher: new TokenCipher(key),
    publicUrl,
    push: { pubsubTopic: TEST_PUBSUB_TOPIC },
    jobs: { send: (...args) => ref.jobs!.send(...args) },
  });
  api.clock.set(start);
  await api.app.listen({ port, host: '127.0.0.1' });
  // The web role only sends jobs (the OAuth callback's sync, a notification's sync): the workers run them.
  ref.jobs = createJobs({ database, clock: api.clock });
  await ref.jobs.start({ role: 'web' });
  const webhook = `${publicUrl}/webhooks/google/pubsub`;
  await control('POST', '/_sim/google/pubsub-subscriptions', { topicName: TEST_PUBSUB_TOPIC, pushEndpoint: webhook });
  const capture = await startCapture();
  await control('POST', '/_sim/google/pubsub-subscriptions', { topicName: TEST_PUBSUB_TOPIC, pushEndpoint: capture.url, audience: webhook });

  const offset = () => api.clock.now().getTime() - Date.now();
  const env = {
    DATABASE_URL: scratch.url,
    SIM_URL: sim.url,
    TOKEN_KEY: key.toString('base64'),
    PUBLIC_URL: publicUrl,
    PUBSUB_TOPIC: TEST_PUBSUB_TOPIC,
    PAGE_SIZE: String(options.pageSize ?? 10),
    LEASE_MS: String(options.leaseMs ?? 2000),
  };
  const slots: WorkerSlot[] = [0, 1].map(() => ({ child: null, exited: Promise.resolve(), output: '' }));

  const spawnWorker = async (i: number): Promise<void> => {
    const slot = slots[i]!;
    if (slot.child) return;
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], { cwd: REPO, env: { ...process.env, ...env, CLOCK_OFFSET_MS: String(offset()) }, stdio: ['pipe', 'pipe', 'pipe'] });
    slot.child = child;
    slot.output = '';
    slot.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdin!.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${i} not ready in 60 s: ${slot.output}`)), 60_000);
      const seen = (d: Buffer) => {
        slot.output = (slot.output + d.toString()).slice(-4000);
        if (slot.output.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', seen);
      child.stderr!.on('data', seen);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (slot.child === child) slot.child = null;
        // Killed by the schedule while starting: that is chaos too, not a failure.
        if (signal === 'SIGKILL') resolve();
        else if (!slot.output.includes('ready')) reject(new Error(`worker ${i} exited (${code ?? signal}) before it was ready: ${slot.output}`));
      });
    });
  };
  const killWorker = async (i: number): Promise<boolean> => {
    const slot = slots[i]!;
    const child = slot.child;
    if (!child) return false;
    child.kill('SIGKILL');
    await slot.exited;
    return true;
  };
  /**
   * Moves the product clock forward in this process and in every live worker, and the simulators' clock with it: the
   * product and the providers share one time, as in life. (A provider behind the product refuses what the product
   * asks for by its own time: Graph takes no subscription expiring more than 7 days after Graph's now, so with the
   * product hours ahead no Graph subscription was ever created and no Graph notification was ever replayed.)
   */
  let simClock: Promise<unknown> = Promise.resolve();
  const advanceClock = (ms: number) => {
    api.clock.set(new Date(api.clock.now().getTime() + ms));
    for (const slot of slots) slot.child?.stdin!.write(`clock ${offset()}\n`);
    const now = api.clock.now().toISOString();
    simClock = simClock.then(() => control('POST', '/_sim/clock', { now, frozen: false })).catch(() => undefined);
  };

  await Promise.all([spawnWorker(0), spawnWorker(1)]);

  return {
    database,
    api,
    sim,
    control,
    capture,
    publicUrl,
    slots,
    spawnWorker,
    killWorker,
    advanceClock,
    close: async () => {
      for (let i = 0; i < slots.length; i++) await killWorker(i);
      await ref.jobs?.stop();
      await api.close();
      await capture.close();
      await sim.close();
      await database.close();
      await scratch.drop();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the schedule knows about one message it may delete or move. */
interface Known {
  providerId: string;
  rfc: string;
  label: string;
}

/**
 * One chaos run on a fresh contract and mailbox of `options.provider` in the world. Never throws for a product
 * failure: the report says what differed (a setup failure is reported as `error`).
 */
export async function chaosRun(world: ChaosWorld, options: RunOptions): Promise<RunReport> {
  const began = Date.now();
  const { provider, seed } = options;
  const rng: Rng = createRng(`chaos:${provider}:${seed}`);
  const report: RunReport = {
    provider,
    seed,
    ok: false,
    seconds: 0,
    faults: {},
    faultsMet: 0,
    notifications: { duplicated: 0, reordered: 0, dropWindows: 0 },
    pushUpAfter: null,
    incrementalEvents: 0,
    kills: 0,
    clockJumps: 0,
    delivered: 0,
    deleted: 0,
    moved: 0,
    compared: 0,
    missing: [],
    duplicated: [],
    extra: [],
    deletedStillVisible: [],
  };
  const pending: Array<Promise<unknown>> = [];
  let ticker: NodeJS.Timeout | undefined;
  let company: MailboxCompany | undefined;
  try {
    // The mailbox's dates are relative to the simulators' clock (the product's may have run ahead in earlier runs).
    const simNow = new Date((await world.control('GET', '/_sim/clock')).now);
    const now = new Date(Math.floor(simNow.getTime() / 60_000) * 60_000 - 60_000);
    const shim = { now, sim: world.sim, api: world.api, control: world.control } as unknown as World;
    const c = await mailboxCompany(shim, provider, options.size ?? 'demo', `chaos-${seed}`);
    company = c;
    // The product clock runs ahead, a poll interval every two seconds: polls come often (the fallback when push
    // is dropped, and what brings a killed run's scan back once its lease lapsed), Retry-After and job retry
    // back-offs pass quickly, access tokens age and are refreshed.
    ticker = setInterval(() => {
      world.advanceClock(61_000);
      report.clockJumps++;
    }, 2000);
    const box = `/_sim/mailboxes/${encodeURIComponent(c.address)}/messages`;
    const labels = new Map<string, string>();
    for (const m of c.generated.messages) labels.set(canonical(m.messageId), `${m.key} "${m.subject}"`);

    // The schedule's view of the mailbox: what may be deleted or moved, what it delivered, what it deleted.
    const baseScenario = { authorizedAt: c.grant.last_authorized_at, firstAuthorizedAt: c.grant.first_authorized_at };
    const base = oracle(c.generated, baseScenario);
    const deletedKeys = new Set<string>();
    const deletedRfc = new Set<string>();
    const deliveredExpected = new Set<string>();
    const movable: Known[] = c.generated.messages
      .filter((m) => base.get(m.key)!.ingested)
      .map((m) => ({ providerId: c.ids.get(m.key)!.id, rfc: canonical(m.messageId), label: m.key }));
    const fresh: Known[] = [];
    let n = 0;

    const deliver = async (kind: 'in' | 'out' | 'noise', tag: string) => {
      n++;
      const subject = `Chaos ${seed} ${tag} ${n}`;
      const body =
        kind === 'in'
          ? { from: 'Carla Candidate <carla@mail.example>', to: c.address, subject, text: `News ${n}`, threadKey: `chaos-${seed}-${n}` }
          : kind === 'out'
            ? { from: c.address, to: 'Carla Candidate <carla@mail.example>', subject, text: `Reply ${n}`, folder: 'sent', threadKey: `chaos-${seed}-${n}` }
            : { from: 'Updates <news@updates-chaos.example>', to: c.address, subject, text: `Newsletter ${n}` };
      const sent = (await world.control('POST', box, body)) as { id: string; messageId: string };
      const rfc = canonical(sent.messageId);
      labels.set(rfc, `delivered "${subject}"`);
      report.delivered++;
      if (kind !== 'noise') {
        // One-to-one with a pipeline candidate whose discovery is `anyone`: ingested (R-30…R-34 pass).
        deliveredExpected.add(rfc);
        fresh.push({ providerId: sent.id, rfc, label: subject });
      }
      return rfc;
    };

    /** Deleting this generated message leaves every other message's outcome as it was (R-36 activity unchanged). */
    const deletable = (key: string): boolean => {
      const without = { ...c.generated, messages: c.generated.messages.filter((m) => m.key !== key && !deletedKeys.has(m.key)) } as GeneratedMailbox;
      const after = oracle(without, baseScenario);
      return without.messages.every((m) => after.get(m.key)!.ingested === base.get(m.key)!.ingested);
    };

    const injectFault = async (incrementalWithPush: boolean) => {
      let fault: ChaosFault = rng.pick(CHAOS_FAULTS);
      // An expired cursor means something to the incremental sync only. One waiting from the historical phase turns
      // the first incremental run into another full resync (a few at once, into several): the incremental sync with
      // push up, where notifications are duplicated and reordered, was then hardly ever reached. So it is drawn only
      // once the grant is incremental with push up, one at a time.
      if (fault === 'cursor_expired' && !incrementalWithPush) fault = rng.pick(CHAOS_FAULTS.filter((f) => f !== 'cursor_expired'));
      // A few faults waiting at a time: the sync meets them between successful requests, as in life, instead of
      // a wall of them that nothing gets through.
      const waiting = ((await world.control('GET', '/_sim/faults')) as Array<{ provider: string }>).filter((f) => f.provider === provider).length;
      if (waiting >= 3) return;
      const count = fault === 'cursor_expired' ? 1 : rng.int(1, 3);
      const match = fault === 'cursor_expired' ? {} : (() => {
        const p = rng.pick(FAULT_PATHS[provider]);
        return p ? { path: p } : {};
      })();
      await world.control('POST', '/_sim/faults', { provider, match, fault, count, ...(fault === 'http_429' ? { retryAfterSeconds: rng.int(0, 3) } : {}) });
      report.faults[fault] = (report.faults[fault] ?? 0) + count;
    };

    const notifications = async (): Promise<Array<{ url: string; body: string; headers: Record<string, string> }>> => {
      if (provider === 'google') {
        return world.capture.pushes
          .filter((p) => p.emailAddress === c.address)
          .map((p) => ({ url: `${world.publicUrl}/webhooks/google/pubsub`, body: p.body, headers: { 'content-type': 'application/json', authorization: p.authorization } }));
      }
      const subs = ((await world.control('GET', '/_sim/microsoft/subscriptions')) as Array<{ id: string; address: string }>).filter((s) => s.address.toLowerCase() === c.address);
      const ids = new Set(subs.map((s) => s.id));
      const deliveries = (await world.control('GET', '/_sim/microsoft/deliveries')) as Array<{ subscriptionId: string; url: string; kind: string; payload: unknown }>;
      return deliveries.filter((d) => d.kind === 'change' && ids.has(d.subscriptionId)).map((d) => ({ url: d.url, body: JSON.stringify(d.payload), headers: { 'content-type': 'application/json' } }));
    };
    const replay = async (note: { url: string; body: string; headers: Record<string, string> }) => {
      await fetch(note.url, { method: 'POST', headers: note.headers, body: note.body }).then((r) => r.arrayBuffer());
    };

    // The schedule goes on past `steps` until as many events again have hit the incremental sync with its
    // push channels up (history / delta, notifications), for at most `chaosMs` in all.
    const steps = options.steps ?? 30;
    const chaosFrom = Date.now();
    const chaosUntil = chaosFrom + (options.chaosMs ?? 90_000);
    let incrementalEvents = 0;
    for (let step = 0; step < steps || (incrementalEvents < steps && Date.now() < chaosUntil); step++) {
      await sleep(rng.int(50, 500));
      const phase = await world.api.ctx.db.selectFrom('sync_states').select('phase').where('authorization_id', '=', c.grant.id).executeTakeFirst();
      const channel = await world.api.ctx.db.selectFrom('push_subscriptions').select('id').where('authorization_id', '=', c.grant.id).executeTakeFirst();
      const incrementalWithPush = phase?.phase === 'incremental' && channel !== undefined;
      if (incrementalWithPush) {
        incrementalEvents++;
        report.pushUpAfter ??= Math.round((Date.now() - chaosFrom) / 100) / 10;
      }
      const event = rng.weighted({ fault: 30, deliver: 20, delete: 10, move: options.moves === false ? 0 : 8, kill: 5, notify: 14, clock: 8 });
      switch (event) {
        case 'fault':
          await injectFault(incrementalWithPush);
          break;
        case 'deliver':
          await deliver(rng.weighted({ in: 5, out: 3, noise: 2 }), 'new');
          break;
        case 'delete': {
          const pool = [...movable.filter((m) => !deletedRfc.has(m.rfc)), ...fresh.filter((m) => !deletedRfc.has(m.rfc))];
          const target = pool.length ? rng.pick(pool) : undefined;
          if (!target) break;
          const generatedKey = c.generated.messages.find((m) => canonical(m.messageId) === target.rfc)?.key;
          if (generatedKey && !deletable(generatedKey)) break;
          const mode = rng.chance(0.6) ? 'trash' : 'permanent';
          await world.control('DELETE', `${box}/${encodeURIComponent(target.providerId)}?mode=${mode}`);
          labels.set(target.rfc, `${labels.get(target.rfc) ?? target.label} [deleted: ${mode}]`);
          if (generatedKey) deletedKeys.add(generatedKey);
          deletedRfc.add(target.rfc);
          report.deleted++;
          break;
        }
        case 'move': {
          // Filed away by the user: still the user's mail, neither deleted (R-37) nor spam (R-38).
          const pool = [...movable, ...fresh].filter((m) => !deletedRfc.has(m.rfc));
          const target = pool.length ? rng.pick(pool) : undefined;
          if (!target) break;
          // Sometimes back to the Inbox: a message filed away and taken out again.
          const folder = rng.pick(['archive', 'user:Hiring/Chaos', 'user:Hiring', 'inbox'] as const);
          await world.control('POST', `${box}/${encodeURIComponent(target.providerId)}/move`, { folder });
          labels.set(target.rfc, `${labels.get(target.rfc) ?? target.label} [moved to ${folder}]`);
          report.moved++;
          break;
        }
        case 'kill': {
          const i = rng.int(0, world.slots.length - 1);
          if (await world.killWorker(i)) {
            report.kills++;
            const after = rng.int(0, 1500);
            pending.push(sleep(after).then(() => world.spawnWorker(i)).catch(() => undefined));
          }
          break;
        }
        case 'notify': {
          const kind = rng.weighted({ duplicate: 4, reorder: 3, drop: 3 });
          if (kind === 'drop') {
            await world.control('PUT', '/_sim/push', { provider, enabled: false });
            report.notifications.dropWindows++;
            const windowMs = rng.int(300, 2000);
            pending.push(sleep(windowMs).then(() => world.control('PUT', '/_sim/push', { provider, enabled: true })).catch(() => undefined));
            break;
          }
          const notes = await notifications();
          if (kind === 'duplicate' && notes.length > 0) {
            const note = notes[notes.length - 1 - rng.int(0, Math.min(2, notes.length - 1))]!;
            await replay(note);
            await replay(note);
            report.notifications.duplicated++;
          } else if (kind === 'reorder' && notes.length > 1) {
            const [older, newer] = [notes[notes.length - 2]!, notes[notes.length - 1]!];
            await replay(newer);
            await replay(older);
            report.notifications.reordered++;
          }
          break;
        }
        case 'clock':
          // Past the poll interval: the fallback poll runs, and a dead run's scan is brought back.
          world.advanceClock(61_000);
          report.clockJumps++;
          break;
      }
    }

    report.incrementalEvents = incrementalEvents;
    if (process.env.CHAOS_DEBUG) {
      const db = world.api.ctx.db;
      const st = await db.selectFrom('sync_states').select(['phase', 'last_error']).where('authorization_id', '=', c.grant.id).executeTakeFirst();
      const subs = await db.selectFrom('push_subscriptions').select(['resource']).where('authorization_id', '=', c.grant.id).execute();
      const jobs = await sql<{ name: string; state: string; n: string }>`SELECT name, state, count(*) AS n, max(output::text) AS output, max(start_after) AS start_after, now() AS now FROM ${sql.table(`${BOSS_SCHEMA}.job`)}
        WHERE data->>'authorizationId' = ${c.grant.id} GROUP BY name, state ORDER BY name, state`.execute(db);
      process.stdout.write(`debug: after chaos ${JSON.stringify({ st, subs, jobs: jobs.rows, sim: await world.control('GET', '/_sim/microsoft/subscriptions').catch(() => null) })}\n`);
    }
    // Convergence: no more faults, push on, both workers up.
    await Promise.allSettled(pending);
    const remaining = (await world.control('GET', '/_sim/faults')) as Array<{ remaining: number; provider: string }>;
    const injected = Object.values(report.faults).reduce((a, b) => a + b, 0);
    report.faultsMet = injected - remaining.filter((f) => f.provider === provider).reduce((a, f) => a + f.remaining, 0);
    await world.control('DELETE', '/_sim/faults');
    await world.control('PUT', '/_sim/push', { provider, enabled: true });
    for (let i = 0; i < world.slots.length; i++) await world.spawnWorker(i);
    // Sentinels in both watched folders: once the API shows them, the cursor has passed every earlier change there.
    const sentinels = [await deliver('in', 'sentinel'), await deliver('out', 'sentinel')];

    const deadline = Date.now() + (options.convergeMs ?? 120_000);
    let diff: Diff | null = null;
    for (;;) {
      await sleep(250);
      if (await idle(world, c)) {
        const historical = await expectedHistorical(world, c);
        const expected = new Set([...historical, ...deliveredExpected].filter((id) => !deletedRfc.has(id)));
        const seen = await visibleThroughApi(world, c);
        if (sentinels.every((s) => seen.ids.includes(s))) {
          diff = compare(expected, seen, deletedRfc);
          report.compared = expected.size;
          if (diff.missing.length + diff.duplicated.length + diff.extra.length === 0) break;
        }
      }
      if (Date.now() > deadline) break;
    }
    if (!diff) {
      report.error = 'the grant never became incremental and idle with the sentinel mail visible';
    } else {
      const show = (ids: string[]) => ids.map((id) => `${id} ${labels.get(id) ?? ''}`.trim());
      report.missing = show(diff.missing);
      report.duplicated = show(diff.duplicated);
      report.extra = show(diff.extra);
      report.deletedStillVisible = show(diff.extra.filter((id) => deletedRfc.has(id)));
      report.ok = diff.missing.length + diff.duplicated.length + diff.extra.length === 0;
    }
  } catch (error) {
    report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
  } finally {
    clearInterval(ticker);
    await Promise.allSettled(pending);
    // The run's mailbox is disconnected (R-22): it stops syncing, so the next run's faults (aimed at a provider, not at
    // a mailbox) meet the next run's mailbox and not this one's polls and resyncs.
    if (company) {
      const res = await world.api.call('DELETE', `/api/v1/seats/${company.seat.id}/authorizations/email`, { token: company.contractToken, actAs: company.recruiter.id }).catch(() => null);
      if (res && res.statusCode >= 300) process.stderr.write(`chaos: disconnecting the run's mailbox answered ${res.statusCode} ${res.body}\n`);
    }
    // Leave the world clean for the next run.
    await world.control('DELETE', '/_sim/faults').catch(() => undefined);
    await world.control('PUT', '/_sim/push', { provider, enabled: true }).catch(() => undefined);
    for (let i = 0; i < world.slots.length; i++) await world.spawnWorker(i).catch(() => undefined);
    report.seconds = Math.round((Date.now() - began) / 100) / 10;
  }
  return report;
}

/** The grant's sync is incremental, no live run holds it, and no sync job of it waits. */
async function idle(world: ChaosWorld, c: MailboxCompany): Promise<boolean> {
  const db = world.api.ctx.db;
  const state = await db
    .selectFrom('sync_states')
    .select(['phase', sql<boolean>`run_lease_id IS NULL OR run_lease_until < clock_timestamp()`.as('free')])
    .where('authorization_id', '=', c.grant.id)
    .executeTakeFirst();
  if (!state || state.phase !== 'incremental' || !state.free) return false;
  const waiting = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(`${BOSS_SCHEMA}.job`)}
    WHERE name IN ('sync.mailbox', 'sync.historical', 'candidate.backfill') AND state IN ('created', 'retry') AND data->>'authorizationId' = ${c.grant.id}
      AND start_after <= now()`.execute(db);
  return Number(waiting.rows[0]!.n) === 0;
}

/** Message-IDs the oracle lets in from the generated mailbox, for the scan the product actually ran. */
async function expectedHistorical(world: ChaosWorld, c: MailboxCompany): Promise<Set<string>> {
  const state = await world.api.ctx.db.selectFrom('sync_states').select('historical_started_at').where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
  const expected = oracle(c.generated, { authorizedAt: c.grant.last_authorized_at, firstAuthorizedAt: c.grant.first_authorized_at, syncAt: state.historical_started_at ?? c.grant.last_authorized_at });
  return new Set(c.generated.messages.filter((m) => expected.get(m.key)?.ingested).map((m) => canonical(m.messageId)));
}

/** What the owner sees: every candidate's threads through the API, acting as the seat holder; their messages by Message-ID. */
async function visibleThroughApi(world: ChaosWorld, c: MailboxCompany): Promise<{ ids: string[] }> {
  const candidates = [c.candidate.id as string, ...c.candidateIds.values()];
  const productIds: string[] = [];
  for (const id of candidates) {
    const res = await world.api.call('GET', `/api/v1/candidates/${id}/messages`, { token: c.contractToken, actAs: c.recruiter.id });
    if (res.statusCode !== 200) throw new Error(`GET /api/v1/candidates/${id}/messages → ${res.statusCode} ${res.body}`);
    for (const thread of res.json() as Array<{ messages: Array<{ id: string; ownerSeatId: string }> }>) {
      for (const m of thread.messages) if (m.ownerSeatId === c.seat.id) productIds.push(m.id);
    }
  }
  if (productIds.length === 0) return { ids: [] };
  // The API names messages by the product's ids; the oracle by Message-ID.
  const rows = await world.api.ctx.db.selectFrom('mail_messages').select(['id', 'rfc_message_id']).where('id', 'in', productIds).execute();
  const rfc = new Map(rows.map((r) => [r.id, canonical(r.rfc_message_id)]));
  // Stored twice under two product ids counts as a duplicate even if the API showed only one.
  const stored = await world.api.ctx.db.selectFrom('mail_messages').select('rfc_message_id').where('owner_seat_id', '=', c.seat.id).execute();
  const storedIds = stored.map((r) => canonical(r.rfc_message_id));
  const twice = storedIds.filter((id, i) => storedIds.indexOf(id) !== i);
  return { ids: [...productIds.map((id) => rfc.get(id) ?? `product:${id}`), ...twice] };
}

interface Diff {
  missing: string[];
  duplicated: string[];
  extra: string[];
}

function compare(expected: Set<string>, seen: { ids: string[] }, _deleted: Set<string>): Diff {
  const counts = new Map<string, number>();
  for (const id of seen.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return {
    missing: [...expected].filter((id) => !counts.has(id)).sort(),
    duplicated: [...counts].filter(([, k]) => k > 1).map(([id]) => id).sort(),
    extra: [...counts.keys()].filter((id) => !expected.has(id)).sort(),
  };
}

/** One line per run, then the differences of a failed one (with its seed, for replay). */
export function formatReport(r: RunReport): string {
  const faults = CHAOS_FAULTS.map((k) => `${k}=${r.faults[k] ?? 0}`).join(' ');
  const lines = [
    `${r.ok ? 'ok  ' : 'FAIL'} ${r.provider} seed=${r.seed} ${r.seconds}s compared=${r.compared} faults[${faults}] met=${r.faultsMet} kills=${r.kills} ` +
      `notifications[dup=${r.notifications.duplicated} reorder=${r.notifications.reordered} dropped-windows=${r.notifications.dropWindows}] ` +
      `clock-jumps=${r.clockJumps} delivered=${r.delivered} deleted=${r.deleted} moved=${r.moved} push-up-after=${r.pushUpAfter ?? 'never'}s incremental-events=${r.incrementalEvents}`,
  ];
  if (!r.ok) {
    lines.push(`  replay: npm run test:chaos -- --provider ${r.provider} --seed ${r.seed} --runs 1`);
    if (r.error) lines.push(`  error: ${r.error}`);
    for (const [name, ids] of [['missing', r.missing], ['duplicated', r.duplicated], ['extra', r.extra], ['deleted but still visible', r.deletedStillVisible]] as const) {
      if (ids.length) lines.push(`  ${name} (${ids.length}): ${ids.join(', ')}`);
    }
  }
  return lines.join('\n');
}
