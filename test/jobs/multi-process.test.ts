import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { createScratchDatabase, serverUrl } from '../helpers/databases.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const JOBS = 200;

/** Starts a worker process and resolves once it reports that it polls the queue. */
async function startWorker(url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'worker-process.ts'), url], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready: ${stderr}`)));
  });
  return child;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

describe.skipIf(!serverUrl)('two worker processes on postgres', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let database: Database;
  let jobs: Jobs;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    database = await openDatabase({ url: scratch.url, poolSize: 3 });
    await migrateToLatest(database);
    await database.raw.exec(`
      CREATE TABLE job_runs (job_id uuid PRIMARY KEY, pid int NOT NULL);
      CREATE TABLE job_attempts (job_id uuid NOT NULL, pid int NOT NULL);
    `);
    // This process only sends, like a web process.
    jobs = createJobs({ database, clock: systemClock });
    await jobs.start({ role: 'web' });
  });

  afterAll(async () => {
    await Promise.all(workers.map(stopWorker));
    await jobs?.stop();
    await database?.close();
    await scratch?.drop();
  });

  it('split a batch of jobs between them, none run twice', async () => {
    workers.push(...(await Promise.all([startWorker(scratch.url), startWorker(scratch.url)])));
    const ids = new Set<string>();
    for (let i = 0; i < JOBS; i++) {
      const id = await jobs.send('candidate.backfill', { contractId: randomUUID(), candidateId: randomUUID() });
      ids.add(id!);
    }
    expect(ids.size).toBe(JOBS);

    const completed = async () =>
      Number(
        (await database.raw.query<{ n: number }>("SELECT count(*) AS n FROM pgboss.job WHERE name = 'candidate.backfill' AND state = 'completed'"))
          .rows[0]!.n,
      );
    for (let i = 0; i < 300 && (await completed()) < JOBS; i++) await new Promise((resolve) => setTimeout(resolve, 50));

    const states = await database.raw.query<{ state: string; retry_count: number; n: number }>(
      "SELECT state, retry_count, count(*) AS n FROM pgboss.job WHERE name = 'candidate.backfill' GROUP BY 1, 2",
    );
    expect(states.rows.map((r) => ({ ...r, n: Number(r.n) }))).toEqual([{ state: 'completed', retry_count: 0, n: JOBS }]);

    const attempts = await database.raw.query<{ job_id: string; pid: number }>('SELECT job_id, pid FROM job_attempts');
    expect(attempts.rows).toHaveLength(JOBS);
    expect(new Set(attempts.rows.map((r) => r.job_id))).toEqual(ids);

    const perWorker = new Map<number, number>();
    for (const row of attempts.rows) perWorker.set(row.pid, (perWorker.get(row.pid) ?? 0) + 1);
    expect([...perWorker.keys()].sort()).toEqual(workers.map((w) => w.pid!).sort());
  });
});
