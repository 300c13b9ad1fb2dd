/**
 * Figure 6 of DESIGN.md "Performance": scale-out on one Postgres server.
 *
 * Throughput: the historical syncs of many seats (half Gmail, half Microsoft 365, each its own company and
 * generated mailbox) run by 1 and then by 2 worker processes — `recruiter-sync serve --role worker`, real child
 * processes sharing the job queue — from the moment the jobs are enqueued until every seat is incremental.
 *
 * Memory per idle seat: one worker process (the same runtime, see worker-child.ts) holding connected idle grants
 * whose poll schedules have each run once; its memory after a full garbage collection with half of them and with
 * all of them, the difference divided by the second half's count.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulators } from '../sim/server.ts';
import { systemClock } from '../src/clock.ts';
import { TokenCipher } from '../src/crypto/token-cipher.ts';
import { createJobs } from '../src/jobs/index.ts';
import { runHistoricalSync } from '../src/sync/engine.ts';
import { pollScheduleName, POLL_SECONDS } from '../src/sync/workers.ts';
import type { Database } from '../src/store/database.ts';
import { createCompany } from '../test/helpers/fixtures.ts';
import { companyMailbox, connectCompany, connectSeat, controlOf, loadMailbox, openBenchDatabase, postgresReachable, startWorld, type BenchContext, type Provider } from './world.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function workerEnv(databaseUrl: string, simUrl: string, key: Buffer): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TOKEN_ENCRYPTION_KEY: key.toString('base64'),
    GOOGLE_API_BASE_URL: `${simUrl}/google`,
    MICROSOFT_API_BASE_URL: `${simUrl}/microsoft`,
    GOOGLE_CLIENT_ID: 'recruiter-sync-local',
    GOOGLE_CLIENT_SECRET: 'local-secret',
    MICROSOFT_CLIENT_ID: 'recruiter-sync-local',
    MICROSOFT_CLIENT_SECRET: 'local-secret',
    LOG_LEVEL: 'warn',
    PORT: '0',
  };
}

/** `recruiter-sync serve --role worker`, resolved once it says it is running. */
export async function startWorker(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.resolve('bin/recruiter-sync.js'), 'serve', '--role', 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  await new Promise<void>((resolve, reject) => {
    let said = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      if (said.includes('worker running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${said.slice(-500)}`)));
  });
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timeout);
}

/** Machine-wide CPU time from /proc/stat (Linux): busy and total, in clock ticks; null elsewhere. */
export function machineCpu(): { busy: number; total: number } | null {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** CPU seconds a child process has used so far (/proc/<pid>/stat utime + stime, 100 ticks a second). */
export function processCpuSeconds(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, diagnose?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${diagnose ? `: ${await diagnose()}` : ''}`);
    await sleep(200);
  }
}

export async function benchScaleOut(context: BenchContext): Promise<void> {
  const postgres = await postgresReachable();
  if (!postgres.ok) {
    console.log(`scaleOut: skipped (${postgres.reason})`);
    return;
  }
  // The simulators' clock follows real time here: the worker processes run on the system clock.
  const sim = await startSimulators({ port: 0, host: '127.0.0.1' });
  try {
    await throughput(context, sim);
    await idleSeatMemory(context, sim);
  } finally {
    await sim.close();
  }
}

type SimServer = Awaited<ReturnType<typeof startSimulators>>;

async function throughput({ full, report }: BenchContext, sim: SimServer): Promise<void> {
  const control = controlOf(sim.url);
  const seatCount = full ? 32 : 6;
  const size = full ? 2_000 : 600;
  const now = new Date();
  const mailboxes = Array.from({ length: seatCount }, (_, i) => ({ provider: (i % 2 === 0 ? 'google' : 'microsoft') as Provider, ...companyMailbox('scale', size, now, { seed: `scale-${i}`, candidateShare: 0.2 }) }));
  for (const m of mailboxes) await loadMailbox(sim.state, m.provider, m);
  const rates: Record<number, number> = {};
  const cpuPerMessage: Record<number, number> = {};
  for (const workers of [1, 2]) {
    const key = randomBytes(32);
    const database = await openBenchDatabase('postgres');
    const world = await startWorld(database, sim.url, undefined, { cipher: new TokenCipher(key) });
    const children: ChildProcess[] = [];
    const jobs = createJobs({ database, clock: systemClock });
    try {
      const grants: string[] = [];
      for (const m of mailboxes) grants.push((await connectCompany(world, control, m.provider, m)).authorizationId);
      const env = workerEnv(database.connectionString!, sim.url, key);
      for (let i = 0; i < workers; i++) children.push(await startWorker(env));
      await jobs.start({ role: 'web' });
      const started = performance.now();
      const cpuBefore = machineCpu();
      const ownBefore = process.cpuUsage();
      const workersBefore = children.map((c) => processCpuSeconds(c.pid));
      for (const authorizationId of grants) await jobs.send('sync.historical', { authorizationId }, { singletonKey: `sync.historical:${authorizationId}` });
      const states = () => database.db.selectFrom('sync_states').select(['phase', 'messages_examined', 'messages_ingested', 'last_error']).execute();
      // Samples of (messages ingested so far, worker CPU so far) while the syncs run: the counters are kept as
      // each batch is written, so the CPU of a steady stretch can be told apart from each process's warm-up.
      const samples: { ingested: number; cpu: number }[] = [];
      await waitUntil(
        'every historical sync',
        async () => {
          const now = await states();
          const cpu = children.reduce((sum, c, i) => sum + processCpuSeconds(c.pid) - workersBefore[i]!, 0);
          samples.push({ ingested: now.reduce((sum, st) => sum + st.messages_ingested, 0), cpu });
          return now.filter((st) => st.phase === 'incremental').length === grants.length;
        },
        15 * 60_000,
        async () => JSON.stringify(await states()),
      );
      const seconds = (performance.now() - started) / 1000;
      const cpuAfter = machineCpu();
      const own = process.cpuUsage(ownBefore);
      const workerSeconds = children.reduce((sum, c, i) => sum + processCpuSeconds(c.pid) - workersBefore[i]!, 0);
      const busy = cpuBefore && cpuAfter ? (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total) : NaN;
      const cpu = `machine CPU ${(busy * 100).toFixed(0)} % busy; CPU time: worker${workers > 1 ? 's' : ''} ${workerSeconds.toFixed(1)} s, simulators (this process) ${((own.user + own.system) / 1e6).toFixed(1)} s`;
      const done = await states();
      const examined = done.reduce((sum, s) => sum + s.messages_examined, 0);
      const ingested = done.reduce((sum, s) => sum + s.messages_ingested, 0);
      rates[workers] = ingested / seconds;
      const note = `${seatCount} seats (half Gmail, half Microsoft 365) of ${size.toLocaleString('en')} messages each, 20 % candidate mail; ${ingested.toLocaleString('en')} ingested of ${examined.toLocaleString('en')} examined in ${seconds.toFixed(1)} s`;
      report(`scaleOut.workers${workers}.ingested`, ingested / seconds, 'messages/s', note);
      report(`scaleOut.workers${workers}.examined`, examined / seconds, 'messages/s', cpu);
      // CPU time of the worker processes (user + system, /proc/<pid>/stat) per message: what the work costs,
      // whatever else the machine's two cores were doing meanwhile.
      report(`scaleOut.workers${workers}.cpuPerIngested`, (workerSeconds * 1e6) / ingested, 'µs', `worker CPU time (user + system) per ingested message over the whole run, each process's warm-up included; ${((workerSeconds * 1e6) / examined).toFixed(0)} µs per examined message`);
      // The steady stretch: from a quarter to nine tenths of the messages ingested, past the processes' warm-up
      // (code compiled on first use, connections opened) and before the last syncs' tail, when slots go idle.
      const from = samples.find((x) => x.ingested >= ingested * 0.25);
      const to = samples.find((x) => x.ingested >= ingested * 0.9);
      if (from && to && to.ingested > from.ingested) {
        cpuPerMessage[workers] = ((to.cpu - from.cpu) * 1e6) / (to.ingested - from.ingested);
        report(`scaleOut.workers${workers}.cpuPerIngestedSteady`, cpuPerMessage[workers], 'µs', `worker CPU time per ingested message from 25 % to 90 % of the messages ingested (${(to.ingested - from.ingested).toLocaleString('en')} messages, ${(to.cpu - from.cpu).toFixed(1)} s of CPU)`);
      }
    } finally {
      for (const child of children) await stopProcess(child);
      await jobs.stop();
      await world.close();
      await database.close();
    }
  }
  if (rates[1] && rates[2]) report('scaleOut.speedup', rates[2] / rates[1], '×', '2 worker processes against 1, on a 2-core machine that also runs Postgres and the simulators');
  if (cpuPerMessage[1] && cpuPerMessage[2]) {
    report('scaleOut.cpuEfficiency', cpuPerMessage[1] / cpuPerMessage[2], '×', `worker CPU per ingested message in the steady stretch with 1 process against with 2 (1 = no CPU lost to running side by side; target ≥ 0.9): ${cpuPerMessage[1].toFixed(0)} and ${cpuPerMessage[2].toFixed(0)} µs`);
  }
}

