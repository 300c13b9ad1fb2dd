/**
 * A worker process for the multi-process queue test: `node --import tsx test/jobs/worker-process.ts <url>`.
 * It works `candidate.backfill` jobs, recording each run with its pid, prints "ready" once it polls, and
 * stops cleanly when its stdin closes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../src/clock.ts';
import { createJobs } from '../../src/jobs/index.ts';
import { openDatabase } from '../../src/store/database.ts';

const url = process.argv[2];
if (!url) throw new Error('usage: worker-process.ts <postgres url>');

const database = await openDatabase({ url, poolSize: 3 });
const jobs = createJobs({ database, clock: systemClock, pollIntervalMs: 50 });
jobs.work(
  'candidate.backfill',
  async (_payload, job) => {
    // Every run is recorded; job_runs' primary key would also refuse a second run of the same job.
    await database.raw.query('INSERT INTO job_attempts (job_id, pid) VALUES ($1, $2)', [job.id, process.pid]);
    await database.raw.query('INSERT INTO job_runs (job_id, pid) VALUES ($1, $2)', [job.id, process.pid]);
    await sleep(10);
  },
  { batchSize: 4, concurrency: 2 },
);
await jobs.start({ role: 'worker' });
process.stdout.write('ready\n');

process.stdin.resume();
process.stdin.on('end', () => {
  void (async () => {
    await jobs.stop();
    await database.close();
    process.exit(0);
  })();
});
