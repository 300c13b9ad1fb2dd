import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { registerSuspensionWorker, THIRD_PARTY_DATA_TABLES } from '../../src/services/suspension.ts';
import type { Database } from '../../src/store/database.ts';
import { decideBatch } from '../../src/sync/ingest/decide.ts';
import { ingestBatch, type IngestItem } from '../../src/sync/ingest/store.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { decideContext, ingestCompany, mail } from '../sync/ingest/setup.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * an ingest batch in flight when a suspension begins cannot leave rows behind. The batch holds the contract row
 * FOR SHARE inside its transaction and the suspension flips the status FOR UPDATE, so the suspension waits for the
 * batch to commit and the deletion job then removes what it wrote. (On PGlite, one connection serializes the two.)
 */
describe.each(backends)('an ingest batch in flight when a suspension begins, on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let jobs: Jobs;
  beforeAll(async () => {
    database = await backend.open();
    const ref: { jobs?: Jobs } = {};
    api = await startTestApi(database, { drain: () => ref.jobs!.drain(), jobs: { send: (...args) => ref.jobs!.send(...args) } });
    jobs = ref.jobs = createJobs({ database, clock: api.clock });
    await jobs.start({ role: 'web' });
    await registerSuspensionWorker(jobs, { ...api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl });
  });
  afterAll(async () => {
    await api.close();
    await jobs.stop();
    await database.close();
  });

  it('is waited for by the suspension, and its rows are deleted by the job', async () => {
    const co = await ingestCompany(api, 'Slow Co', 'slow.test');
    const now = api.clock.now();
    const mails = await Promise.all(
      ['slow-1', 'slow-2'].map((id, i) => mail({ id, thread: 'T-slow', from: 'carla@mail.example', to: 'rita@slow.test', date: new Date(now.getTime() - (2 - i) * 60_000) })),
    );
    const decisions = await decideBatch(api.ctx.db, co.mailbox.seatId, mails.map((m) => m.facts), await decideContext(api, co.mailbox, now));
    expect(decisions.every((d) => d.ingested)).toBe(true);
    const items: IngestItem[] = mails.map((m, i) => ({ facts: m.facts, decision: decisions[i]!, raw: m.raw }));

    // The batch passes its checks, then pauses inside its transaction until released.
    let entered!: () => void;
    let release!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batch = ingestBatch(api.ctx.db, co.mailbox, items, now, { insideTransaction: async () => { entered(); await gate; } });
    await inside;

    let answered = false;
    const patch = api.call('PATCH', `/api/v1/contracts/${co.contract.id}`, { body: { status: 'suspended' } }).then((res) => ((answered = true), res));
    // The deletion job runs as soon as the suspension is answered, while the batch may still be open.
    const deletion = patch.then(() => jobs.drain());
    await sleep(1000);
    expect(answered, 'the suspension waits for the batch in flight').toBe(false);
    release();
    const stored = await batch;
    expect(stored.outcomes.inserted).toBe(2);
    const res = await patch;
    expect(res.statusCode, res.body).toBe(200);
    await deletion;
    await jobs.drain();

    for (const { table } of THIRD_PARTY_DATA_TABLES) {
      const left = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE contract_id = ${co.contract.id}`.execute(api.ctx.db);
      expect(left.rows[0]!.n, table).toBe(0);
    }
    const receipt = await co.json('GET', `/api/v1/contracts/${co.contract.id}/deletion-receipts/${res.json().deletionReceipt.id}`);
    expect(receipt).toMatchObject({ status: 'done', counts: { messages: 2, threads: 1, decisions: 2, authorizations: 1 } });
  }, 120_000);
});