/** A worker child that answers memory questions (bench/worker-child.ts, with --expose-gc). */
async function startMemoryWorker(env: NodeJS.ProcessEnv) {
  const child = fork(path.resolve('bench/worker-child.ts'), [], { env, execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  child.stdout!.resume();
  child.stderr!.resume();
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`memory worker exited with ${code}`)));
  });
  const memory = () =>
    new Promise<{ rss: number; heapUsed: number; external: number }>((resolve) => {
      child.once('message', (m) => resolve(m as { rss: number; heapUsed: number; external: number }));
      child.send({ type: 'memory' });
    });
  return { child, memory };
}

async function idleSeatMemory({ full, report }: BenchContext, sim: SimServer): Promise<void> {
  const control = controlOf(sim.url);
  const idle = full ? 1_000 : 120;
  const warm = 4;
  const key = randomBytes(32);
  const database = await openBenchDatabase('postgres');
  const world = await startWorld(database, sim.url, undefined, { cipher: new TokenCipher(key) });
  const jobs = createJobs({ database, clock: systemClock });
  let worker: Awaited<ReturnType<typeof startMemoryWorker>> | undefined;
  try {
    // Idle grants: half Gmail, half Microsoft 365, each a recruiter's seat of one of two companies, historical sync done.
    const byProvider: string[][] = [];
    for (const provider of ['google', 'microsoft'] as const) {
      const grants: string[] = [];
      byProvider.push(grants);
      const domain = `idle-${provider}-${randomBytes(3).toString('hex')}.test`;
      const c = await createCompany(world.api, `Idle ${provider}`, domain);
      await control('POST', '/_sim/tenants', { provider, domain });
      await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: provider, emailAccess: 'view' });
      const connect = async (i: number) => {
        const address = `recruiter${i}@${domain}`;
        await control('POST', '/_sim/mailboxes', { provider, address });
        const user = await c.json('POST', `/api/v1/contracts/${c.contract.id}/users`, { email: address, name: `Recruiter ${i}`, role: 'recruiter' });
        const seat = await c.json('POST', `/api/v1/contracts/${c.contract.id}/seats`, { userId: user.id });
        const id = await connectSeat(world.api, { seatId: seat.id, userId: user.id, token: c.contractToken, address });
        const outcome = await runHistoricalSync(world.deps, id);
        if (outcome !== 'completed') throw new Error(`historical sync of an idle seat ended ${outcome}`);
        return id;
      };
      const count = (idle + warm) / 2;
      for (let i = 0; i < count; i += 8) grants.push(...(await Promise.all(Array.from({ length: Math.min(8, count - i) }, (_, j) => connect(i + j)))));
    }
    const [gmail, graph] = byProvider as [string[], string[]];
    const warmed = [...gmail.slice(0, warm / 2), ...graph.slice(0, warm / 2)];
    const gmailRest = gmail.slice(warm / 2);
    const graphRest = graph.slice(warm / 2);
    const k = Math.floor(gmailRest.length / 2);
    const firstHalf = [...gmailRest.slice(0, k), ...graphRest.slice(0, k)];
    const secondHalf = [...gmailRest.slice(k), ...graphRest.slice(k)];
    await jobs.start({ role: 'web' });
    worker = await startMemoryWorker(workerEnv(database.connectionString!, sim.url, key));

    /** Gives these grants their poll schedule, due now, and waits until each has been polled once. */
    const pollOnce = async (ids: string[]) => {
      const since = new Date();
      for (const authorizationId of ids) await jobs.schedule(pollScheduleName(authorizationId), { seconds: POLL_SECONDS }, 'sync.mailbox', { authorizationId, trigger: 'poll' });
      await database.raw.query('UPDATE job_schedules SET next_run_at = $1 WHERE name = ANY($2)', [since.toISOString(), ids.map(pollScheduleName)]);
      await waitUntil(
        `${ids.length} polls`,
        async () => {
          const row = await database.db.selectFrom('sync_states').select((eb) => eb.fn.countAll<string>().as('n')).where('authorization_id', 'in', ids).where('last_synced_at', '>=', since).executeTakeFirstOrThrow();
          return Number(row.n) === ids.length;
        },
        10 * 60_000,
      );
      await sleep(1000);
    };
    // A few seats of each provider polled first, so that the code paths of a poll are loaded before any reading.
    await pollOnce(warmed);
    // Memory after the first half of the idle seats, then after the second half: the difference is what the second
    // half adds, with the process in the same state (past its start-up) at both readings.
    const reading = async () => {
      const samples = [await worker!.memory(), await worker!.memory()];
      await sleep(1000);
      samples.push(await worker!.memory());
      return { rss: Math.min(...samples.map((m) => m.rss)), held: Math.min(...samples.map((m) => m.heapUsed + m.external)) };
    };
    const afterWarm = await reading();
    await pollOnce(firstHalf);
    const middle = await reading();
    const cpuBefore = processCpuSeconds(worker.child.pid);
    await pollOnce(secondHalf);
    const pollCpu = processCpuSeconds(worker.child.pid) - cpuBefore;
    const end = await reading();
    const n = secondHalf.length;
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    const counts = `${warm}, ${warm + firstHalf.length} and ${warm + idle} seats`;
    report('scaleOut.memoryPerIdleSeat.rss', (end.rss - middle.rss) / n / 1024, 'KiB', `one worker process, RSS after a full GC with ${counts} (each connected, idle, polled once on its ${POLL_SECONDS} s schedule): ${mib(afterWarm.rss)}, ${mib(middle.rss)}, ${mib(end.rss)} MiB; it moves by megabytes as the allocator keeps or returns pages`);
    report('scaleOut.memoryPerIdleSeat.heap', (end.held - middle.held) / n / 1024, 'KiB', `V8 heap and external memory in use after a full GC with ${counts}: ${mib(afterWarm.held)}, ${mib(middle.held)}, ${mib(end.held)} MiB`);
    report('scaleOut.workerRss', end.rss / 2 ** 20, 'MiB', `one worker process holding ${warm + idle} idle seats`);
    report('scaleOut.cpuPerIdlePoll', (pollCpu * 1000) / n, 'ms', `worker CPU time (user + system) per poll of an idle seat (no new mail), over the second half's ${n} polls`);
  } finally {
    if (worker) await stopProcess(worker.child);
    await jobs.stop();
    await world.close();
    await closeQuietly(database);
  }
}

async function closeQuietly(database: Database): Promise<void> {
  try {
    await database.close();
  } catch (error) {
    console.log(`scaleOut: could not drop the scratch database: ${(error as Error).message}`);
  }
}
