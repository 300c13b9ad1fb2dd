import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { createScratchDatabase, serverUrl } from '../helpers/databases.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A job sent by one process (a web process taking a push notification) is picked up by an idle worker process at
 * once, not at the worker's next poll: the send announces it on Postgres and the worker listens.
 */
describe.skipIf(!serverUrl)('a job sent by another process wakes an idle worker (postgres)', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let webDb: Database;
  let workerDb: Database;
  let web: Jobs;
  let worker: Jobs;
  const ran: Array<{ at: number }> = [];

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    webDb = await openDatabase({ url: scratch.url, poolSize: 3 });
    await migrateToLatest(webDb);
    workerDb = await openDatabase({ url: scratch.url, poolSize: 3 });
    web = createJobs({ database: webDb, clock: systemClock });
    await web.start({ role: 'web' });
    // Idle loops look for work only every minute: anything sooner is the announcement's doing.
    worker = createJobs({ database: workerDb, clock: systemClock, pollIntervalMs: 60_000, tickIntervalMs: 60_000 });
    worker.work('tokens.refresh', async () => {
      ran.push({ at: performance.now() });
    });
    await worker.start({ role: 'worker' });
    // The worker's loop has looked once and gone to sleep.
    await sleep(500);
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await web?.stop();
    await workerDb?.close();
    await webDb?.close();
    await scratch?.drop();
  });

  async function ranWithin(ms: number, count: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      if (ran.length >= count) return true;
      await sleep(20);
    }
    return ran.length >= count;
  }

  it('a plain send', async () => {
    const sent = performance.now();
    expect(await web.send('tokens.refresh', {})).toBeTruthy();
    expect(await ranWithin(5_000, 1)).toBe(true);
    expect(ran[0]!.at - sent).toBeLessThan(5_000);
  });

  it('a send inside a transaction, once it commits', async () => {
    await webDb.db.transaction().execute(async (trx) => {
      await web.send('tokens.refresh', {}, { transaction: trx });
      await sleep(300);
      // Not before the commit: the job does not exist yet.
      expect(ran.length).toBe(1);
    });
    expect(await ranWithin(5_000, 2)).toBe(true);
  });
});
