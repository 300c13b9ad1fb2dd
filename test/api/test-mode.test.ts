import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createJobs, type Jobs } from '../../src/jobs/index.ts';
import type { Database } from '../../src/store/database.ts';
import { registerWorkers } from '../../src/workers.ts';
import { startTestApi, type TestApi } from '../helpers/app.ts';
import { backends } from '../helpers/databases.ts';
import { createCompany, insertMessage } from '../helpers/fixtures.ts';

describe.each(backends)('test mode: clock and job drain on $name', (backend) => {
  let database: Database;
  let api: TestApi;
  let jobs: Jobs;
  beforeAll(async () => {
    database = await backend.open();
    let drain = async () => 0;
    api = await startTestApi(database, { drain: () => drain() });
    jobs = createJobs({ database, clock: api.clock });
    await jobs.start({ role: 'web' });
    await registerWorkers(jobs, { ...api.ctx, providers: api.providers, cipher: api.cipher, publicUrl: api.publicUrl }, pino({ level: 'silent' }));
    drain = () => jobs.drain();
  });
  afterAll(async () => {
    await api.close();
    await jobs.stop();
    await database.close();
  });

  it('moves the clock only forward', async () => {
    const now = (await api.app.inject({ method: 'GET', url: '/_test/clock' })).json().now;
    const later = new Date(Date.parse(now) + 86_400_000).toISOString();
    const set = await api.app.inject({ method: 'POST', url: '/_test/clock', payload: { now: later } });
    expect(set.statusCode).toBe(200);
    expect(Date.parse(set.json().now)).toBeGreaterThanOrEqual(Date.parse(later));
    const back = await api.app.inject({ method: 'POST', url: '/_test/clock', payload: { now } });
    expect([back.statusCode, back.json().error.code]).toEqual([400, 'validation_failed']);
  });

  it('R-24: after a jump of seven months the drain runs the purge, which removes the inactive thread and audits it', async () => {
    const c = await createCompany(api, 'Drain Co', 'drain.test');
    await c.json('PUT', `/api/v1/contracts/${c.contract.id}/settings`, { emailProvider: 'google', emailAccess: 'view' });
    const { threadId } = await insertMessage(api, { contractId: c.contract.id, seatId: c.seat.id, ownerUserId: c.recruiter.id, candidateId: c.candidate.id });
    // Nothing is due yet: the purge runs once a day and the thread is fresh.
    await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' });
    expect(await api.ctx.db.selectFrom('mail_threads').select('id').where('id', '=', threadId).execute()).toHaveLength(1);

    const jump = new Date(api.clock.now());
    jump.setUTCMonth(jump.getUTCMonth() + 7);
    await api.app.inject({ method: 'POST', url: '/_test/clock', payload: { now: jump.toISOString() } });
    const drained = await api.app.inject({ method: 'POST', url: '/_test/jobs/drain' });
    expect(drained.json().ran).toBeGreaterThanOrEqual(1);
    expect(await api.ctx.db.selectFrom('mail_threads').select('id').where('id', '=', threadId).execute()).toEqual([]);
    expect(await api.ctx.db.selectFrom('mail_messages').select('id').where('thread_id', '=', threadId).execute()).toEqual([]);
    const audit = await c.json('GET', `/api/v1/contracts/${c.contract.id}/audit?limit=5`);
    expect(audit.entries.map((e: { action: string }) => e.action)).toContain('mail.inactive_threads_purged');
  });
});
