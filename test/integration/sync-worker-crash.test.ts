import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenCipher } from '../../src/crypto/token-cipher.ts';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { startSyncForGrant } from '../../src/sync/workers.ts';
import { createScratchDatabase, serverUrl } from '../helpers/databases.ts';
import { expectedAfterHistorical, expectSameSet, mailboxCompany, startWorld, storedMessageIds, usageOf, type World } from '../sync/helpers.ts';

const CHILD = path.resolve('test/integration/sync-worker-child.ts');

function startWorker(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A worker process killed in the middle of a historical sync: another worker process takes the scan over
 * from the last page the first one stored, once the dead run's lease has lapsed, brought back by the grant's
 * poll. Postgres only (two processes share the database); skipped without TEST_DATABASE_URL.
 */
describe.skipIf(!serverUrl)('a sync worker killed mid-scan (microsoft, demo mailbox, postgres)', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let database: Database;
  let world: World;
  let jobs: Jobs;
  const key = randomBytes(32);
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    database = await openDatabase({ url: scratch.url, poolSize: 4 });
    await migrateToLatest(database);
    world = await startWorld(database, { cipher: new TokenCipher(key) });
    jobs = createJobs({ database, clock: world.api.clock });
    await jobs.start({ role: 'web' });
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await jobs?.stop();
    await world?.close();
    await database?.close();
    await scratch?.drop();
  });

  it('resumes in a new process from the last stored page, without loss or duplicates', async () => {
    const c = await mailboxCompany(world, 'microsoft', 'demo', 'worker-crash');
    const db = world.api.ctx.db;
    // The second page of the Inbox hangs: the worker has stored the first page and is waiting on the next.
    await world.control('PUT', '/_sim/microsoft/config', { faultHangMs: 30_000 });
    await world.control('POST', '/_sim/faults', { provider: 'microsoft', match: { path: '$skiptoken' }, fault: 'timeout', count: 1 });
    const env = { DATABASE_URL: scratch.url, SIM_URL: world.sim.url, TOKEN_KEY: key.toString('base64'), PAGE_SIZE: '25', LEASE_MS: '1500' };
    const offset = world.api.clock.now().getTime() - Date.now();

    const first = startWorker({ ...env, CLOCK_OFFSET_MS: String(offset) });
    children.push(first.child);
    await startSyncForGrant(world.api.ctx, jobs, c.grant.id);
    await waitFor(`the first page (${first.output()})`, async () => {
      const state = await db.selectFrom('sync_states').select(['checkpoint', 'messages_examined']).where('authorization_id', '=', c.grant.id).executeTakeFirst();
      return state !== undefined && state.checkpoint !== null && state.messages_examined > 0 && (await world.control('GET', '/_sim/faults')).length === 0;
    });
    first.child.kill('SIGKILL');
    await first.exited;

    const partial = await storedMessageIds(world, c);
    const killed = await db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
    expect(killed.phase).toBe('historical');
    expect(partial.size).toBeGreaterThan(0);
    expect(killed.run_lease_id).not.toBeNull();
    await world.control('PUT', '/_sim/microsoft/config', { faultHangMs: 20_000 });
    await world.control('DELETE', '/_sim/usage');

    // Two minutes later by the product clock a new worker starts: the grant's poll finds the scan unfinished and
    // its lease lapsed, and the scan goes on from its checkpoint.
    const second = startWorker({ ...env, CLOCK_OFFSET_MS: String(offset + 120_000), EXIT_WHEN_SYNCED: c.grant.id });
    children.push(second.child);
    const code = await Promise.race([second.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 90_000))]);
    expect(code, second.output()).toBe(0);

    const expected = await expectedAfterHistorical(world, c);
    expectSameSet(await storedMessageIds(world, c), expected);
    // The new process fetched the bodies the first had not stored, and none again.
    expect((await usageOf(world, 'microsoft', c.address)).bodiesServed).toBe(expected.size - partial.size);
    const done = await db.selectFrom('sync_states').selectAll().where('authorization_id', '=', c.grant.id).executeTakeFirstOrThrow();
    expect(done).toMatchObject({ phase: 'incremental', checkpoint: null, run_lease_id: null, messages_ingested: expected.size });
  }, 180_000);
});
