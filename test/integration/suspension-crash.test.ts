import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { THIRD_PARTY_DATA_TABLES } from '../../src/services/suspension.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { decideBatch } from '../../src/sync/ingest/decide.ts';
import { ingestBatch, type IngestItem } from '../../src/sync/ingest/store.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { createScratchDatabase, serverUrl } from '../helpers/databases.ts';
import { decideContext, ingestCompany, mail } from '../sync/ingest/setup.ts';

const CHILD = path.resolve('test/integration/suspension-worker-child.ts');

function startWorker(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

// Generous: starting a worker process (tsx compiling the product) takes seconds on an idle machine, over a minute on a
// loaded one.
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * the deletion of a suspended contract survives a crash. A worker process is killed after its first batch;
 * the job it was running stays `active` in the queue, and a worker started afterwards queues the unfinished deletion
 * again and finishes it, with the receipt counting every row exactly once. Postgres only (two processes share the
 * database); skipped without TEST_DATABASE_URL.
 */
describe.skipIf(!serverUrl)('a suspension worker killed mid-deletion (postgres)', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let database: Database;
  let api: TestApi;
  let jobs: Jobs;
  const key = randomBytes(32);
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    database = await openDatabase({ url: scratch.url, poolSize: 4 });
    await migrateToLatest(database);
    const ref: { jobs?: Jobs } = {};
    api = await startTestApi(database, { cipher: new TokenCipher(key), jobs: { send: (...args) => ref.jobs!.send(...args) } });
    // This process only sends (web role): the workers are the child processes.
    jobs = ref.jobs = createJobs({ database, clock: api.clock });
    await jobs.start({ role: 'web' });
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await jobs?.stop();
    await api?.close();
    await database?.close();
    await scratch?.drop();
  });

  const rowsOf = async (table: string, contractId: string) =>
    (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE contract_id = ${contractId}`.execute(api.ctx.db)).rows[0]!.n;

  it('a restarted worker finishes the deletion, and the receipt counts every row once', async () => {
    const co = await ingestCompany(api, 'Crash Co', 'crash.test');
    const now = api.clock.now();
    const mails = await Promise.all(
      Array.from({ length: 9 }, (_, i) => mail({ id: `c-${i}`, thread: `T-${i % 3}`, from: 'carla@mail.example', to: 'rita@crash.test', date: new Date(now.getTime() - (10 - i) * 60_000) })),
    );
    const decisions = await decideBatch(api.ctx.db, co.mailbox.seatId, mails.map((m) => m.facts), await decideContext(api, co.mailbox, now));
    const items: IngestItem[] = mails.map((m, i) => ({ facts: m.facts, decision: decisions[i]!, raw: m.raw }));
    await ingestBatch(api.ctx.db, co.mailbox, items, now);
    const before: Record<string, number> = {};
    for (const { table, kind } of THIRD_PARTY_DATA_TABLES) before[kind] = (before[kind] ?? 0) + (await rowsOf(table, co.contract.id));
    expect(before).toMatchObject({ messages: 9, threads: 3, decisions: 9, authorizations: 1 });

    const env = { DATABASE_URL: scratch.url, TOKEN_KEY: key.toString('base64'), BATCH_SIZE: '2', CLOCK_OFFSET_MS: String(api.clock.now().getTime() - Date.now()) };
    // The first worker pauses a minute after each batch: it is killed during its first pause.
    const first = startWorker({ ...env, PAUSE_MS: '60000' });
    children.push(first.child);
    await waitFor(`the first worker (${first.output()})`, async () => first.output().includes('ready'));

    const res = await api.call('PATCH', `/api/v1/contracts/${co.contract.id}`, { body: { status: 'suspended' } });
    expect(res.statusCode, res.body).toBe(200);
    const receiptId: string = res.json().deletionReceipt.id;
    const receipt = () => api.ctx.db.selectFrom('contract_deletion_receipts').selectAll().where('id', '=', receiptId).executeTakeFirstOrThrow();
    await waitFor(`the first batch (${first.output()})`, async () => first.output().includes('batch '));
    first.child.kill('SIGKILL');
    await first.exited;

    const killed = await receipt();
    expect(killed.status).toBe('running');
    const countedAtKill = Object.values(killed.counts).reduce((a, b) => a + b, 0);
    expect(countedAtKill).toBe(2);
    expect(await rowsOf('mail_messages', co.contract.id)).toBeGreaterThan(0);
    // The killed run's job is still `active` in the queue; only a restart can pick the deletion up again.
    const active = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'contract.suspend' AND state = 'active'`.execute(api.ctx.db);
    expect(active.rows[0]!.n).toBe(1);

    const second = startWorker({ ...env, PAUSE_MS: '0' });
    children.push(second.child);
    await waitFor(`the deletion to finish (${second.output()})`, async () => (await receipt()).status === 'done');
    second.child.kill('SIGKILL');
    await second.exited;

    const done = await receipt();
    expect(done.counts).toEqual(before);
    for (const { table } of THIRD_PARTY_DATA_TABLES) expect(await rowsOf(table, co.contract.id), table).toBe(0);
    const entries = await api.ctx.db.selectFrom('audit_log').select('details').where('contract_id', '=', co.contract.id).where('action', '=', 'contract.suspended').execute();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.details).toMatchObject({ deletionReceipt: { id: receiptId, status: 'done', counts: before } });
  }, 600_000);
});
